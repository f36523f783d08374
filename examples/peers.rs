//! paperscope's side of benches/peers (run by benches/peers/run.sh): on the vectors of a
//! `paperscope export --format jsonl --queries` directory, builds paperscope's HNSW graph (the
//! index's M / ef_construction, both cores) and answers every query vector exactly and at each
//! ef of the sweep (one thread, one query at a time, as a search does; queries/s in that
//! thread's CPU time); BM25 latency of the
//! index's own full-text search over the text queries. Prints one JSON document: timings and
//! every top-10, so that the Python side scores all engines against one ground truth.
//!
//! cargo run --release --example peers -- EXPORT_DIR INDEX_DIR QUERIES_TSV EF,EF,...

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use paperscope::Engine;
use paperscope::export::load_query_texts;
use paperscope::search::{Mode, SearchRequest};
use paperscope::vectors::{VectorIndex, VectorParams};
use serde_json::{Value, json};

/// Rounds of the BM25 queries, for a stable median.
const BM25_ROUNDS: usize = 20;

/// Seconds of CPU this thread has used: queries/s are counted in it, as peers.py does, because
/// the machine is shared and wall time would count the time another process held the core.
fn thread_cpu_s() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

fn read_vectors(path: &PathBuf) -> Result<Vec<Vec<f32>>> {
    let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut vectors = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let value: Value = serde_json::from_str(&line?)?;
        vectors.push(serde_json::from_value(value["vector"].clone())?);
    }
    Ok(vectors)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [export, index, bm25_queries, efs] = &args[..] else {
        anyhow::bail!("usage: peers EXPORT_DIR INDEX_DIR QUERIES_TSV EF,EF,...");
    };
    let export = PathBuf::from(export);
    let efs: Vec<usize> = efs.split(',').map(str::parse).collect::<Result<_, _>>()?;
    let vectors = read_vectors(&export.join("papers.jsonl"))?;
    let queries = read_vectors(&export.join("queries.jsonl"))?;
    let dims = vectors.first().map_or(0, Vec::len);
    let papers = vectors.len();

    let started = Instant::now();
    let params = VectorParams {
        exact_below: 0,
        ..VectorParams::default()
    };
    let mut graph = VectorIndex::build(dims, vectors, params, || {});
    let build_s = started.elapsed().as_secs_f64();

    let top10 = |graph: &VectorIndex, exact: bool| {
        let started = thread_cpu_s();
        let ids: Vec<Vec<u32>> = queries
            .iter()
            .map(|q| {
                let hits = if exact {
                    graph.search_exact(q, 10, None)
                } else {
                    graph.search(q, 10, None)
                };
                hits.into_iter().map(|(p, _)| p.0).collect()
            })
            .collect();
        let qps = queries.len() as f64 / (thread_cpu_s() - started);
        (ids, qps)
    };
    let (exact_ids, exact_qps) = top10(&graph, true);
    let mut sweep = Vec::new();
    for &ef in &efs {
        graph.set_ef_search(ef);
        let (ids, qps) = top10(&graph, false);
        sweep.push(json!({"ef": ef, "qps": qps, "ids": ids}));
    }

    let engine = Engine::open_with_words(index.as_ref())?;
    let texts = load_query_texts(bm25_queries.as_ref())?;
    let parsed: Vec<SearchRequest> = texts
        .iter()
        .map(|(_, q)| SearchRequest::new(q.as_str()).mode(Mode::Bm25))
        .collect();
    let mut bm25_ms = Vec::new();
    for _ in 0..BM25_ROUNDS {
        for query in &parsed {
            let started = Instant::now();
            std::hint::black_box(engine.rank(query)?);
            bm25_ms.push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    bm25_ms.sort_by(f64::total_cmp);
    let papers_by_number = engine.store().papers()?;
    let bm25_top: Vec<Vec<String>> = parsed
        .iter()
        .map(|q| {
            Ok(engine
                .rank(q)?
                .ranked
                .iter()
                .map(|r| papers_by_number[r.number.index()].arxiv_id.clone())
                .collect())
        })
        .collect::<paperscope::Result<_>>()?;

    let report = json!({
        "papers": papers,
        "dims": dims,
        "m": params.m,
        "ef_construction": params.ef_construction,
        "build_s": build_s,
        "exact_qps": exact_qps,
        "exact_ids": exact_ids,
        "sweep": sweep,
        "bm25_p50_ms": bm25_ms[bm25_ms.len() / 2],
        "bm25_mean_ms": bm25_ms.iter().sum::<f64>() / bm25_ms.len() as f64,
        "bm25_top": bm25_top,
    });
    println!("{report}");
    Ok(())
}
