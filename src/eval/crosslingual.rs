//! Cross-lingual known-item test: each paper's text in one language must find the paper's other
//! language side among all papers' vectors.
//!
//! Three tasks, all from the collection itself so no judgements are needed: the Chinese one-line
//! summary against the English title and abstract, the same summary with Latin-script words
//! removed (system names and acronyms appear in both languages and would match by spelling, not
//! meaning), and the English title against the Chinese side. Figures in BENCHMARKS.md
//! "Cross-lingual known-item retrieval".

use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::embed::cache::{EmbeddingCache, cached_or_embedded};
use crate::embed::{Embedder, chinese_side, english_side};
use crate::paper::Paper;
use crate::progress::Progress;

/// Known-item retrieval: query `i` should find document `i`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct KnownItem {
    /// Queries scored (empty queries are left out).
    pub queries: usize,
    /// Share of queries whose document ranks first.
    pub r1: f64,
    /// Share whose document is in the top 10.
    pub r10: f64,
    /// Mean reciprocal rank of the document (no cutoff).
    pub mrr: f64,
}

/// The three cross-lingual known-item tasks over one collection.
#[derive(Debug, Clone, Serialize)]
pub struct CrossLingual {
    /// Papers queried, each ranked among all of them.
    pub papers: usize,
    /// Chinese one-line summary -> English side (title + abstract) of every paper.
    pub zh_summary_to_en: KnownItem,
    /// The same with Latin-script words (system names, acronyms) removed from the query.
    pub zh_summary_no_latin_to_en: KnownItem,
    /// English title -> Chinese side (title + summary + abstract).
    pub en_title_to_zh: KnownItem,
    /// Time for all three, embedding included.
    pub seconds: f64,
}

static LATIN_WORD: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"[A-Za-z0-9]*[A-Za-z][A-Za-z0-9\-_.]*").expect("static regex")
});

/// Removes words written in Latin script, so only the Chinese wording can match.
pub(crate) fn without_latin_words(text: &str) -> String {
    LATIN_WORD.replace_all(text, "").into_owned()
}

fn matrix(vectors: Vec<Vec<f32>>, dims: usize) -> ndarray::Array2<f32> {
    let rows = vectors.len();
    let flat: Vec<f32> = vectors.into_iter().flatten().collect();
    ndarray::Array2::from_shape_vec((rows, dims), flat)
        .unwrap_or_else(|_| ndarray::Array2::zeros((rows, dims)))
}

/// Ranks of document `i` for query `i` (1 = first); `None` for an empty query.
pub(crate) fn known_item_ranks(
    queries: &ndarray::Array2<f32>,
    docs: &ndarray::Array2<f32>,
    empty: &[bool],
    stride: usize,
) -> Vec<Option<usize>> {
    let block = 256;
    let starts: Vec<usize> = (0..queries.nrows()).step_by(block).collect();
    starts
        .par_iter()
        .flat_map_iter(|&start| {
            let end = (start + block).min(queries.nrows());
            let scores = queries.slice(ndarray::s![start..end, ..]).dot(&docs.t());
            (start..end)
                .map(|i| {
                    if empty[i] {
                        return None;
                    }
                    let row = scores.row(i - start);
                    let own = row[i * stride];
                    Some(1 + row.iter().filter(|&&s| s > own).count())
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// R@1, R@10 and MRR of known-item ranks, over the non-empty queries.
pub(crate) fn summarize_ranks(ranks: &[Option<usize>]) -> KnownItem {
    let found: Vec<usize> = ranks.iter().flatten().copied().collect();
    let n = found.len().max(1) as f64;
    KnownItem {
        queries: found.len(),
        r1: found.iter().filter(|&&r| r == 1).count() as f64 / n,
        r10: found.iter().filter(|&&r| r <= 10).count() as f64 / n,
        mrr: found.iter().map(|&r| 1.0 / r as f64).sum::<f64>() / n,
    }
}

/// The cross-lingual known-item tests: every `stride`-th paper's texts are queries (embedded
/// as queries) against both sides of every paper (taken from the index's embedding `cache`
/// where it holds them, as indexing made them).
pub fn crosslingual(
    embedder: &Embedder,
    cache: &EmbeddingCache,
    papers: &[Paper],
    stride: usize,
    progress: &dyn Progress,
) -> CrossLingual {
    let stride = stride.max(1);
    let queries = papers.len().div_ceil(stride);
    progress.start("embedding", papers.len() * 2 + queries * 3);
    let report = run_crosslingual(embedder, cache, papers, stride, &|n| {
        (0..n).for_each(|_| progress.inc())
    });
    progress.finish();
    report
}

fn run_crosslingual(
    embedder: &Embedder,
    cache: &EmbeddingCache,
    papers: &[Paper],
    stride: usize,
    on_done: &(dyn Fn(usize) + Sync),
) -> CrossLingual {
    let started = Instant::now();
    let dims = embedder.dims();
    let documents = |texts: Vec<String>| {
        let vectors = cached_or_embedded(embedder, cache, &texts, on_done);
        matrix(vectors.into_iter().map(Vec::from).collect(), dims)
    };
    let queries = |texts: &[String]| {
        let vectors = texts
            .par_iter()
            .map(|t| {
                let v = embedder.embed_query(t);
                on_done(1);
                v
            })
            .collect();
        let empty: Vec<bool> = texts
            .iter()
            .map(|t| embedder.token_ids(t).is_empty())
            .collect();
        (matrix(vectors, dims), empty)
    };
    let sample: Vec<&Paper> = papers.iter().step_by(stride).collect();
    let summaries: Vec<String> = sample.iter().map(|p| p.summary_zh.clone()).collect();
    let no_latin: Vec<String> = summaries.iter().map(|s| without_latin_words(s)).collect();
    let titles: Vec<String> = sample.iter().map(|p| p.title_en.clone()).collect();
    let en_docs = documents(papers.iter().map(english_side).collect());
    let zh_docs = documents(papers.iter().map(chinese_side).collect());
    let (q_summary, e1) = queries(&summaries);
    let (q_no_latin, e2) = queries(&no_latin);
    let (q_title, e3) = queries(&titles);
    CrossLingual {
        papers: papers.len(),
        zh_summary_to_en: summarize_ranks(&known_item_ranks(&q_summary, &en_docs, &e1, stride)),
        zh_summary_no_latin_to_en: summarize_ranks(&known_item_ranks(
            &q_no_latin,
            &en_docs,
            &e2,
            stride,
        )),
        en_title_to_zh: summarize_ranks(&known_item_ranks(&q_title, &zh_docs, &e3, stride)),
        seconds: started.elapsed().as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_words_are_removed() {
        assert_eq!(
            without_latin_words("ERBench是一个LLMs幻觉基准 v2.0"),
            "是一个幻觉基准 "
        );
    }

    #[test]
    fn known_item_ranks_count_better_documents() {
        let q = ndarray::arr2(&[[1.0f32, 0.0], [0.0, 1.0]]);
        let d = ndarray::arr2(&[[0.9f32, 0.1], [0.95, 0.3]]);
        let ranks = known_item_ranks(&q, &d, &[false, false], 1);
        assert_eq!(ranks, vec![Some(2), Some(1)]);
        let summary = summarize_ranks(&ranks);
        assert_eq!((summary.r1, summary.r10, summary.mrr), (0.5, 1.0, 0.75));
    }
}
