//! How paperscope's cost grows with the collection: for each N, a synthetic corpus recombined
//! from data/digests (benches/scale/corpus.rs) is indexed in process, then searched, then grown
//! by 500 papers, then its topics refitted. Prints one Markdown table per measurement.
//!
//! cargo bench --bench scale                      (N = 10,000 and 100,000)
//! cargo bench --bench scale -- 10000,30000,100000 [OUT_DIR]
//! cargo bench --bench scale -- --ann 100000      (recall/speed curve of ef at N, and of M)
//! cargo bench --bench scale -- --cold [INDEX]    (where a new process's hybrid search goes)
//! cargo bench --bench scale -- --plot RUN_LOG OUT.png   (the plot of a saved run's tables)
//! cargo bench --bench scale -- --e5 [PAPERS]      (the default model's embedding stage alone)
//!
//! Each stage's time comes from the library's own progress stages (parsing, indexing, embedding,
//! graph, topics), so the figures are those of `paperscope index`. Peak RSS is the process's
//! high-water mark, reset before each index build (Linux: /proc/self/clear_refs).

#[path = "scale/corpus.rs"]
mod corpus;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use paperscope::embed::{Embedder, Recipe};
use paperscope::paper::PaperNumber;
use paperscope::progress::Progress;
use paperscope::query::SearchQuery;
use paperscope::search::{Mode, SearchRequest};
use paperscope::update::{self, UpdateOptions};
use paperscope::vectors::{VectorIndex, VectorParams};
use paperscope::{Engine, ModelSource, Needs};

/// Papers added to each index to time an incremental write.
const ADDED: usize = 500;
const QUERIES: usize = 200;

/// Wall and CPU time (all threads) of a stage.
#[derive(Default, Clone, Copy)]
struct Spent {
    wall: Duration,
    cpu: Duration,
}

/// The time of every progress stage, summed by name.
#[derive(Default)]
struct Stages {
    current: Mutex<Option<(&'static str, Instant, Duration)>>,
    totals: Mutex<BTreeMap<&'static str, Spent>>,
}

impl Stages {
    fn take(&self) -> BTreeMap<&'static str, Spent> {
        std::mem::take(&mut *self.totals.lock().expect("not poisoned"))
    }
}

/// CPU time of this process so far, all threads (user + system). On a shared machine it
/// says what the work cost where wall time says how long others let it run.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let of = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    of(usage.ru_utime) + of(usage.ru_stime)
}

impl Progress for Stages {
    fn start(&self, stage: &'static str, _: usize) {
        *self.current.lock().expect("not poisoned") = Some((stage, Instant::now(), cpu_time()));
    }
    fn inc(&self) {}
    fn finish(&self) {
        if let Some((stage, started, cpu)) = self.current.lock().expect("not poisoned").take() {
            let mut totals = self.totals.lock().expect("not poisoned");
            let spent = totals.entry(stage).or_default();
            spent.wall += started.elapsed();
            spent.cpu += cpu_time() - cpu;
        }
    }
}

/// A stage's `wall / cpu` seconds.
fn secs(stages: &BTreeMap<&'static str, Spent>, name: &str) -> String {
    let spent = stages.get(name).copied().unwrap_or_default();
    format!(
        "{:.1} / {:.1}",
        spent.wall.as_secs_f64(),
        spent.cpu.as_secs_f64()
    )
}

fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Bytes of the files under `dir`, each inode once (generations share files by hard links).
fn disk_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fn walk(dir: &Path, seen: &mut std::collections::HashSet<u64>, total: &mut u64) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                walk(&entry.path(), seen, total);
            } else if seen.insert(meta.ino()) {
                *total += meta.len();
            }
        }
    }
    let mut total = 0;
    walk(dir, &mut std::collections::HashSet::new(), &mut total);
    total
}

