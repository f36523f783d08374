//! Topics: the collection clustered, each cluster labelled in English and Chinese.
//!
//! Representation: LSA (truncated SVD of the TF-IDF matrix of the analyzers' terms), measured
//! better than the paper vectors for clustering on this corpus (BENCHMARKS.md). Clustering:
//! spherical k-means (k-means++ seeding, fixed seed). Labels: class-based TF-IDF over English
//! stems (shown in their commonest surface form, bigrams included) and jieba words, weighted by
//! how concentrated a term is in the topic, so words common to every topic do not crowd out the
//! distinctive ones. Each topic also keeps its centroid in the embedding space, so papers added
//! later are assigned without a refit.
//!
//! One step per file: `terms` (the words), `lsa` (the representation), `kmeans` (the clusters),
//! `labels` (describing them), `hierarchy` (the coarse level); `model` holds the model types.
//! This file holds the pipeline that runs the steps, and what is done with a fitted model.

mod hierarchy;
mod kmeans;
mod labels;
mod lsa;
mod model;
mod rng;
mod terms;
mod word_vectors;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use crate::embed::normalize;
use crate::paper::Paper;

use hierarchy::coarsen;
// Topic quality (in eval) scores labels against the same terms the labels were chosen from.
pub(crate) use terms::{DocTerms, doc_terms};

use kmeans::{dissolve_small, kmeans_from, nearest};
use labels::describe;
use lsa::lsa;
pub use model::{
    Assignment, Representation, Topic, TopicModel, TopicPapers, TopicParams, TopicSummary,
    TopicsView,
};
use rng::Rng;
use terms::{MAX_TERMS, tfidf};
pub use word_vectors::{SharedTerms, WordParams, WordVectors};

/// The coarse level of `model`: about a third as many broader topics (at least two), merged
/// from the fitted ones by their papers' vectors (`vectors_by_paper`, in paper-number order).
pub(crate) fn coarse(
    model: &TopicModel,
    papers: &[Paper],
    vectors_by_paper: &[Vec<f32>],
) -> TopicModel {
    let target = (model.topics.len() / 3).max(2);
    coarsen(model, papers, vectors_by_paper, target)
}

/// Fits topics over `papers` (`vectors[i]` is paper i's embedding vector).
pub(crate) fn fit(
    papers: &[Paper],
    vectors: &[Vec<f32>],
    params: TopicParams,
    on_step: &(dyn Fn(&str) + Sync),
) -> TopicModel {
    fit_from(papers, vectors, params, None, on_step)
}

/// Fits the topics again, starting from `previous`: each of its topics' papers give a starting
/// centroid, so a topic the new papers leave alone comes out as it was. (A refit from random
/// seeds reshuffled most topics after one more month: 2 of 9 continued on 2024-02..04.)
/// Ids are then kept by [`keep_ids`].
pub(crate) fn refit(
    papers: &[Paper],
    vectors: &[Vec<f32>],
    params: TopicParams,
    previous: &TopicModel,
    on_step: &(dyn Fn(&str) + Sync),
) -> TopicModel {
    let mut model = fit_from(papers, vectors, params, Some(previous), on_step);
    keep_ids(previous, &mut model, CONTINUED_SHARE);
    model
}

/// A new topic continues an old one when more than this share of each one's papers (those both
/// fits know) are in the other.
pub(crate) const CONTINUED_SHARE: f64 = 0.5;

