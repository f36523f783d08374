//! How realistic a corpus is: the figures that set a generated corpus (benches/scale/corpus.rs)
//! beside the real papers of data/ at the same N. Vectors are the static model's paper vectors
//! (as `paperscope index --model static` makes them).
//!
//! cargo run --release --example corpus_fidelity -- DIGESTS [--take N] [--bm25]
//!
//! `--take N` keeps every k-th paper to about N (the real collection's figures at a smaller N,
//! to see how they move with N); `--bm25` also indexes the papers and counts the BM25 matches of
//! the judged queries of tests/queries.tsv.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use paperscope::embed::{Embedder, Recipe, dot, normalize};
use paperscope::progress::Quiet;
use paperscope::search::{Mode, SearchRequest};
use paperscope::update::{self, UpdateOptions};
use paperscope::{Engine, Paper};
use rayon::prelude::*;

/// Papers whose neighbours are looked up (all of them below this).
const PROBES: usize = 4_000;
/// The deepest neighbour reported.
const DEPTH: usize = 10;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: corpus_fidelity DIGESTS [--take N] [--bm25]";
    let dir = PathBuf::from(args.first().context(usage)?);
    let take: Option<usize> = match args.iter().position(|a| a == "--take") {
        Some(i) => Some(args.get(i + 1).context(usage)?.parse().context(usage)?),
        None => None,
    };
    let files = paperscope::digest::digest_files(std::slice::from_ref(&dir))?;
    let loaded = paperscope::digest::load(&files, || {})?;
    let mut papers = loaded.papers;
    if let Some(n) = take {
        let step = papers.len() as f64 / n.max(1) as f64;
        papers = (0..n.min(papers.len()))
            .map(|k| papers[(k as f64 * step) as usize].clone())
            .collect();
    }
    println!(
        "{}: {} papers, {} files, {} parse warnings",
        dir.display(),
        papers.len(),
        loaded.files,
        loaded.warnings.len()
    );
    let started = Instant::now();
    let model = Embedder::shipped()?;
    let vectors = model.paper_vectors(&papers, Recipe::for_model(model.kind()), |_| {});
    eprintln!("embedded in {:.1} s", started.elapsed().as_secs_f64());
    print_vectors(&vectors);
    print_terms(&papers);
    if args.iter().any(|a| a == "--bm25") {
        print_hits(&dir, take.is_some(), &model)?;
    }
    Ok(())
}

/// Cosines of each probed paper to its 1st and 10th nearest other paper, and to the centroid.
fn print_vectors(vectors: &[Vec<f32>]) {
    let step = vectors.len().div_ceil(PROBES).max(1);
    let probes: Vec<usize> = (0..vectors.len()).step_by(step).collect();
    let neighbours: Vec<(f32, f32)> = probes
        .par_iter()
        .map(|&i| {
            let mut best = [f32::NEG_INFINITY; DEPTH];
            for (j, v) in vectors.iter().enumerate() {
                let c = dot(&vectors[i], v);
                if j != i && c > best[DEPTH - 1] {
                    best[DEPTH - 1] = c;
                    best.sort_by(|a, b| b.total_cmp(a));
                }
            }
            (best[0], best[DEPTH - 1])
        })
        .collect();
    let first: Vec<f64> = neighbours.iter().map(|n| f64::from(n.0)).collect();
    let tenth: Vec<f64> = neighbours.iter().map(|n| f64::from(n.1)).collect();
    let mut centroid = vec![0f32; vectors.first().map_or(0, Vec::len)];
    for v in vectors {
        centroid.iter_mut().zip(v).for_each(|(c, x)| *c += x);
    }
    normalize(&mut centroid);
    let to_centroid: Vec<f64> = vectors
        .iter()
        .map(|v| f64::from(dot(v, &centroid)))
        .collect();
    println!(
        "nearest cosine ({} probes): {}",
        probes.len(),
        quantiles(first)
    );
    println!("10th nearest cosine: {}", quantiles(tenth));
    let share =
        |t: f32| neighbours.iter().filter(|n| n.0 >= t).count() as f64 / probes.len() as f64;
    println!(
        "share of nearest >= 0.90: {:.3}, >= 0.95: {:.3}",
        share(0.90),
        share(0.95)
    );
    println!("cosine to the centroid: {}", quantiles(to_centroid));
}

/// Lengths, vocabulary and its growth (Heaps' exponent between N/4 and N).
fn print_terms(papers: &[Paper]) {
    let words = |p: &Paper| p.abstract_en.split_whitespace().count() as f64;
    let chars = |p: &Paper| p.abstract_zh.chars().count() as f64;
    let titles = |p: &Paper| p.title_en.split_whitespace().count() as f64;
    println!(
        "abstract_en words: {}",
        quantiles(papers.iter().map(words).collect())
    );
    println!(
        "abstract_zh chars: {}",
        quantiles(papers.iter().map(chars).collect())
    );
    println!(
        "title_en words: {}",
        quantiles(papers.iter().map(titles).collect())
    );
    let vocabulary = |papers: &[Paper]| {
        let mut seen: HashSet<String> = HashSet::new();
        for p in papers {
            let text = format!("{} {}", p.title_en, p.abstract_en);
            for w in text.split(|c: char| !c.is_alphanumeric()) {
                if !w.is_empty() && w.is_ascii() {
                    seen.insert(w.to_lowercase());
                }
            }
        }
        seen.len()
    };
    let (quarter, all) = (vocabulary(&papers[..papers.len() / 4]), vocabulary(papers));
    let heaps = (all as f64 / quarter as f64).ln() / 4f64.ln();
    println!(
        "English vocabulary: {all} words ({quarter} in the first quarter; Heaps' beta {heaps:.3})"
    );
}

/// BM25 matches of the judged queries.
fn print_hits(dir: &Path, subsampled: bool, model: &Embedder) -> anyhow::Result<()> {
    anyhow::ensure!(
        !subsampled,
        "--bm25 indexes the whole DIGESTS, not a --take"
    );
    let index = tempfile::tempdir()?;
    update::index_files(
        index.path(),
        &[dir.to_path_buf()],
        model,
        UpdateOptions::default(),
        &Quiet,
    )?;
    let engine = Engine::open_with_words(index.path())?;
    let n = engine.papers()?.len() as f64;
    let queries =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/queries.tsv"))?;
    let mut shares = Vec::new();
    for line in queries.lines().filter(|l| !l.starts_with('#')) {
        let Some(text) = line.split('\t').nth(1) else {
            continue;
        };
        let ranking = engine.rank(&SearchRequest::new(text).mode(Mode::Bm25))?;
        shares.push(ranking.total as f64);
    }
    println!(
        "BM25 matches of {} judged queries (of {n} papers): {}",
        shares.len(),
        quantiles(shares)
    );
    Ok(())
}

/// `p10 p50 p90 mean` of `values`.
fn quantiles(mut values: Vec<f64>) -> String {
    if values.is_empty() {
        return "-".into();
    }
    values.sort_by(f64::total_cmp);
    let at = |p: f64| values[((values.len() - 1) as f64 * p).round() as usize];
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    format!(
        "p10 {:.3} p50 {:.3} p90 {:.3} mean {:.3}",
        at(0.1),
        at(0.5),
        at(0.9),
        mean
    )
}