/// Query texts: the judged queries of tests/ (English, Chinese, questions), then titles and
/// Chinese summaries of real papers, to [`QUERIES`].
fn query_texts(sources: &corpus::Sources) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut texts: Vec<String> = ["queries.tsv", "queries_heldout.tsv"]
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(root.join(f))
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split('\t').nth(1).map(str::to_string))
        .collect();
    let papers = sources.papers();
    let step = papers.len() / QUERIES;
    for (k, p) in papers.iter().step_by(step.max(1)).enumerate() {
        if texts.len() >= QUERIES {
            break;
        }
        let summary: String = p.summary_zh.chars().take(12).collect();
        texts.push(if k % 2 == 0 {
            p.title_en.clone()
        } else {
            summary
        });
    }
    texts
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// p50 and p99 of `run` over the queries in ms, after one warm-up pass.
fn latency(queries: &[SearchQuery], run: impl Fn(&SearchQuery)) -> (f64, f64) {
    queries.iter().for_each(&run);
    let mut ms: Vec<f64> = queries
        .iter()
        .map(|q| {
            let t = Instant::now();
            run(q);
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    (percentile(&ms, 0.5), percentile(&ms, 0.99))
}

#[derive(Default)]
struct Row {
    papers: usize,
    stages: BTreeMap<&'static str, Spent>,
    total: f64,
    total_cpu: f64,
    peak_mb: f64,
    disk_mb: f64,
    bm25: (f64, f64),
    vector: (f64, f64),
    hybrid: (f64, f64),
    embed_query: (f64, f64),
    hybrid_without_embedding: (f64, f64),
    recall: Option<(f64, f64)>,
    ef_curve: Vec<(usize, f64, f64, f64)>,
    add_total: f64,
    add_stages: BTreeMap<&'static str, Spent>,
    refit: f64,
}

fn embedder() -> Arc<Embedder> {
    static MODEL: OnceLock<Arc<Embedder>> = OnceLock::new();
    MODEL
        .get_or_init(|| Arc::new(Embedder::shipped().expect("the shipped model loads")))
        .clone()
}

fn measure(sources: &corpus::Sources, papers: usize, out: &Path) -> anyhow::Result<Row> {
    let base = out.join(papers.to_string());
    let (digests, fresh, index) = (base.join("digests"), base.join("new"), base.join("index"));
    let _ = std::fs::remove_dir_all(&base);
    let seed = 1;
    let batch = corpus::Batch {
        papers,
        first: 0,
        seed,
    };
    corpus::write_batch(sources, batch, &digests)?;
    let addition = corpus::Batch {
        papers: ADDED,
        first: papers,
        seed: seed + 1,
    };
    corpus::write_batch(sources, addition, &fresh)?;
    let model = embedder();
    let stages = Stages::default();
    reset_peak_rss();
    let (started, cpu) = (Instant::now(), cpu_time());
    update::index_files(
        &index,
        &[digests],
        &model,
        UpdateOptions::default(),
        &stages,
    )?;
    let mut row = Row {
        papers,
        total: started.elapsed().as_secs_f64(),
        total_cpu: (cpu_time() - cpu).as_secs_f64(),
        peak_mb: peak_rss_mb(),
        stages: stages.take(),
        disk_mb: disk_bytes(&index) as f64 / 1e6,
        ..Row::default()
    };
    eprintln!("{papers}: indexed in {:.1} s", row.total);
    queries_into(&mut row, sources, &index)?;
    let started = Instant::now();
    update::index_files(&index, &[fresh], &model, UpdateOptions::default(), &stages)?;
    row.add_total = started.elapsed().as_secs_f64();
    row.add_stages = stages.take();
    let started = Instant::now();
    update::refit_topics(&index, &model, Default::default(), &stages)?;
    row.refit = started.elapsed().as_secs_f64();
    stages.take();
    Ok(row)
}

fn queries_into(row: &mut Row, sources: &corpus::Sources, index: &Path) -> anyhow::Result<()> {
    let model = embedder();
    let engine = Engine::open_with(index, model.clone(), Needs::Meaning)?;
    let texts = query_texts(sources);
    let queries: Vec<SearchQuery> = texts
        .iter()
        .map(|t| SearchQuery::parse(t))
        .collect::<Result<_, _>>()?;
    let rank = |mode: Mode| {
        let engine = &engine;
        move |q: &SearchQuery| {
            let request = SearchRequest::new(q.raw.as_str()).mode(mode);
            std::hint::black_box(engine.rank(&request).expect("search answers"));
        }
    };
    row.bm25 = latency(&queries, rank(Mode::Bm25));
    row.vector = latency(&queries, rank(Mode::Vector));
    row.hybrid = latency(&queries, rank(Mode::Hybrid));
    row.embed_query = latency(&queries, |q| {
        std::hint::black_box(model.embed_query(&q.positive_text()));
    });
    // Per query, hybrid minus its query's embedding.
    let mut without: Vec<f64> = queries
        .iter()
        .map(|q| {
            let t = Instant::now();
            std::hint::black_box(model.embed_query(&q.positive_text()));
            let embedding = t.elapsed().as_secs_f64();
            let request = SearchRequest::new(q.raw.as_str());
            let t = Instant::now();
            std::hint::black_box(engine.rank(&request).expect("answers"));
            (t.elapsed().as_secs_f64() - embedding).max(0.0) * 1e3
        })
        .collect();
    without.sort_by(f64::total_cmp);
    row.hybrid_without_embedding = (percentile(&without, 0.5), percentile(&without, 0.99));
    let meaning = engine.meaning().expect("vectors loaded");
    if meaning.vectors.uses_graph() {
        let vectors: Vec<Vec<f32>> = texts.iter().map(|t| model.embed_passage(t)).collect();
        let (recall, speedup) = recall_and_speedup(&meaning.vectors, &vectors);
        row.recall = Some((recall, speedup));
        let mut own = paperscope::Store::open(index)?.vectors(&model)?;
        row.ef_curve = ef_curve(&mut own, &vectors);
    }
    Ok(())
}

/// Recall@10, µs per query and speed-up over exact search of the graph at several ef_search.
fn ef_curve(index: &mut VectorIndex, queries: &[Vec<f32>]) -> Vec<(usize, f64, f64, f64)> {
    [16, 32, 64, 128, 256, 512, 1024, 1152, 1536, 2048]
        .into_iter()
        .map(|ef| {
            index.set_ef_search(ef);
            let (recall, speedup) = recall_and_speedup(index, queries);
            let t = Instant::now();
            queries.iter().for_each(|q| drop(index.search(q, 10, None)));
            let us = t.elapsed().as_secs_f64() * 1e6 / queries.len() as f64;
            (ef, recall, us, speedup)
        })
        .collect()
}

/// A vector search: query -> papers with their cosine.
type Search<'a> = dyn Fn(&[f32]) -> Vec<(PaperNumber, f32)> + 'a;

/// Recall@10 of the graph against exact search, counted by score (a hit is a paper whose cosine
/// reaches exact search's 10th: the generated corpus has ties, which make recall by id
/// arbitrary), and how many times faster the graph is.
fn recall_and_speedup(index: &VectorIndex, queries: &[Vec<f32>]) -> (f64, f64) {
    let time = |f: &Search| {
        queries.iter().for_each(|q| drop(f(q)));
        let t = Instant::now();
        let found: Vec<_> = queries.iter().map(|q| f(q)).collect();
        (t.elapsed().as_secs_f64(), found)
    };
    let (exact_s, exact) = time(&|q| index.search_exact(q, 10, None));
    let (graph_s, graph) = time(&|q| index.search(q, 10, None));
    let hits: usize = exact
        .iter()
        .zip(&graph)
        .map(|(e, g)| {
            let tenth = e.last().map_or(f32::INFINITY, |(_, s)| *s);
            g.iter().filter(|(_, s)| *s >= tenth - 1e-5).count()
        })
        .sum();
    let wanted: usize = exact.iter().map(Vec::len).sum();
    (hits as f64 / wanted.max(1) as f64, exact_s / graph_s)
}

/// Paper vectors of `papers` generated papers (written under OUT/N/digests once), embedded as
/// `paperscope index` embeds them, without indexing anything else (the topic stage alone took
/// 16 minutes at 100k).
fn generated_vectors(
    sources: &corpus::Sources,
    papers: usize,
    out: &Path,
    model: &Embedder,
) -> anyhow::Result<Vec<Vec<f32>>> {
    let digests = out.join(papers.to_string()).join("digests");
    if !digests.is_dir() {
        let batch = corpus::Batch {
            papers,
            first: 0,
            seed: 1,
        };
        corpus::write_batch(sources, batch, &digests)?;
    }
    // Embedding 100k papers takes longer than the graph: `--ann` runs reuse the vectors.
    let cache = out
        .join(papers.to_string())
        .join(format!("vectors-{}.f32", model.dims()));
    if let Ok(bytes) = std::fs::read(&cache) {
        let floats: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        return Ok(floats.chunks(model.dims()).map(<[f32]>::to_vec).collect());
    }
    let files = paperscope::digest::digest_files(&[digests])?;
    let loaded = paperscope::digest::load(&files, || {})?.papers;
    let vectors = paper_vectors(&loaded, model);
    let bytes: Vec<u8> = vectors
        .iter()
        .flatten()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    std::fs::write(&cache, bytes)?;
    Ok(vectors)
}

fn paper_vectors(papers: &[paperscope::Paper], model: &Embedder) -> Vec<Vec<f32>> {
    model.paper_vectors(papers, Recipe::for_model(model.kind()), |_| {})
}

/// Percentiles of every `step`-th paper's cosine to its nearest other paper: how crowded the
/// vectors are (near-duplicates are the hard case for HNSW).
fn nearest_cosines(vectors: Vec<Vec<f32>>, step: usize) -> String {
    let dims = vectors.first().map_or(0, Vec::len);
    let params = VectorParams {
        exact_below: usize::MAX,
        ..VectorParams::default()
    };
    let index = VectorIndex::build(dims, vectors, params, || {});
    let mut nearest: Vec<f32> = (0..index.len())
        .step_by(step.max(1))
        .filter_map(|i| {
            let me = PaperNumber::from_index(i);
            let hits = index.search_exact(index.vector_of(me)?, 2, None);
            hits.into_iter().find(|(p, _)| *p != me).map(|(_, s)| s)
        })
        .collect();
    nearest.sort_by(f32::total_cmp);
    let at = |p: f64| nearest[((nearest.len() - 1) as f64 * p).round() as usize];
    let share = |t: f32| nearest.iter().filter(|&&c| c >= t).count() as f64 / nearest.len() as f64;
    format!(
        "{} papers: p10 {:.3} p50 {:.3} p90 {:.3} p99 {:.3}; share >= 0.95: {:.2}, >= 0.99: {:.2}",
        nearest.len(),
        at(0.1),
        at(0.5),
        at(0.9),
        at(0.99),
        share(0.95),
        share(0.99)
    )
}

/// The recall/speed curve of ef_search for several M / ef_construction at N generated papers,
/// and how crowded their vectors are next to the real papers'.
fn ann_curve(sources: &corpus::Sources, papers: usize, out: &Path) -> anyhow::Result<()> {
    let model = embedder();
    let vectors = generated_vectors(sources, papers, out, &model)?;
    let dims = vectors.first().map_or(0, Vec::len);
    println!(
        "\nNearest-neighbour cosine, real papers (data/): {}",
        nearest_cosines(paper_vectors(sources.papers(), &model), 4)
    );
    println!(
        "Nearest-neighbour cosine, {papers} generated: {}",
        nearest_cosines(vectors.clone(), (papers / 2000).max(1))
    );
    let queries: Vec<Vec<f32>> = query_texts(sources)
        .iter()
        .map(|t| model.embed_query(t))
        .collect();
    println!(
        "\n| M | ef_construction | build s (wall / CPU) | ef_search | recall@10 | µs/query | speed-up vs exact |"
    );
    println!("|---|---|---|---|---|---|---|");
    let configs = std::env::var("ANN_CONFIGS").unwrap_or_else(|_| "16:200,32:200".into());
    for config in configs.split(',').filter(|c| !c.is_empty()) {
        let (m, ef_construction) = config
            .split_once(':')
            .and_then(|(m, e)| Some((m.parse().ok()?, e.parse().ok()?)))
            .ok_or_else(|| anyhow::anyhow!("ANN_CONFIGS: M:EF_CONSTRUCTION,... not {config}"))?;
        let params = VectorParams {
            m,
            ef_construction,
            exact_below: 0,
            ..VectorParams::default()
        };
        let (t, cpu) = (Instant::now(), cpu_time());
        let mut index = VectorIndex::build(dims, vectors.clone(), params, || {});
        let build = t.elapsed().as_secs_f64();
        let build_cpu = (cpu_time() - cpu).as_secs_f64();
        for ef in [32, 64, 128, 192, 256, 384, 512] {
            index.set_ef_search(ef);
            let (recall, speedup) = recall_and_speedup(&index, &queries);
            let t = cpu_time();
            queries.iter().for_each(|q| drop(index.search(q, 10, None)));
            let us = (cpu_time() - t).as_secs_f64() * 1e6 / queries.len() as f64;
            println!(
                "| {m} | {ef_construction} | {build:.1} / {build_cpu:.1} | {ef} | {recall:.3} | {us:.0} | {speedup:.1}x |"
            );
        }
    }
    Ok(())
}

fn print(rows: &[Row]) {
    println!(
        "\n| papers | parse s | text index s | embedding s | vector index s | topics s | total s | papers/s | peak RSS MB | disk MB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let s = &r.stages;
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.1} / {:.1} | {:.0} | {:.0} | {:.0} |",
            r.papers,
            secs(s, "parsing"),
            secs(s, "indexing"),
            secs(s, "embedding"),
            secs(s, "graph"),
            secs(s, "topics"),
            r.total,
            r.total_cpu,
            r.papers as f64 / r.total,
            r.peak_mb,
            r.disk_mb
        );
    }
    println!(
        "\n| papers | bm25 p50 / p99 ms | vector p50 / p99 | hybrid p50 / p99 | query embedding p50 / p99 | hybrid without it p50 / p99 | HNSW recall@10 | HNSW speed-up |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        let pair = |(a, b): (f64, f64)| format!("{a:.2} / {b:.2}");
        let (recall, speedup) = r.recall.map_or(("exact".into(), "-".into()), |(r, s)| {
            (format!("{r:.3}"), format!("{s:.1}x"))
        });
        println!(
            "| {} | {} | {} | {} | {} | {} | {recall} | {speedup} |",
            r.papers,
            pair(r.bm25),
            pair(r.vector),
            pair(r.hybrid),
            pair(r.embed_query),
            pair(r.hybrid_without_embedding)
        );
    }
    for r in rows.iter().filter(|r| !r.ef_curve.is_empty()) {
        println!(
            "\nHNSW at {} papers (M and ef_construction as built), by ef_search:\n",
            r.papers
        );
        println!("| ef_search | recall@10 | µs/query | speed-up vs exact |");
        println!("|---|---|---|---|");
        for (ef, recall, us, speedup) in &r.ef_curve {
            println!("| {ef} | {recall:.3} | {us:.0} | {speedup:.1}x |");
        }
    }
    println!(
        "\n| papers | add {ADDED}: total s | parse s | text index s | embedding s | vector index s | topics --refit s |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        let s = &r.add_stages;
        println!(
            "| {} | {:.2} | {} | {} | {} | {} | {:.1} |",
            r.papers,
            r.add_total,
            secs(s, "parsing"),
            secs(s, "indexing"),
            secs(s, "embedding"),
            secs(s, "graph"),
            r.refit
        );
    }
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; the rest are ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().is_some_and(|a| a == "--cold") {
        let dir = args.get(1).map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("index"),
            PathBuf::from,
        );
        return cold_path(&dir);
    }
    if args.first().is_some_and(|a| a == "--plot") {
        let usage = "--plot RUN_LOG OUT.png";
        let log = std::fs::read_to_string(args.get(1).ok_or_else(|| anyhow::anyhow!(usage))?)?;
        let png = PathBuf::from(args.get(2).ok_or_else(|| anyhow::anyhow!(usage))?);
        return plot(&rows_from_log(&log), &png);
    }
    if args.first().is_some_and(|a| a == "--existing") {
        // An index a run left in OUT_DIR/N: its queries and the addition, without the build
        // (and without the refit), for a run that was stopped.
        let papers: usize = args.get(1).map_or(Ok(100_000), |n| n.parse())?;
        let out = args.get(2).map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/scale"),
            PathBuf::from,
        );
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digests");
        let sources = corpus::Sources::load(&data)?;
        let base = out.join(papers.to_string());
        let index = base.join("index");
        let mut row = Row {
            papers,
            disk_mb: disk_bytes(&index) as f64 / 1e6,
            ..Row::default()
        };
        queries_into(&mut row, &sources, &index)?;
        print(std::slice::from_ref(&row));
        let stages = Stages::default();
        let started = Instant::now();
        update::index_files(
            &index,
            &[base.join("new")],
            &embedder(),
            UpdateOptions::default(),
            &stages,
        )?;
        row.add_total = started.elapsed().as_secs_f64();
        row.add_stages = stages.take();
        print(std::slice::from_ref(&row));
        return Ok(());
    }
    if args.first().is_some_and(|a| a == "--e5") {
        let papers: usize = args.get(1).map_or(Ok(E5_PAPERS), |n| n.parse())?;
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digests");
        return e5_stage(corpus::Sources::load(&data)?.papers(), papers);
    }
    let ann = args.first().is_some_and(|a| a == "--ann");
    let args = if ann { &args[1..] } else { &args[..] };
    let sizes: Vec<usize> = match args.first() {
        Some(list) => list.split(',').map(str::parse).collect::<Result<_, _>>()?,
        None => vec![10_000, 100_000],
    };
    let out = args.get(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/scale"),
        PathBuf::from,
    );
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digests");
    let sources = corpus::Sources::load(&data)?;
    println!(
        "paperscope scale benchmark: {} threads, sources {} real papers, out {}",
        rayon::current_num_threads(),
        sources.papers().len(),
        out.display()
    );
    if ann {
        for &n in &sizes {
            ann_curve(&sources, n, &out)?;
        }
        return Ok(());
    }
    let mut rows = Vec::new();
    for &n in &sizes {
        rows.push(measure(&sources, n, &out)?);
        print(&rows);
    }
    e5_stage(sources.papers(), E5_PAPERS)?;
    let png = out.join("scale.png");
    match plot(&rows, &png) {
        Ok(()) => println!("\nplot: {}", png.display()),
        Err(e) => eprintln!("no plot: {e}"),
    }
    Ok(())
}

