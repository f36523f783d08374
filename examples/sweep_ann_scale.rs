//! The HNSW recall/speed curve on an index's own vectors: builds the graph with each M /
//! ef_construction of `ANN_CONFIGS` (default `16:200`) on every core, then answers query texts
//! (every 40th sample paper's English title or Chinese summary, alternately, embedded as a
//! search embeds them) at each ef of `EFS`; recall@10 is counted by score against exact search
//! (a hit reaches the exact 10th best's cosine), times in CPU seconds (the machine is shared).
//! Also writes `base.f32` and `queries.f32` into OUT_DIR so a peer (benches/peers/same_vectors.py)
//! runs on the very same vectors.
//!
//! cargo run --release --example sweep_ann_scale -- INDEX_VECTORS_DIR OUT_DIR
//! (INDEX_VECTORS_DIR: `gen-NNNNNN/vectors` of an index made with the static model, or an
//! earlier run's OUT_DIR: its `base.f32` and `queries.f32` are reused, nothing is embedded).
//! `PAPERS=N` keeps the first N vectors (a smaller collection from the same corpus);
//! `QUERIES=papers` asks with every 500th paper's own vector instead of the query texts (in
//! distribution: tells a graph that cannot reach far papers from queries unlike any paper).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use paperscope::embed::{Embedder, ModelKind};
use paperscope::vectors::{VectorIndex, VectorParams};
use paperscope::{ModelSource, PaperNumber};

fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

fn read_f32(path: &Path) -> anyhow::Result<Vec<f32>> {
    let bytes = std::fs::read(path).with_context(|| path.display().to_string())?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn write_f32(path: &Path, rows: &[Vec<f32>]) -> anyhow::Result<()> {
    let bytes: Vec<u8> = rows
        .iter()
        .flatten()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    std::fs::write(path, bytes).with_context(|| path.display().to_string())
}

fn query_texts() -> anyhow::Result<Vec<String>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digests");
    let files = paperscope::digest::digest_files(&[dir])?;
    let papers = paperscope::digest::load(&files, || {})?.papers;
    Ok(papers
        .iter()
        .step_by(40)
        .enumerate()
        .map(|(i, p)| match i % 2 {
            0 => p.title_en.clone(),
            _ => p.summary_zh.clone(),
        })
        .filter(|t| !t.trim().is_empty())
        .collect())
}

type Vectors = Vec<Vec<f32>>;

/// The collection's vectors and the query texts' vectors: from an earlier run's `base.f32` and
/// `queries.f32` when `dir` holds them, else from an index's `vectors.f32` and the sample's texts.
fn load_vectors(dir: &Path, dims: usize) -> anyhow::Result<(Vectors, Vectors)> {
    let rows = |flat: Vec<f32>| flat.chunks(dims).map(<[f32]>::to_vec).collect::<Vec<_>>();
    if dir.join("base.f32").is_file() {
        let base = rows(read_f32(&dir.join("base.f32"))?);
        return Ok((base, rows(read_f32(&dir.join("queries.f32"))?)));
    }
    let base = rows(read_f32(&dir.join("vectors.f32"))?);
    let embedder: Embedder = ModelSource::Shipped(ModelKind::Static).load()?;
    anyhow::ensure!(
        embedder.dims() == dims,
        "the static model's vectors are 256-dim"
    );
    let queries = query_texts()?
        .iter()
        .map(|t| embedder.embed_query(t))
        .collect();
    Ok((base, queries))
}

/// Recall@10 by score and the CPU µs per query of `search`.
fn measure(
    index: &VectorIndex,
    queries: &[Vec<f32>],
    exact: &[Vec<(PaperNumber, f32)>],
) -> (f64, f64) {
    let started = cpu_time();
    let found: Vec<_> = queries.iter().map(|q| index.search(q, 10, None)).collect();
    let us = (cpu_time() - started).as_secs_f64() * 1e6 / queries.len() as f64;
    let hits: usize = exact
        .iter()
        .zip(&found)
        .map(|(e, g)| {
            let tenth = e.last().map_or(f32::INFINITY, |h| h.1);
            g.iter().filter(|h| h.1 >= tenth - 1e-5).count()
        })
        .sum();
    (hits as f64 / (10 * queries.len()) as f64, us)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let [vectors_dir, out] = &args[..] else {
        anyhow::bail!("usage: sweep_ann_scale INDEX_VECTORS_DIR OUT_DIR");
    };
    std::fs::create_dir_all(out)?;
    let dims = 256;
    let (mut base, queries) = load_vectors(vectors_dir, dims)?;
    if let Some(papers) = std::env::var("PAPERS").ok().and_then(|n| n.parse().ok()) {
        base.truncate(papers);
    }
    let queries = match std::env::var("QUERIES").as_deref() {
        Ok("papers") => base.iter().step_by(500).cloned().collect(),
        _ => queries,
    };
    write_f32(&out.join("base.f32"), &base)?;
    write_f32(&out.join("queries.f32"), &queries)?;
    println!("{} vectors x {dims}, {} queries", base.len(), queries.len());
    let exact_index = VectorIndex::build(
        dims,
        base.clone(),
        VectorParams {
            exact_below: usize::MAX,
            ..VectorParams::default()
        },
        || {},
    );
    let started = cpu_time();
    let exact: Vec<_> = queries
        .iter()
        .map(|q| exact_index.search_exact(q, 10, None))
        .collect();
    let exact_us = (cpu_time() - started).as_secs_f64() * 1e6 / queries.len() as f64;
    println!("exact: {exact_us:.0} µs/query (CPU)");
    println!(
        "| M | ef_construction | build s (wall / CPU) | ef_search | recall@10 | µs/query (CPU) | speed-up vs exact |"
    );
    println!("|---|---|---|---|---|---|---|");
    let configs = std::env::var("ANN_CONFIGS").unwrap_or_else(|_| "16:200".into());
    let efs = std::env::var("EFS").unwrap_or_else(|_| "32,64,128,192,256,384,512".into());
    for config in configs.split(',') {
        let (m, ef_construction) = config
            .split_once(':')
            .and_then(|(m, e)| Some((m.parse().ok()?, e.parse().ok()?)))
            .with_context(|| format!("ANN_CONFIGS: M:EF_CONSTRUCTION,... not {config}"))?;
        let params = VectorParams {
            m,
            ef_construction,
            exact_below: 0,
            ..VectorParams::default()
        };
        let (wall, cpu) = (Instant::now(), cpu_time());
        let mut index = VectorIndex::build(dims, base.clone(), params, || {});
        let build = (
            wall.elapsed().as_secs_f64(),
            (cpu_time() - cpu).as_secs_f64(),
        );
        for ef in efs.split(',').map(str::parse::<usize>) {
            let ef = ef?;
            index.set_ef_search(ef);
            let (recall, us) = measure(&index, &queries, &exact);
            println!(
                "| {m} | {ef_construction} | {:.1} / {:.1} | {ef} | {recall:.3} | {us:.0} | {:.1}x |",
                build.0,
                build.1,
                exact_us / us
            );
        }
    }
    Ok(())
}
