//! Times a topic fit alone over a directory of digests, step by step (terms, LSA, clustering,
//! labels), with CPU seconds and peak RSS, and scores it as `paperscope eval topics` does.
//! Not a user command: it measures the topics stage of the scale benchmark without an index.
//!
//! cargo run --release --example topics_fit -- DIGEST_DIR [--no-quality]

#[path = "shared/measure.rs"]
mod measure;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use measure::{cpu_time, status_mb};

use anyhow::Context;
use paperscope::progress::Progress;
use paperscope::topics::TopicParams;

/// Prints each step of the fit as it ends: wall and CPU seconds, peak RSS so far.
struct Steps {
    last: Mutex<(usize, Instant, Duration)>,
}

const STEPS: [&str; 4] = ["terms", "lsa", "clustering", "labels"];

impl Steps {
    fn step_done(&self) {
        let mut last = self.last.lock().expect("not poisoned");
        let (i, wall, cpu) = *last;
        if i > 0 {
            println!(
                "  {:<10} {:>7.2} s wall {:>7.2} s CPU   peak RSS {:>6.0} MB",
                STEPS[i - 1],
                wall.elapsed().as_secs_f64(),
                (cpu_time() - cpu).as_secs_f64(),
                status_mb("VmHWM:")
            );
        }
        *last = (i + 1, Instant::now(), cpu_time());
    }
}

impl Progress for Steps {
    fn start(&self, _: &'static str, _: usize) {}
    fn inc(&self) {
        self.step_done();
    }
    fn finish(&self) {
        self.step_done();
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(
        args.first()
            .context("usage: topics_fit DIGEST_DIR [--no-quality]")?,
    );
    let quality = !args.iter().any(|a| a == "--no-quality");
    let files = paperscope::digest::digest_files(&[dir])?;
    let papers = paperscope::digest::load(&files, || {})?.papers;
    // The LSA representation never reads the vectors; they only give each topic a centroid.
    let vectors: Vec<Vec<f32>> = (0..papers.len())
        .map(|i| vec![1.0, (i % 7) as f32 / 7.0])
        .collect();
    println!(
        "{} papers; before the fit: RSS {:.0} MB",
        papers.len(),
        status_mb("VmRSS:")
    );
    let steps = Steps {
        last: Mutex::new((0, Instant::now(), cpu_time())),
    };
    let (wall, cpu) = (Instant::now(), cpu_time());
    let model = paperscope::update::fit_topics(&papers, &vectors, TopicParams::default(), &steps);
    println!(
        "fit: {:.2} s wall, {:.2} s CPU, {} topics, peak RSS {:.0} MB",
        wall.elapsed().as_secs_f64(),
        (cpu_time() - cpu).as_secs_f64(),
        model.topics.len(),
        status_mb("VmHWM:")
    );
    // Two fits that agree in every topic, label and assignment print the same digest.
    let fitted = serde_json::to_vec(&(&model.topics, &model.assignments))?;
    println!("model digest: {}", paperscope::embed::sha256_hex(&fitted));
    if quality {
        let q = paperscope::eval::topic_quality(&papers, &model);
        println!(
            "quality: NMI {:.3} ARI {:.3} NPMI en {:.3} zh {:.3} diversity {:.3} outliers {:.1}% largest {:.1}%",
            q.nmi,
            q.ari,
            q.npmi_en,
            q.npmi_zh,
            q.diversity,
            q.outlier_share * 100.0,
            q.largest_topic_share * 100.0
        );
        for t in model.topics.iter().take(6) {
            println!(
                "  {:>4} {} | {}",
                t.size,
                t.label_en[..5.min(t.label_en.len())].join(", "),
                t.label_zh[..5.min(t.label_zh.len())].join(" ")
            );
        }
    }
    Ok(())
}