/// Real papers the e5 embedding stage is timed on: enough for a steady rate (the stage's cost
/// is linear in papers), few enough for a minute.
const E5_PAPERS: usize = 300;

/// The default model's (e5's) embedding stage, which issue 14 reports apart from the rest of
/// an index: `papers` real papers, spread over data/ (their texts' lengths are the cost), embedded
/// as an index embeds them, on one thread and on all: papers/s, papers a CPU-second (a core's
/// rate, whatever else runs) and the time 100k take.
fn e5_stage(real: &[paperscope::Paper], papers: usize) -> anyhow::Result<()> {
    let model = ModelSource::Shipped(paperscope::embed::ModelKind::E5Small).load()?;
    let recipe = Recipe::for_model(model.kind());
    let step = (real.len() / papers.max(1)).max(1);
    let texts: Vec<String> = real
        .iter()
        .step_by(step)
        .take(papers)
        .flat_map(|p| recipe.texts(p))
        .collect();
    let papers = texts.len() / recipe.text_count();
    println!(
        "\n| e5 embedding stage ({papers} real papers, {} texts) | threads | wall s | CPU s | papers/s | papers a CPU-second | 100k papers (wall) |\n|---|---|---|---|---|---|---|",
        texts.len()
    );
    for threads in [1, rayon::current_num_threads()] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()?;
        let (wall, cpu) = (Instant::now(), cpu_time());
        pool.install(|| std::hint::black_box(model.embed_passages(&texts, |_| {})));
        let (wall, cpu) = (
            wall.elapsed().as_secs_f64(),
            (cpu_time() - cpu).as_secs_f64(),
        );
        let rate = papers as f64 / wall;
        println!(
            "| | {threads} | {wall:.1} | {cpu:.1} | {rate:.1} | {:.1} | {:.1} h |",
            papers as f64 / cpu,
            100_000.0 / rate / 3600.0
        );
    }
    Ok(())
}

