//! Times the text-index stage alone (analysis + Tantivy) on a corpus directory, as wall and
//! CPU seconds (getrusage, all threads): the scale benchmark's "text index" column without the
//! rest of the pipeline, for profiling it. With `--add M` it builds the first N papers untimed,
//! then times adding the next M to that index (`fulltext::extend`, as `paperscope index` does
//! with new digests); `RAYON_NUM_THREADS=1` makes that the one-writer path.
//!
//! cargo run --release --example text_stage -- DIGEST_DIR [N [OUT_DIR]] [--add M]
//! (OUT_DIR, empty or new, keeps the index; otherwise it goes to a temporary directory)

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use paperscope::paper::{Paper, PaperNumber};
use paperscope::{digest, fulltext};

/// CPU time of this process so far, all threads (user + system).
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let of = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    of(usage.ru_utime) + of(usage.ru_stime)
}

/// Wall and CPU time of `work`.
fn timed(work: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<(Duration, Duration)> {
    let (wall, cpu) = (Instant::now(), cpu_time());
    work()?;
    Ok((wall.elapsed(), cpu_time() - cpu))
}

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: text_stage DIGEST_DIR [N [OUT_DIR]] [--add M]";
    let added: Option<usize> = match args.iter().position(|a| a == "--add") {
        Some(at) => {
            let m = args.get(at + 1).context(usage)?.parse().context(usage)?;
            args.drain(at..at + 2);
            Some(m)
        }
        None => None,
    };
    let dir = PathBuf::from(args.first().context(usage)?);
    let files = digest::digest_files(&[dir])?;
    let mut papers = digest::load(&files, || {})?.papers;
    let n = match args.get(1) {
        Some(n) => n.parse().context(usage)?,
        None => papers.len(),
    };
    papers.truncate(n + added.unwrap_or(0));
    let temporary = tempfile::tempdir()?;
    let out = match args.get(2) {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            PathBuf::from(dir)
        }
        None => temporary.path().to_path_buf(),
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?").to_string();
    let (old, new) = papers.split_at(n.min(papers.len()));
    let (what, count, (wall, cpu)) = match added {
        None => (
            "text index",
            old.len(),
            timed(|| Ok(fulltext::build(&out, old, || {})?))?,
        ),
        Some(_) => {
            fulltext::build(&out, old, || {})?;
            let numbered: Vec<(PaperNumber, &Paper)> = new
                .iter()
                .enumerate()
                .map(|(i, p)| (PaperNumber::from_index(old.len() + i), p))
                .collect();
            let spent = timed(|| Ok(fulltext::extend(&out, &[], &numbered, || {})?))?;
            ("adding to it", new.len(), spent)
        }
    };
    println!(
        "{} + {} papers: {what} {:.2} s wall / {:.2} CPU-s ({:.3} CPU-ms per paper), {:.1} MB, {} files (load average {load} before)",
        old.len(),
        new.len(),
        wall.as_secs_f64(),
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1e3 / count.max(1) as f64,
        disk_bytes(&out)? as f64 / 1e6,
        std::fs::read_dir(&out)?.count()
    );
    Ok(())
}

fn disk_bytes(dir: &Path) -> anyhow::Result<u64> {
    Ok(std::fs::read_dir(dir)?
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum())
}
