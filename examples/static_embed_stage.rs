//! The static model's embedding stage alone, as `paperscope index` runs it, on a digest
//! directory (e.g. one written by `generate_corpus`): wall and CPU time on N threads, then the
//! tokenizer alone on one thread (µs/token, texts/s), then the built-in model's load + first
//! query. Not a user command: it feeds BENCHMARKS.md.
//!
//! cargo run --release --example static_embed_stage -- DIGEST_DIR [THREADS]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use paperscope::embed::{Embedder, ModelKind, Recipe};

/// CPU time of this process so far, all threads (user + system).
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let of = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    of(usage.ru_utime) + of(usage.ru_stime)
}

/// Wall and CPU seconds of `work`.
fn timed<T>(work: impl FnOnce() -> T) -> (T, f64, f64) {
    let (wall, cpu) = (Instant::now(), cpu_time());
    let out = work();
    let cpu = (cpu_time() - cpu).as_secs_f64();
    (out, wall.elapsed().as_secs_f64(), cpu)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: static_embed_stage DIGEST_DIR [THREADS]";
    let dir = PathBuf::from(args.first().context(usage)?);
    let threads: usize = args.get(1).map_or(Ok(2), |s| s.parse()).context(usage)?;
    let files = paperscope::digest::digest_files(&[dir])?;
    let papers = paperscope::digest::load(&files, || {})?.papers;

    let (embedder, load_s, _) = timed(|| Embedder::shipped_kind(ModelKind::Static));
    let embedder = embedder?;
    let (_, query_s, _) = timed(|| embedder.embed_query("hallucination benchmark"));
    println!(
        "load the built-in static model: {:.1} ms, then a first query: {:.3} ms",
        load_s * 1e3,
        query_s * 1e3
    );

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let recipe = Recipe::for_model(ModelKind::Static);
    let (vectors, wall, cpu) =
        timed(|| pool.install(|| embedder.paper_vectors(&papers, recipe, |_| {})));
    println!(
        "embedding stage, {} papers, {threads} thread(s): {wall:.2} s wall, {cpu:.2} CPU-s \
         ({:.3} CPU-ms a paper, {:.0} papers/s)",
        vectors.len(),
        cpu * 1e3 / papers.len() as f64,
        papers.len() as f64 / wall
    );

    let texts: Vec<String> = papers.iter().flat_map(|p| recipe.texts(p)).collect();
    let (tokens, _, cpu) = timed(|| {
        texts
            .iter()
            .map(|t| embedder.token_ids(t).len())
            .sum::<usize>()
    });
    println!(
        "tokenizer alone, 1 thread: {} texts, {tokens} tokens, {:.3} µs/token, {:.0} texts/s",
        texts.len(),
        cpu * 1e6 / tokens as f64,
        texts.len() as f64 / cpu
    );
    let (_, _, cpu) = timed(|| {
        texts
            .iter()
            .map(|t| embedder.embed_passage(t)[0])
            .sum::<f32>()
    });
    println!(
        "embed texts, 1 thread: {:.0} texts/s ({:.3} µs/token)",
        texts.len() as f64 / cpu,
        cpu * 1e6 / tokens as f64
    );
    Ok(())
}
