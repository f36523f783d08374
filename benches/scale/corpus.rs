//! A synthetic corpus of N papers in the digest format, made by recombining the real papers of
//! data/digests the way an archive grows: around existing topics. Each new paper is seeded by one
//! real paper and takes its parts from that paper or its nearest real neighbours (by shared
//! rare English words): title halves, abstract sentences in thirds, halves of the one-line
//! summaries. Seeds run through every real paper once per pass (listing by listing), so no
//! paper is over-used, and every part of a new paper shares its topic (six unrelated sources,
//! as the earlier versions drew, averaged every paper toward the centroid: nearest-neighbour
//! cosine 0.84 at 8,320 papers against the real papers' 0.75; BENCHMARKS.md "Scale"). The
//! English and Chinese sides of an abstract come from the same sources in the same shares, so
//! they still say roughly the same thing. Fresh arXiv ids; deterministic for a seed.
//! `examples/corpus_fidelity.rs` measures how real the result looks.
//!
//! Shared by `examples/generate_corpus.rs` and `benches/scale.rs`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use paperscope::Paper;
use paperscope::digest;
use paperscope::paper::{Variant, abs_url};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

/// Papers a digest file holds (the real ones hold 10-300).
const PER_FILE: usize = 250;
/// Papers per month of ids: about arXiv's monthly volume.
const PER_MONTH: usize = 20_000;
/// Fresh ids start here, past any real id of a month in the sample.
const FIRST_SEQUENCE: usize = 60_000;
/// Nearest real papers the first pass replaces a third of a seed's abstract from.
const NEAR_FIRST: usize = 8;
/// Nearest real papers a later pass draws a seed's six parts from: wide, so that two new
/// papers seldom share a part (at 64, growing a quarter of data/ to its size gave a median
/// nearest-neighbour cosine of 0.858; at 8, 0.91).
const NEAR_LATER: usize = 64;
/// A word in more than this share of papers says nothing about a paper's topic.
const COMMON_WORD_SHARE: f64 = 0.05;

/// The real papers recombined, in seed order (listing by listing), with each one's nearest.
pub struct Sources {
    papers: Vec<Paper>,
    listings: Vec<String>,
    by_listing: Vec<Vec<usize>>,
    neighbours: Vec<Vec<usize>>,
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
        let neighbours = nearest_by_words(&papers, NEAR_LATER);
        let (listings, by_listing) = groups.into_iter().unzip();
        Ok(Sources {
            papers,
            listings,
            by_listing,
            neighbours,
        })
    }

    /// The real papers.
    pub fn papers(&self) -> &[Paper] {
        &self.papers
    }

    /// Every real paper once, listing by listing in a random order, shuffled within each.
    fn pass(&self, rng: &mut StdRng) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.by_listing.len()).collect();
        order.shuffle(rng);
        order
            .into_iter()
            .flat_map(|l| {
                let mut pool = self.by_listing[l].clone();
                pool.shuffle(rng);
                pool
            })
            .collect()
    }

    /// The listing most of `seeds` come from (a file is one listing).
    fn listing_of(&self, seeds: &[usize]) -> &str {
        let mut counts: HashMap<usize, usize> = HashMap::new();
        for &s in seeds {
            if let Some(l) = self.by_listing.iter().position(|pool| pool.contains(&s)) {
                *counts.entry(l).or_default() += 1;
            }
        }
        let best = counts.into_iter().max_by_key(|&(l, n)| (n, usize::MAX - l));
        best.map_or("cs.LG", |(l, _)| &self.listings[l])
    }
}

/// Each paper's `k` nearest others by the cosine of their English words' TF-IDF (words in more
/// than [`COMMON_WORD_SHARE`] of papers, or in one, left out): topic neighbours, without an
/// embedding model (which would take longer than the generation).
fn nearest_by_words(papers: &[Paper], k: usize) -> Vec<Vec<usize>> {
    let bags: Vec<HashMap<String, f32>> = papers.par_iter().map(word_counts).collect();
    let mut df: HashMap<&str, usize> = HashMap::new();
    for bag in &bags {
        for w in bag.keys() {
            *df.entry(w).or_default() += 1;
        }
    }
    let n = papers.len() as f64;
    let max_df = (n * COMMON_WORD_SHARE).max(2.0) as usize;
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut postings: Vec<Vec<(usize, f32)>> = Vec::new();
    let weighted: Vec<Vec<(usize, f32)>> = bags
        .iter()
        .map(|bag| {
            let mut terms: Vec<(usize, f32)> = bag
                .iter()
                .filter(|(w, _)| (2..=max_df).contains(&df[w.as_str()]))
                .map(|(w, &tf)| {
                    let next = ids.len();
                    let id = *ids.entry(w.as_str()).or_insert(next);
                    let idf = (n / df[w.as_str()] as f64).ln() as f32;
                    (id, (1.0 + tf.ln()) * idf)
                })
                .collect();
            let norm = terms
                .iter()
                .map(|t| t.1 * t.1)
                .sum::<f32>()
                .sqrt()
                .max(1e-6);
            terms.iter_mut().for_each(|t| t.1 /= norm);
            terms
        })
        .collect();
    postings.resize(ids.len(), Vec::new());
    for (doc, terms) in weighted.iter().enumerate() {
        for &(id, w) in terms {
            postings[id].push((doc, w));
        }
    }
    (0..papers.len())
        .into_par_iter()
        .map_init(
            || vec![0f32; papers.len()],
            |scores, doc| {
                let mut touched = Vec::new();
                for &(id, w) in &weighted[doc] {
                    for &(other, v) in &postings[id] {
                        if scores[other] == 0.0 {
                            touched.push(other);
                        }
                        scores[other] += w * v;
                    }
                }
                let mut ranked: Vec<(usize, f32)> = touched
                    .into_iter()
                    .map(|other| (other, std::mem::take(&mut scores[other])))
                    .filter(|&(other, _)| other != doc)
                    .collect();
                ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                ranked.into_iter().take(k).map(|(other, _)| other).collect()
            },
        )
        .collect()
}