/// Index time, peak memory and query latency against N, as a PNG of three panels.
fn plot(rows: &[Row], path: &Path) -> anyhow::Result<()> {
    use plotters::prelude::*;
    let root = BitMapBackend::new(path, (1500, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((1, 3));
    let n_max = rows.iter().map(|r| r.papers).max().unwrap_or(1) as f64 * 1.1;
    let n_min = rows.iter().map(|r| r.papers).min().unwrap_or(1) as f64 / 1.1;
    type Series<'a> = (&'a str, RGBColor, Box<dyn Fn(&Row) -> f64>);
    let draw = |area: &DrawingArea<BitMapBackend, _>, title: &str, y: &str, series: Vec<Series>| {
        let top = rows
            .iter()
            .flat_map(|r| series.iter().map(move |(_, _, f)| f(r)))
            .filter(|y| y.is_finite())
            .fold(0.0f64, f64::max)
            * 1.15;
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((n_min..n_max).log_scale(), 0.0..top.max(1e-3))?;
        chart
            .configure_mesh()
            .x_desc("papers")
            .y_desc(y)
            .x_label_formatter(&|n| format!("{:.0}k", n / 1000.0))
            .draw()?;
        for (name, color, f) in series {
            // A stage a stopped run did not time is left out, not drawn as zero.
            let points: Vec<(f64, f64)> = rows
                .iter()
                .map(|r| (r.papers as f64, f(r)))
                .filter(|p| p.1.is_finite())
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 4, color.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
        anyhow::Ok(())
    };
    let wall = |name: &'static str| -> Box<dyn Fn(&Row) -> f64> {
        Box::new(move |r: &Row| {
            r.stages
                .get(name)
                .map_or(f64::NAN, |s| s.wall.as_secs_f64())
        })
    };
    draw(
        &panels[0],
        "index time (wall)",
        "seconds",
        vec![
            ("total", BLACK, Box::new(|r: &Row| r.total)),
            ("text index", BLUE, wall("indexing")),
            ("embedding", RED, wall("embedding")),
            ("vector index", GREEN, wall("graph")),
            ("topics", MAGENTA, wall("topics")),
        ],
    )?;
    draw(
        &panels[1],
        "peak memory and size on disk",
        "MB",
        vec![
            ("peak RSS", BLACK, Box::new(|r: &Row| r.peak_mb)),
            ("on disk", BLUE, Box::new(|r: &Row| r.disk_mb)),
        ],
    )?;
    draw(
        &panels[2],
        "query latency, in process (warm)",
        "ms",
        vec![
            ("bm25 p50", BLUE, Box::new(|r: &Row| r.bm25.0)),
            ("vector p50", GREEN, Box::new(|r: &Row| r.vector.0)),
            ("hybrid p50", BLACK, Box::new(|r: &Row| r.hybrid.0)),
            ("hybrid p99", RED, Box::new(|r: &Row| r.hybrid.1)),
        ],
    )?;
    root.present()?;
    Ok(())
}

/// Where a new process's hybrid search spends its time on the index in `dir`, with the model the
/// index was built with: each step of what `paperscope search` does before its first answer,
/// timed on its own and one after the other (page cache warm). `paperscope search` runs them on
/// three threads (jieba, the model, the rest), so its wall time is less than their sum.
fn cold_path(dir: &Path) -> anyhow::Result<()> {
    let timed = |what: &str, f: &mut dyn FnMut() -> anyhow::Result<()>| -> anyhow::Result<()> {
        let (wall, cpu) = (Instant::now(), cpu_time());
        f()?;
        println!(
            "| {what} | {:.1} | {:.1} |",
            wall.elapsed().as_secs_f64() * 1e3,
            (cpu_time() - cpu).as_secs_f64() * 1e3
        );
        Ok(())
    };
    println!("\n| step of a cold hybrid search | wall ms | CPU ms |\n|---|---|---|");
    let mut text_bytes = 0u64;
    timed(
        "CRC-32 of every text index file (part of opening)",
        &mut || {
            let manifest: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join("manifest.json"))?)?;
            let generation = dir.join(manifest["generation_dir"].as_str().unwrap_or_default());
            for entry in std::fs::read_dir(generation.join("text"))? {
                let bytes = std::fs::read(entry?.path())?;
                text_bytes += bytes.len() as u64;
                std::hint::black_box(crc32fast::hash(&bytes));
            }
            Ok(())
        },
    )?;
    println!("| (text index: {:.1} MB) | | |", text_bytes as f64 / 1e6);
    let mut store = None;
    timed("open the store (manifest, CRCs, Tantivy)", &mut || {
        store = Some(paperscope::Store::open(dir)?);
        Ok(())
    })?;
    let store = store.expect("opened");
    let kind = store.manifest.model.kind;
    let mut model = None;
    timed(&format!("load the model ({kind}, built in)"), &mut || {
        model = Some(ModelSource::Shipped(kind).load()?);
        Ok(())
    })?;
    let model = Arc::new(model.expect("loaded"));
    timed("build jieba's dictionary", &mut || {
        paperscope::analyze::prepare_chinese();
        Ok(())
    })?;
    timed("load the vectors (read, CRC, graph)", &mut || {
        std::hint::black_box(store.vectors(&model)?);
        Ok(())
    })?;
    let engine = Engine::open_with(dir, model, Needs::Meaning)?;
    for text in ["hallucination benchmark", "幻觉 基准"] {
        let query = SearchQuery::parse(text)?;
        timed(&format!("embed the query `{text}`"), &mut || {
            std::hint::black_box(engine.query_vector(&query)?);
            Ok(())
        })?;
        timed("then its hybrid search, top 10 with snippets", &mut || {
            std::hint::black_box(engine.search(&SearchRequest::new(text))?);
            Ok(())
        })?;
    }
    Ok(())
}

