//! Where a full `index` holds its memory: indexes a directory of digests into a new index with
//! the static model, and prints for every progress stage (and for the work between stages) its
//! wall and CPU seconds, the RSS it started and ended at and its own peak (the high-water mark
//! is reset at every boundary: Linux /proc/self/clear_refs). Not a user command.
//!
//! cargo run --release --example index_memory -- DIGEST_DIR INDEX_DIR

#[path = "shared/measure.rs"]
mod measure;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use measure::{cpu_time, status_mb};

use anyhow::Context;
use paperscope::embed::Embedder;
use paperscope::progress::Progress;
use paperscope::update::{self, UpdateOptions};

/// One span of the run (a stage, or the work between two stages) as it began.
struct Span {
    name: String,
    wall: Instant,
    cpu: Duration,
    rss: f64,
}

impl Span {
    fn begin(name: String) -> Span {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        Span {
            name,
            wall: Instant::now(),
            cpu: cpu_time(),
            rss: status_mb("VmRSS:"),
        }
    }

    fn end(self) -> f64 {
        let peak = status_mb("VmHWM:");
        println!(
            "{:<22} {:>7.2} s wall {:>7.2} CPU-s   RSS {:>6.0} -> {:>6.0} MB (anon {:>6.0}, file {:>4.0}), peak {:>6.0} MB",
            self.name,
            self.wall.elapsed().as_secs_f64(),
            (cpu_time() - self.cpu).as_secs_f64(),
            self.rss,
            status_mb("VmRSS:"),
            status_mb("RssAnon:"),
            status_mb("RssFile:"),
            peak
        );
        if std::env::var_os("TRIM").is_some() {
            // SAFETY: malloc_trim only returns free heap pages to the kernel.
            unsafe { libc::malloc_trim(0) };
            println!("{:<22} trimmed: RSS {:>6.0} MB", "", status_mb("VmRSS:"));
        }
        peak
    }
}

/// Ends the running span at every stage boundary and begins the next.
struct Spans {
    current: Mutex<Option<Span>>,
    last_stage: Mutex<&'static str>,
    peak: Mutex<f64>,
}

impl Spans {
    fn switch(&self, next: String) {
        let mut current = self.current.lock().expect("not poisoned");
        if let Some(span) = current.take() {
            let peak = span.end();
            let mut top = self.peak.lock().expect("not poisoned");
            *top = top.max(peak);
        }
        *current = Some(Span::begin(next));
    }
}

impl Progress for Spans {
    fn start(&self, stage: &'static str, _: usize) {
        *self.last_stage.lock().expect("not poisoned") = stage;
        self.switch(stage.to_string());
    }
    fn inc(&self) {}
    fn finish(&self) {
        let stage = *self.last_stage.lock().expect("not poisoned");
        self.switch(format!("  (after {stage})"));
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: index_memory DIGEST_DIR INDEX_DIR";
    let digests = PathBuf::from(args.first().context(usage)?);
    let index = PathBuf::from(args.get(1).context(usage)?);
    let _ = std::fs::remove_dir_all(&index);
    let model = Embedder::shipped()?;
    println!("model loaded: RSS {:.0} MB", status_mb("VmRSS:"));
    let spans = Spans {
        current: Mutex::new(None),
        last_stage: Mutex::new(""),
        peak: Mutex::new(0.0),
    };
    let (wall, cpu) = (Instant::now(), cpu_time());
    spans.switch("  (start)".to_string());
    let report = update::index_files(&index, &[digests], &model, UpdateOptions::default(), &spans)?;
    spans.switch("  (done)".to_string());
    let top = *spans.peak.lock().expect("not poisoned");
    println!(
        "{} papers: {:.1} s wall, {:.1} CPU-s, peak RSS {:.0} MB",
        report.papers_read,
        wall.elapsed().as_secs_f64(),
        (cpu_time() - cpu).as_secs_f64(),
        top
    );
    Ok(())
}
