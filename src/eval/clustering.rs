//! Clustering: partitions compared with reference labels, and topic models scored.
//!
//! NMI and ARI compare the topics with the papers' arXiv categories; both are reported because
//! they rank settings differently (fewer topics raise ARI and lower NMI, BENCHMARKS.md "Topics").
//! Labels are scored by NPMI of each topic's top terms over the collection's documents
//! (coherence) and by the unique share of all topics' label terms (diversity).
//!
//! Topic quality lives here rather than in `topics` so that the model depends on nothing that
//! evaluates it: `topics` importing `eval` closed a module cycle through `vectors` and `store`.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::paper::Paper;
use crate::topics::{TopicModel, category_group, doc_terms};

/// Cell counts by (truth class, predicted class), row sums, column sums.
type Contingency = (HashMap<(usize, usize), f64>, Vec<f64>, Vec<f64>);

fn contingency<T: std::hash::Hash + Eq, U: std::hash::Hash + Eq>(a: &[T], b: &[U]) -> Contingency {
    let mut ai: HashMap<&T, usize> = HashMap::new();
    let mut bi: HashMap<&U, usize> = HashMap::new();
    let mut table = HashMap::new();
    for (x, y) in a.iter().zip(b) {
        let next_a = ai.len();
        let i = *ai.entry(x).or_insert(next_a);
        let next_b = bi.len();
        let j = *bi.entry(y).or_insert(next_b);
        *table.entry((i, j)).or_insert(0.0) += 1.0;
    }
    let mut rows = vec![0.0; ai.len()];
    let mut cols = vec![0.0; bi.len()];
    for (&(i, j), &c) in &table {
        rows[i] += c;
        cols[j] += c;
    }
    (table, rows, cols)
}

/// Normalised mutual information (arithmetic mean normalisation, as scikit-learn's default).
pub(crate) fn nmi<T: std::hash::Hash + Eq, U: std::hash::Hash + Eq>(
    truth: &[T],
    predicted: &[U],
) -> f64 {
    let n = truth.len() as f64;
    if n == 0.0 {
        return 0.0;
    }
    let (table, rows, cols) = contingency(truth, predicted);
    let entropy = |v: &[f64]| {
        -v.iter()
            .filter(|&&c| c > 0.0)
            .map(|&c| c / n * (c / n).ln())
            .sum::<f64>()
    };
    let mi: f64 = table
        .iter()
        .map(|(&(i, j), &c)| c / n * ((c * n) / (rows[i] * cols[j])).ln())
        .sum();
    let (h1, h2) = (entropy(&rows), entropy(&cols));
    if h1 + h2 == 0.0 {
        1.0
    } else {
        2.0 * mi / (h1 + h2)
    }
}

/// Adjusted Rand index.
pub(crate) fn ari<T: std::hash::Hash + Eq, U: std::hash::Hash + Eq>(
    truth: &[T],
    predicted: &[U],
) -> f64 {
    let n = truth.len() as f64;
    let (table, rows, cols) = contingency(truth, predicted);
    let pairs = |x: f64| x * (x - 1.0) / 2.0;
    let index: f64 = table.values().map(|&c| pairs(c)).sum();
    let sum_rows: f64 = rows.iter().map(|&c| pairs(c)).sum();
    let sum_cols: f64 = cols.iter().map(|&c| pairs(c)).sum();
    let expected = sum_rows * sum_cols / pairs(n).max(1.0);
    let max = (sum_rows + sum_cols) / 2.0;
    if (max - expected).abs() < f64::EPSILON {
        1.0
    } else {
        (index - expected) / (max - expected)
    }
}

/// How good a topic model is: agreement with arXiv categories and quality of its labels.
#[derive(Debug, Clone, Serialize)]
pub struct TopicQuality {
    /// Topics in the model.
    pub topics: usize,
    /// Papers scored.
    pub papers: usize,
    /// Papers with a category in their digest entry, on which NMI and ARI are computed.
    pub labelled_papers: usize,
    /// NMI of the papers' nearest topics against their category groups.
    pub nmi: f64,
    /// ARI of the same.
    pub ari: f64,
    /// Mean NPMI of each topic's top-10 English and top-10 Chinese label terms, over documents.
    pub npmi_en: f64,
    /// The same for the Chinese labels.
    pub npmi_zh: f64,
    /// Unique share of all topics' top-25 label terms (both languages).
    pub diversity: f64,
    /// Share of papers marked as outliers (topic -1).
    pub outlier_share: f64,
    /// The largest topic's share of the papers.
    pub largest_topic_share: f64,
    /// Time the model's fit took.
    pub fit_seconds: f64,
}