/// How often each lower-cased English word of the title and abstract occurs.
fn word_counts(p: &Paper) -> HashMap<String, f32> {
    let mut counts = HashMap::new();
    let text = format!("{} {}", p.title_en, p.abstract_en);
    for w in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        if w.len() > 2 {
            *counts.entry(w.to_ascii_lowercase()).or_default() += 1.0;
        }
    }
    counts
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
    let mut seeds = Vec::with_capacity(batch.papers + sources.papers.len());
    while seeds.len() < batch.papers {
        seeds.extend(sources.pass(&mut rng));
    }
    let mut files = Vec::new();
    for (k, chunk) in seeds[..batch.papers].chunks(PER_FILE).enumerate() {
        let position = batch.first + k * PER_FILE;
        let papers: Vec<Paper> = chunk
            .iter()
            .enumerate()
            .map(|(j, &seed)| {
                let pass = (position + j) / sources.papers.len();
                recombine(sources, seed, pass, position + j, &mut rng)
            })
            .collect();
        let month = position / PER_MONTH;
        let name = format!(
            "{}-{:02}-{:02}_{}_{:08x}.md",
            2023 + month / 12,
            1 + month % 12,
            1 + (position / PER_FILE) % 28,
            sources.listing_of(chunk),
            batch.seed as u32 ^ position as u32
        );
        let path = dir.join(name);
        std::fs::write(&path, digest::render::render(&papers))?;
        files.push(path);
    }
    Ok(files)
}

/// One new paper at position `i` of the id sequence around the real paper `seed`, in the
/// `pass`-th round of seeds. The first pass keeps the seed's title and one-line summaries and
/// replaces the last third of its abstract by that of a near paper: mixing more, even from
/// near papers, pulls the vectors toward the collection's centroid (a 2/3 share of neighbours'
/// text lifted the median nearest-neighbour cosine at 8,320 papers from the real 0.746 to
/// 0.80-0.84). Later passes cannot copy the seed again (its offspring would be near-duplicates
/// of one another: median 0.93 at 30k), so they draw seven parts from its near papers:
/// abstract thirds, title halves, and halves of the Chinese summary (whole summaries, each
/// reused by a dozen papers at 100k, made near pairs: growing a quarter of data/ to its size,
/// halves took the median nearest-neighbour cosine from 0.859 to 0.824, the real being 0.746).
fn recombine(sources: &Sources, seed: usize, pass: usize, i: usize, rng: &mut StdRng) -> Paper {
    let own = &sources.papers[seed];
    let near = &sources.neighbours[seed];
    let width = if pass == 0 { NEAR_FIRST } else { NEAR_LATER }.min(near.len());
    let mut pick = || match width {
        0 => own,
        _ => &sources.papers[near[rng.random_range(0..width)]],
    };
    let (parts, (t1, t2), (s1, s2)) = if pass == 0 {
        ([own, own, pick()], (own, own), (own, own))
    } else {
        ([pick(), pick(), pick()], (pick(), pick()), (pick(), pick()))
    };
    let id = id_of(i);
    let (abstract_en, abstract_zh) = (
        join_en(&thirds(parts.map(|p| sentences_en(&p.abstract_en)))),
        thirds(parts.map(|p| sentences_zh(&p.abstract_zh))).concat(),
    );
    let title_en = join_words(&halves(&words(&t1.title_en), &words(&t2.title_en), 0.5));
    let title_zh = halves(&chars(&t1.title_zh), &chars(&t2.title_zh), 0.5).concat();
    let variant = own.variant;
    Paper {
        arxiv_id: id.clone(),
        version: (variant != Variant::Plain).then_some(1),
        title_en,
        title_zh,
        summary_zh: halves(&chars(&s1.summary_zh), &chars(&s2.summary_zh), 0.5).concat(),
        summary_en: s1.summary_en.clone(),
        abstract_zh,
        abstract_en,
        category: own.category.clone(),
        announce_type: own.announce_type.clone(),
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
