//! Labels: each topic described by its most distinctive English and Chinese terms, its most
//! central papers, its embedding centroid and which papers are outliers.
//!
//! Terms are scored by class-based TF-IDF (a term's share of the topic's words times how rare it
//! is across topics) multiplied by how concentrated the term is in the topic, so words common to
//! every topic do not crowd out the distinctive ones. English stems are shown in their commonest
//! surface form; bigrams get a bonus and a word already inside a chosen phrase is skipped, so a
//! label is not "language model, language, model".

use rayon::prelude::*;

use super::model::{Assignment, Topic, TopicModel, TopicParams};
use super::terms::{DocTerms, Vocabulary};
use crate::embed::{dot, mean_direction};
use crate::paper::Paper;

/// Top label terms per topic by class-based TF-IDF times concentration (`groups[c]` holds the
/// term ids of topic c's papers), as term ids.
fn labels(groups: &[Vec<&Vec<u32>>], how_many: usize, vocabulary: &Vocabulary) -> Vec<Vec<u32>> {
    // Counted in an array over the vocabulary, not a hash map: a topic's words are millions of
    // lookups at 100k papers, and the array needs no hashing or probing.
    let per_group: Vec<Vec<(u32, f32)>> = groups
        .par_iter()
        .map_init(
            || vec![0u32; vocabulary.len()],
            |counts, docs| {
                let mut seen = Vec::new();
                for &t in docs.iter().flat_map(|terms| terms.iter()) {
                    let c = &mut counts[t as usize];
                    if *c == 0 {
                        seen.push(t);
                    }
                    *c += 1;
                }
                seen.iter()
                    .map(|&t| (t, std::mem::take(&mut counts[t as usize]) as f32))
                    .collect()
            },
        )
        .collect();
    let mut total = vec![0f32; vocabulary.len()];
    for counts in &per_group {
        for &(t, c) in counts {
            total[t as usize] += c;
        }
    }
    // Summed in f64: past 2^24 words (~50k papers) an f32 sum rounds.
    let avg_words = (per_group
        .iter()
        .flatten()
        .map(|&(_, c)| f64::from(c))
        .sum::<f64>()
        / groups.len().max(1) as f64) as f32;
    per_group
        .par_iter()
        .map(|counts| {
            let size: f32 = counts.iter().map(|&(_, c)| c).sum::<f32>().max(1.0);
            let mut scored: Vec<(u32, &str, f32)> = counts
                .iter()
                .filter(|&&(_, c)| c >= 3.0)
                .map(|&(t, c)| {
                    let f = total[t as usize];
                    let term = vocabulary.term(t);
                    let bigram_bonus = if term.contains(' ') { 1.5 } else { 1.0 };
                    (
                        t,
                        term,
                        c / size * (1.0 + avg_words / f).ln() * (c / f).sqrt() * bigram_bonus,
                    )
                })
                .collect();
            scored.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.1.cmp(b.1)));
            let mut chosen: Vec<u32> = Vec::new();
            let mut chosen_stems: Vec<&str> = Vec::new();
            for (id, t, _) in scored {
                // A word already inside a chosen phrase (or a phrase of chosen words) adds nothing.
                let overlaps = chosen_stems.iter().any(|c| {
                    c.split(' ').any(|w| w == t)
                        || t.split(' ').any(|w| w == *c)
                        || (t.contains(' ') && t.split(' ').all(|w| chosen_stems.contains(&w)))
                });
                if overlaps {
                    continue;
                }
                chosen_stems.push(t);
                chosen.push(id);
                if chosen.len() == how_many {
                    break;
                }
            }
            chosen
        })
        .collect()
}

/// The topics of a clustering (`assignment[i]` indexes `centroids`, both in the `points` space):
/// labels, the three most central papers, a centroid in the embedding space of `vectors` and
/// each paper's assignment, outliers marked.
#[allow(clippy::too_many_arguments)]
pub(super) fn describe(
    papers: &[Paper],
    vectors: &[Vec<f32>],
    docs: &[DocTerms],
    vocabulary: &Vocabulary,
    points: &[Vec<f32>],
    assignment: &[usize],
    centroids: &[Vec<f32>],
    params: TopicParams,
) -> TopicModel {
    let k = centroids.len();
    let closeness: Vec<f32> = points
        .iter()
        .zip(assignment)
        .map(|(p, &a)| dot(p, &centroids[a]))
        .collect();
    let mean = closeness.iter().sum::<f32>() / closeness.len().max(1) as f32;
    let sd = (closeness.iter().map(|c| (c - mean).powi(2)).sum::<f32>()
        / closeness.len().max(1) as f32)
        .sqrt();
    // Far below the typical closeness: an outlier (shown as topic -1, its nearest topic kept).
    let outlier_below = mean - 2.0 * sd;
    let en_groups: Vec<Vec<&Vec<u32>>> = (0..k)
        .map(|c| {
            docs.iter()
                .zip(assignment)
                .filter(|&(_, &a)| a == c)
                .map(|(d, _)| &d.en)
                .collect()
        })
        .collect();
    let zh_groups: Vec<Vec<&Vec<u32>>> = (0..k)
        .map(|c| {
            docs.iter()
                .zip(assignment)
                .filter(|&(_, &a)| a == c)
                .map(|(d, _)| &d.zh)
                .collect()
        })
        .collect();
    let label_en = labels(&en_groups, 25, vocabulary);
    let label_zh = labels(&zh_groups, 25, vocabulary);
    let shown = vocabulary.shown_forms(papers, &label_en.concat());
    let words =
        |ids: &[u32]| -> Vec<String> { ids.iter().map(|&id| shown.of(id).to_string()).collect() };
    let topics = (0..k)
        .map(|c| {
            let mut members: Vec<usize> =
                (0..papers.len()).filter(|&i| assignment[i] == c).collect();
            members.sort_by(|&a, &b| closeness[b].total_cmp(&closeness[a]).then(a.cmp(&b)));
            let own: Vec<&[f32]> = members
                .iter()
                .filter_map(|&i| vectors.get(i).map(Vec::as_slice))
                // A paper whose vector is not made yet has none; the centroid is made again
                // from every member once they all have one (`recentre`).
                .filter(|v| !v.is_empty())
                .collect();
            Topic {
                id: c,
                size: members.len(),
                label_en: words(&label_en[c]),
                label_zh: words(&label_zh[c]),
                representative: members
                    .iter()
                    .take(3)
                    .map(|&i| papers[i].arxiv_id.clone())
                    .collect(),
                centroid: mean_direction(&own),
            }
        })
        .collect();
    let assignments = papers
        .iter()
        .enumerate()
        .map(|(i, p)| Assignment {
            arxiv_id: p.arxiv_id.clone(),
            topic: if closeness[i] < outlier_below {
                -1
            } else {
                assignment[i] as i64
            },
            nearest: assignment[i],
            closeness: closeness[i],
        })
        .collect();
    TopicModel {
        params,
        topics,
        assignments,
        seconds: 0.0,
    }
}
