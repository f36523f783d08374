//! Writes a synthetic corpus of N papers in the digest format, recombined from data/digests
//! (benches/scale/corpus.rs says how). Not a user command: it feeds the scale benchmark.
//!
//! cargo run --release --example generate_corpus -- N OUT_DIR [SEED [SOURCES_DIR]]
//!
//! SOURCES_DIR (data/digests by default) lets a part of data/ stand for the real papers: grown
//! from a quarter of data/ to its size, a corpus can be checked against the whole of data/.

#[path = "../benches/scale/corpus.rs"]
mod corpus;

use std::path::{Path, PathBuf};

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: generate_corpus N OUT_DIR [SEED [SOURCES_DIR]]";
    let papers: usize = args.first().context(usage)?.parse().context(usage)?;
    let out = PathBuf::from(args.get(1).context(usage)?);
    let seed: u64 = args.get(2).map_or(Ok(1), |s| s.parse()).context(usage)?;
    let data = args.get(3).map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digests"),
        PathBuf::from,
    );
    let sources = corpus::Sources::load(&data)?;
    let started = std::time::Instant::now();
    let batch = corpus::Batch {
        papers,
        first: 0,
        seed,
    };
    let files = corpus::write_batch(&sources, batch, &out)?;
    println!(
        "{papers} papers from {} real ones in {} files under {} ({:.1} s)",
        sources.papers().len(),
        files.len(),
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
