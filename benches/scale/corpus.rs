//! A synthetic corpus of N papers in the digest format, made by recombining the real papers of
//! data/digests: each new paper takes its title halves from two real papers, its abstract's
//! sentences in thirds from three others and its one-line summaries from a sixth, all of one
//! listing, under a fresh arXiv id, so term and length statistics stay those of real digests.
//! The English and Chinese sides of an abstract come from the same source papers, so they still
//! say roughly the same thing. Deterministic for a seed.
//!
//! Shared by `examples/generate_corpus.rs` and `benches/scale.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use paperscope::Paper;
use paperscope::digest;
use paperscope::paper::{Variant, abs_url};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Papers a digest file holds (the real ones hold 10-300).
const PER_FILE: usize = 250;
/// Papers per month of ids: about arXiv's monthly volume.
const PER_MONTH: usize = 20_000;
/// Fresh ids start here, past any real id of a month in the sample.
const FIRST_SEQUENCE: usize = 60_000;

/// The real papers recombined, grouped by the listing they were read from.
pub struct Sources {
    papers: Vec<Paper>,
    by_listing: Vec<(String, Vec<usize>)>,
}

impl Sources {
    /// The papers of the digests in `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let files = digest::digest_files(&[dir.to_path_buf()])?;
        let papers = digest::load(&files, || {})?.papers;
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, p) in papers.iter().enumerate() {
            let listing = p
                .listings
                .first()
                .cloned()
                .unwrap_or_else(|| "cs.LG".into());
            groups.entry(listing).or_default().push(i);
        }
        Ok(Sources {
            papers,
            by_listing: groups.into_iter().collect(),
        })
    }

    /// The real papers.
    pub fn papers(&self) -> &[Paper] {
        &self.papers
    }
}

/// Where a generated batch starts: its first paper's place in the id sequence (so a later batch
/// gets ids no earlier batch used).
#[derive(Debug, Clone, Copy)]
pub struct Batch {
    /// Papers.
    pub papers: usize,
    /// Position of the first paper in the id sequence.
    pub first: usize,
    /// Seed of the random choices.
    pub seed: u64,
}

/// The arXiv id of position `i` of the sequence: 20k papers a month from January 2023.
fn id_of(i: usize) -> String {
    let month = i / PER_MONTH;
    let (year, month) = (23 + month / 12, 1 + month % 12);
    format!("{year:02}{month:02}.{:05}", FIRST_SEQUENCE + i % PER_MONTH)
}

/// The files of a batch: digests of [`PER_FILE`] papers, each file one listing, written to `dir`.
pub fn write_batch(sources: &Sources, batch: Batch, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut rng = StdRng::seed_from_u64(batch.seed);
    let mut files = Vec::new();
    let mut start = 0;
    while start < batch.papers {
        let count = PER_FILE.min(batch.papers - start);
        // A listing in proportion to its papers (a random paper's), not uniformly: a uniform
        // pick gave small listings' few papers hundreds of generated copies.
        let paper = rng.random_range(0..sources.papers.len());
        let (listing, pool) = sources
            .by_listing
            .iter()
            .find(|(_, pool)| pool.contains(&paper))
            .unwrap_or(&sources.by_listing[0]);
        let papers: Vec<Paper> = (0..count)
            .map(|k| recombine(sources, pool, batch.first + start + k, &mut rng))
            .collect();
        let position = batch.first + start;
        let month = position / PER_MONTH;
        let name = format!(
            "{}-{:02}-{:02}_{listing}_{:08x}.md",
            2023 + month / 12,
            1 + month % 12,
            1 + (position / PER_FILE) % 28,
            batch.seed as u32 ^ position as u32
        );
        let path = dir.join(name);
        std::fs::write(&path, digest::render::render(&papers))?;
        files.push(path);
        start += count;
    }
    Ok(files)
}

/// One new paper at position `i` of the id sequence, from papers of `pool`: title halves of two
/// papers, the abstract in thirds from three others, the one-line summaries of a sixth. Taking
/// the summary and most of the abstract from one paper (as the first version did) gave ~12
/// generated papers per real one nearly its vector: at 100k, 74% of generated papers had a
/// neighbour at cosine >= 0.99, against none of the real papers (BENCHMARKS.md "Scale").
fn recombine(sources: &Sources, pool: &[usize], i: usize, rng: &mut StdRng) -> Paper {
    let mut pick = || &sources.papers[pool[rng.random_range(0..pool.len())]];
    let (t1, t2, s) = (pick(), pick(), pick());
    let parts = [pick(), pick(), pick()];
    let id = id_of(i);
    let (abstract_en, abstract_zh) = (
        join_en(&thirds(parts.map(|p| sentences_en(&p.abstract_en)))),
        thirds(parts.map(|p| sentences_zh(&p.abstract_zh))).concat(),
    );
    let title_en = join_words(&halves(&words(&t1.title_en), &words(&t2.title_en), 0.5));
    let title_zh = halves(&chars(&t1.title_zh), &chars(&t2.title_zh), 0.5).concat();
    let variant = parts[0].variant;
    Paper {
        arxiv_id: id.clone(),
        version: (variant != Variant::Plain).then_some(1),
        title_en,
        title_zh,
        summary_zh: s.summary_zh.clone(),
        summary_en: s.summary_en.clone(),
        abstract_zh,
        abstract_en,
        category: parts[0].category.clone(),
        announce_type: parts[0].announce_type.clone(),
        listing_note: None,
        url: abs_url(&id),
        variant,
        ..Paper::default()
    }
}

/// The first third of the first list, the middle third of the second, the last of the third
/// (the English and Chinese abstracts cut alike, so they still say roughly the same thing).
fn thirds<T: Clone>(lists: [Vec<T>; 3]) -> Vec<T> {
    let cut = |len: usize, k: usize| (len * k).div_ceil(3).min(len);
    let [a, b, c] = lists;
    let mut out = a[..cut(a.len(), 1).max(1.min(a.len()))].to_vec();
    out.extend_from_slice(&b[cut(b.len(), 1)..cut(b.len(), 2)]);
    out.extend_from_slice(&c[cut(c.len(), 2)..]);
    out
}

/// The first `share` of `first` followed by what comes after that share of `second`.
fn halves<T: Clone>(first: &[T], second: &[T], share: f64) -> Vec<T> {
    let cut = |len: usize| ((len as f64 * share).round() as usize).clamp(1.min(len), len);
    let mut out = first[..cut(first.len())].to_vec();
    out.extend_from_slice(&second[cut(second.len())..]);
    out
}

fn sentences_en(text: &str) -> Vec<String> {
    text.split_inclusive(". ")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn join_en(sentences: &[String]) -> String {
    sentences.join(" ")
}

fn sentences_zh(text: &str) -> Vec<String> {
    text.split_inclusive('。').map(str::to_string).collect()
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

fn join_words(words: &[String]) -> String {
    words.join(" ")
}

fn chars(text: &str) -> Vec<String> {
    text.chars().map(String::from).collect()
}