/// The rows of a saved run's first two tables (what [`print`] wrote), enough to plot them.
fn rows_from_log(text: &str) -> Vec<Row> {
    let cells = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let first = |cell: &str| -> f64 {
        cell.split(" / ")
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    let pair = |cell: &str| -> (f64, f64) {
        let mut it = cell.split(" / ").map(|v| v.parse().unwrap_or(f64::NAN));
        (it.next().unwrap_or(f64::NAN), it.next().unwrap_or(f64::NAN))
    };
    let mut rows: BTreeMap<usize, Row> = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| ")) {
        let c = cells(line);
        let Ok(papers) = c[0].parse::<usize>() else {
            continue;
        };
        let row = rows.entry(papers).or_default();
        row.papers = papers;
        if c.len() == 10 {
            for (i, name) in [
                (2, "indexing"),
                (3, "embedding"),
                (4, "graph"),
                (5, "topics"),
            ] {
                let seconds = first(&c[i]);
                if seconds.is_finite() {
                    let wall = Duration::from_secs_f64(seconds.max(0.0));
                    row.stages.insert(name, Spent { wall, cpu: wall });
                }
            }
            row.total = first(&c[6]);
            row.peak_mb = first(&c[8]);
            row.disk_mb = first(&c[9]);
        } else if c.len() == 8 && c[1].contains(" / ") {
            row.bm25 = pair(&c[1]);
            row.vector = pair(&c[2]);
            row.hybrid = pair(&c[3]);
        }
    }
    rows.into_values().collect()
}
