//! Times the text-index stage alone (analysis + Tantivy) on a corpus directory, as wall and
//! CPU seconds (getrusage, all threads): the scale benchmark's "text index" column without the
//! rest of the pipeline, for profiling it.
//!
//! cargo run --release --example text_stage -- DIGEST_DIR [N [OUT_DIR]]
//! (OUT_DIR, empty or new, keeps the index; otherwise it goes to a temporary directory)

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use paperscope::{digest, fulltext};

/// CPU time of this process so far, all threads (user + system).
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let of = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    of(usage.ru_utime) + of(usage.ru_stime)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: text_stage DIGEST_DIR [N [OUT_DIR]]";
    let dir = PathBuf::from(args.first().context(usage)?);
    let files = digest::digest_files(&[dir])?;
    let mut papers = digest::load(&files, || {})?.papers;
    if let Some(n) = args.get(1) {
        papers.truncate(n.parse().context(usage)?);
    }
    let temporary = tempfile::tempdir()?;
    let out = match args.get(2) {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            PathBuf::from(dir)
        }
        None => temporary.path().to_path_buf(),
    };
    let (wall, cpu) = (Instant::now(), cpu_time());
    fulltext::build(&out, &papers, || {})?;
    let (wall, cpu) = (wall.elapsed(), cpu_time() - cpu);
    let bytes: u64 = std::fs::read_dir(&out)?
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "{} papers: text index {:.2} s wall / {:.2} CPU-s ({:.3} CPU-ms per paper), {:.1} MB, {} files",
        papers.len(),
        wall.as_secs_f64(),
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1e3 / papers.len().max(1) as f64,
        bytes as f64 / 1e6,
        std::fs::read_dir(&out)?.count()
    );
    Ok(())
}