/// Scores `model` (fitted over `papers`, in the same order): NMI and ARI of each paper's nearest
/// topic against its category group (papers without a category left out), NPMI of the labels
/// over the papers' own terms, label diversity, and the outlier and largest-topic shares.
pub fn topic_quality(papers: &[Paper], model: &TopicModel) -> TopicQuality {
    let (docs, vocabulary) = doc_terms(papers);
    let predicted: Vec<usize> = model.assignments.iter().map(|a| a.nearest).collect();
    let (truth, pred): (Vec<String>, Vec<usize>) = papers
        .iter()
        .zip(&predicted)
        .filter_map(|(p, &t)| category_group(p).map(|c| (c, t)))
        .unzip();
    // Label words back to term ids: English labels are shown in surface form.
    let ids: Vec<u32> = (0..vocabulary.len() as u32).collect();
    let shown = vocabulary.shown_forms(papers, &ids);
    let id_of: HashMap<&str, u32> = ids.iter().map(|&id| (shown.of(id), id)).collect();
    let npmi = |lang_zh: bool| {
        let sets: Vec<HashSet<u32>> = docs
            .iter()
            .map(|d| {
                if lang_zh { &d.zh } else { &d.en }
                    .iter()
                    .copied()
                    .collect()
            })
            .collect();
        let scores: Vec<f64> = model
            .topics
            .iter()
            .map(|t| {
                let words: Vec<Option<u32>> = if lang_zh { &t.label_zh } else { &t.label_en }
                    .iter()
                    .take(10)
                    .map(|w| id_of.get(w.as_str()).copied())
                    .collect();
                npmi_of(&words, &sets)
            })
            .collect();
        scores.iter().sum::<f64>() / scores.len().max(1) as f64
    };
    let all_top: Vec<&String> = model
        .topics
        .iter()
        .flat_map(|t| t.label_en.iter().take(25).chain(t.label_zh.iter().take(25)))
        .collect();
    let unique: HashSet<&String> = all_top.iter().copied().collect();
    let outliers = model.assignments.iter().filter(|a| a.topic < 0).count();
    let largest = model.topics.iter().map(|t| t.size).max().unwrap_or(0);
    TopicQuality {
        topics: model.topics.len(),
        papers: papers.len(),
        labelled_papers: truth.len(),
        nmi: nmi(&truth, &pred),
        ari: ari(&truth, &pred),
        npmi_en: npmi(false),
        npmi_zh: npmi(true),
        diversity: unique.len() as f64 / all_top.len().max(1) as f64,
        outlier_share: outliers as f64 / papers.len().max(1) as f64,
        largest_topic_share: largest as f64 / papers.len().max(1) as f64,
        fit_seconds: model.seconds,
    }
}

/// Mean normalised PMI over the pairs of `words` (term ids; `None` for a word no document has),
/// from document co-occurrence.
fn npmi_of(words: &[Option<u32>], docs: &[HashSet<u32>]) -> f64 {
    let n = docs.len().max(1) as f64;
    let df = |pred: &dyn Fn(&HashSet<u32>) -> bool| docs.iter().filter(|d| pred(d)).count() as f64;
    let has = |d: &HashSet<u32>, w: Option<u32>| w.is_some_and(|w| d.contains(&w));
    let single: Vec<f64> = words.iter().map(|&w| df(&|d| has(d, w))).collect();
    let mut total = 0.0;
    let mut pairs = 0.0;
    for i in 0..words.len() {
        for j in i + 1..words.len() {
            let joint = df(&|d| has(d, words[i]) && has(d, words[j]));
            pairs += 1.0;
            if joint == 0.0 || single[i] == 0.0 || single[j] == 0.0 {
                total -= 1.0;
                continue;
            }
            let p_ij = joint / n;
            let pmi = (p_ij / ((single[i] / n) * (single[j] / n))).ln();
            let denom = -p_ij.ln();
            total += if denom > 0.0 { pmi / denom } else { 1.0 };
        }
    }
    if pairs > 0.0 { total / pairs } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_partitions_score_one_and_relabelling_does_not_matter() {
        let truth = ["a", "a", "b", "b", "c"];
        let same = [7, 7, 3, 3, 9];
        assert!((nmi(&truth, &same) - 1.0).abs() < 1e-12);
        assert!((ari(&truth, &same) - 1.0).abs() < 1e-12);
        let merged = [1, 1, 1, 1, 1];
        assert!(nmi(&truth, &merged).abs() < 1e-12);
        assert!(ari(&truth, &merged).abs() < 1e-12);
    }
}