fn fit_from(
    papers: &[Paper],
    vectors: &[Vec<f32>],
    params: TopicParams,
    previous: Option<&TopicModel>,
    on_step: &(dyn Fn(&str) + Sync),
) -> TopicModel {
    let started = Instant::now();
    let mut rng = Rng(params.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    on_step("terms");
    let (docs, vocabulary) = doc_terms(papers);
    on_step("lsa");
    let (rows, terms) = tfidf(&docs, &vocabulary, MAX_TERMS);
    let lsa_points = lsa(&rows, terms, params.lsa_dims, &mut rng);
    let points: Vec<Vec<f32>> = match params.representation {
        Representation::Lsa => lsa_points,
        Representation::Vectors => vectors.to_vec(),
        Representation::Both => lsa_points
            .iter()
            .zip(vectors)
            .map(|(a, b)| {
                let mut v: Vec<f32> = a.iter().chain(b).copied().collect();
                normalize(&mut v);
                v
            })
            .collect(),
    };
    on_step("clustering");
    let k = params
        .topics
        .unwrap_or_else(|| ((papers.len() as f64 / 15.0).sqrt().round() as usize).clamp(2, 60));
    let initial = previous.map_or_else(Vec::new, |m| starting_centroids(m, papers, &points));
    let (assignment, centroids) = kmeans_from(&points, initial, k, &mut rng);
    let (assignment, centroids) = dissolve_small(&points, assignment, centroids, params.min_size);
    on_step("labels");
    let model = describe(
        papers,
        vectors,
        &docs,
        &vocabulary,
        &points,
        &assignment,
        &centroids,
        params,
    );
    TopicModel {
        seconds: started.elapsed().as_secs_f64(),
        ..model
    }
}

/// The mean direction, in this fit's space, of each previous topic's papers that are still
/// here; largest topics first, so a smaller `k` keeps the biggest.
fn starting_centroids(
    previous: &TopicModel,
    papers: &[Paper],
    points: &[Vec<f32>],
) -> Vec<Vec<f32>> {
    let at: HashMap<&str, usize> = papers
        .iter()
        .enumerate()
        .map(|(i, p)| (p.arxiv_id.as_str(), i))
        .collect();
    let mut members: BTreeMap<usize, Vec<&[f32]>> = BTreeMap::new();
    for a in &previous.assignments {
        if let Some(&i) = at.get(a.arxiv_id.as_str()) {
            members.entry(a.nearest).or_default().push(&points[i]);
        }
    }
    let mut groups: Vec<(usize, Vec<&[f32]>)> = members.into_iter().collect();
    groups.sort_by_key(|(id, m)| (std::cmp::Reverse(m.len()), *id));
    groups
        .into_iter()
        .map(|(_, m)| crate::embed::mean_direction(&m))
        .collect()
}

/// Assigns papers the model has not seen (indexed after the fit) to the topic whose embedding
/// centroid is nearest, keeping every existing topic, id and label. Returns whether any was added.
pub(crate) fn extend(model: &mut TopicModel, papers: &[Paper], vectors: &[Vec<f32>]) -> bool {
    let known: HashSet<&str> = model
        .assignments
        .iter()
        .map(|a| a.arxiv_id.as_str())
        .collect();
    let centroids: Vec<Vec<f32>> = model.topics.iter().map(|t| t.centroid.clone()).collect();
    let mut added = Vec::new();
    for (p, v) in papers.iter().zip(vectors) {
        if known.contains(p.arxiv_id.as_str()) || centroids.is_empty() {
            continue;
        }
        let (best, closeness) = nearest(v, &centroids);
        let id = model.topics[best].id;
        added.push(Assignment {
            arxiv_id: p.arxiv_id.clone(),
            topic: id as i64,
            nearest: id,
            closeness,
        });
    }
    for a in &added {
        if let Some(t) = model.topics.iter_mut().find(|t| t.id == a.nearest) {
            t.size += 1;
        }
    }
    let changed = !added.is_empty();
    model.assignments.extend(added);
    changed
}

/// Makes each topic's centroid again from its members' `vectors` (paper-number order), as a
/// fit makes it: members most central first, so the sum runs in the same order. For a model
/// fitted while some papers had no vector yet (words first), once they all have one.
pub(crate) fn recentre(model: &mut TopicModel, vectors: &[Vec<f32>]) {
    for topic in &mut model.topics {
        let mut members: Vec<(usize, f32)> = model
            .assignments
            .iter()
            .enumerate()
            .filter(|(_, a)| a.nearest == topic.id)
            .map(|(i, a)| (i, a.closeness))
            .collect();
        members.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let own: Vec<&[f32]> = members
            .iter()
            .filter_map(|&(i, _)| vectors.get(i).map(Vec::as_slice))
            .filter(|v| !v.is_empty())
            .collect();
        topic.centroid = crate::embed::mean_direction(&own);
    }
}

/// The reference labels for NMI/ARI: a paper's primary category where the digest names it,
/// grouped as the sample listings are (cs.* and stat.* by category, other archives whole).
pub(crate) fn category_group(p: &Paper) -> Option<String> {
    let category = p.category.clone()?;
    let archive = category.split('.').next().unwrap_or_default().to_string();
    Some(if archive == "cs" || archive == "stat" {
        category
    } else {
        archive
    })
}

/// Paper counts per topic and month (`YYYY-MM` of first submission), outliers by nearest topic.
pub fn over_time(papers: &[Paper], model: &TopicModel) -> BTreeMap<usize, BTreeMap<String, usize>> {
    let mut table: BTreeMap<usize, BTreeMap<String, usize>> = BTreeMap::new();
    for (p, a) in papers.iter().zip(&model.assignments) {
        if let Some((y, m)) = p.year_month() {
            *table
                .entry(a.nearest)
                .or_default()
                .entry(format!("{y}-{m:02}"))
                .or_default() += 1;
        }
    }
    table
}

/// Gives refitted topics the ids of the old topics they continue: a new topic continues an old
/// one when more than `min_share` of the papers of each (counting papers both fits know) are in
/// the other; the largest overlaps are matched first. Other topics get fresh ids above every old
/// one, so an id never comes back meaning something else. Returns how many ids were kept.
/// (Matching by embedding-centroid cosine instead depended on the model: after `--rebuild`
/// with another model the centroids are not comparable.)
pub(crate) fn keep_ids(old: &TopicModel, new: &mut TopicModel, min_share: f64) -> usize {
    let old_of: HashMap<&str, usize> = old
        .assignments
        .iter()
        .map(|a| (a.arxiv_id.as_str(), a.nearest))
        .collect();
    let mut shared: HashMap<(usize, usize), usize> = HashMap::new();
    let mut new_known: HashMap<usize, usize> = HashMap::new();
    let mut old_present: HashMap<usize, usize> = HashMap::new();
    for a in &new.assignments {
        if let Some(&o) = old_of.get(a.arxiv_id.as_str()) {
            *shared.entry((a.nearest, o)).or_default() += 1;
            *new_known.entry(a.nearest).or_default() += 1;
            *old_present.entry(o).or_default() += 1;
        }
    }
    let mut pairs: Vec<((usize, usize), usize)> = shared
        .into_iter()
        .filter(|&((n, o), count)| {
            count as f64 > min_share * new_known[&n] as f64
                && count as f64 > min_share * old_present[&o] as f64
        })
        .collect();
    pairs.sort_by_key(|&((n, o), count)| (std::cmp::Reverse(count), n, o));
    let mut taken: HashSet<usize> = HashSet::new();
    let mut rename: HashMap<usize, usize> = HashMap::new();
    for ((n, o), _) in pairs {
        if !rename.contains_key(&n) && taken.insert(o) {
            rename.insert(n, o);
        }
    }
    let kept = rename.len();
    let mut order: Vec<usize> = (0..new.topics.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(new.topics[i].size), new.topics[i].id));
    let mut next = old.topics.iter().map(|t| t.id + 1).max().unwrap_or(0);
    for &i in &order {
        let current = new.topics[i].id;
        if let std::collections::hash_map::Entry::Vacant(slot) = rename.entry(current) {
            while taken.contains(&next) {
                next += 1;
            }
            slot.insert(next);
            taken.insert(next);
        }
    }
    for t in &mut new.topics {
        t.id = rename[&t.id];
    }
    for a in &mut new.assignments {
        a.nearest = rename[&a.nearest];
        if a.topic >= 0 {
            a.topic = a.nearest as i64;
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::terms::LABEL_STOP_EN;
    use super::*;

    fn paper(id: usize, en: &str, zh: &str) -> Paper {
        Paper {
            arxiv_id: format!("2401.{id:05}"),
            title_en: en.to_string(),
            abstract_en: format!("{en} {en}"),
            title_zh: zh.to_string(),
            summary_zh: zh.to_string(),
            abstract_zh: zh.to_string(),
            ..Paper::default()
        }
    }

    fn two_topic_collection() -> Vec<Paper> {
        let mut papers = Vec::new();
        for i in 0..20 {
            papers.push(paper(
                i,
                &format!("Hallucination detection benchmark for language generation variant {i}"),
                "大模型幻觉检测基准与评估",
            ));
            papers.push(paper(
                100 + i,
                &format!(
                    "Portfolio optimization with volatility forecasting for stock markets case {i}"
                ),
                "股票市场波动率预测与投资组合优化",
            ));
        }
        papers
    }

    fn fit_two_topics() -> (Vec<Paper>, TopicModel) {
        let papers = two_topic_collection();
        let vectors = vec![vec![1.0f32, 0.0]; papers.len()];
        let params = TopicParams {
            topics: Some(2),
            min_size: 2,
            ..TopicParams::default()
        };
        let model = fit(&papers, &vectors, params, &|_| {});
        (papers, model)
    }

    #[test]
    fn two_obvious_topics_are_found_and_labelled_with_their_own_words() {
        let (_, model) = fit_two_topics();
        assert_eq!(model.topics.len(), 2);
        let topic_of = |id: &str| {
            model
                .assignments
                .iter()
                .find(|a| a.arxiv_id == id)
                .map(|a| a.nearest)
        };
        assert_eq!(topic_of("2401.00000"), topic_of("2401.00019"));
        assert_ne!(topic_of("2401.00000"), topic_of("2401.00100"));
        let hallucination = topic_of("2401.00000").unwrap_or(0);
        let finance = 1 - hallucination;
        let en = model.topics[hallucination].label_en.join(" ");
        assert!(en.contains("hallucination"), "{en}");
        assert!(
            model.topics[finance]
                .label_en
                .join(" ")
                .contains("portfolio")
        );
        assert!(
            model.topics[hallucination]
                .label_zh
                .iter()
                .any(|w| w.contains("幻觉")),
            "{:?}",
            model.topics[hallucination].label_zh
        );
        for t in &model.topics {
            for w in t.label_en.iter().chain(&t.label_zh) {
                assert!(
                    !LABEL_STOP_EN.split_whitespace().any(|s| s == w),
                    "stop word {w}"
                );
                assert!(!w.chars().all(|c| c.is_ascii_digit()), "number {w}");
            }
        }
    }

    #[test]
    fn refitted_topics_keep_the_ids_of_the_topics_they_continue() {
        let topic = |id, size| Topic {
            id,
            size,
            label_en: vec![],
            label_zh: vec![],
            representative: vec![],
            centroid: vec![1.0],
        };
        let assign = |pairs: &[(&str, usize)]| -> Vec<Assignment> {
            pairs
                .iter()
                .map(|&(id, t)| Assignment {
                    arxiv_id: id.into(),
                    topic: t as i64,
                    nearest: t,
                    closeness: 1.0,
                })
                .collect()
        };
        let old = TopicModel {
            params: TopicParams::default(),
            topics: vec![topic(0, 3), topic(1, 2), topic(5, 2)],
            assignments: assign(&[
                ("a", 0),
                ("b", 0),
                ("c", 0),
                ("d", 1),
                ("e", 1),
                ("f", 5),
                ("g", 5),
            ]),
            seconds: 0.0,
        };
        // New topic 0 holds old 1's papers and a new one; new 1 holds old 0's; new 2 mixes old
        // 0 and 5 with no majority of old 5, so it is a new topic.
        let mut new = TopicModel {
            topics: vec![topic(0, 3), topic(1, 2), topic(2, 3)],
            assignments: assign(&[
                ("d", 0),
                ("e", 0),
                ("new", 0),
                ("a", 1),
                ("b", 1),
                ("c", 2),
                ("f", 2),
                ("x", 2),
            ]),
            ..old.clone()
        };
        let kept = keep_ids(&old, &mut new, 0.5);
        let ids: Vec<usize> = new.topics.iter().map(|t| t.id).collect();
        assert_eq!(
            ids,
            vec![1, 0, 6],
            "continued topics keep their ids; others get fresh ones"
        );
        assert_eq!(kept, 2);
        assert!(new.assignments.iter().all(|a| a.topic == a.nearest as i64));
    }

    #[test]
    fn the_same_input_gives_the_same_topics() {
        let (_, a) = fit_two_topics();
        let (_, b) = fit_two_topics();
        assert_eq!(a.topics, b.topics);
        assert_eq!(a.assignments, b.assignments);
    }
}
