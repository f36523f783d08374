//! Hierarchy: a coarser level of topics made by merging the fitted ones.
//!
//! Merging is agglomerative by Ward's criterion on the topics' embedding centroids: the cost of a
//! merge grows with the sizes of both sides, so a broad topic does not keep absorbing the others.
//! Plain centroid linkage did exactly that, ending with 78% of the papers in one topic.

use std::collections::HashMap;

use super::labels::describe;
use super::model::TopicModel;
use super::terms::doc_terms;
use crate::embed::{dot, normalize};
use crate::paper::Paper;

/// A coarser level: topics are merged pairwise by Ward's criterion on their embedding centroids
/// (closeness weighted by size, so one broad topic does not swallow the rest, as plain centroid
/// linkage did: 78% of papers in one topic) until `target` remain; labels and representatives
/// are recomputed for the merged topics.
pub(crate) fn coarsen(
    model: &TopicModel,
    papers: &[Paper],
    vectors: &[Vec<f32>],
    target: usize,
) -> TopicModel {
    if model.topics.is_empty() {
        // Nothing to merge (a model fitted on no papers); merging would index an empty list.
        return model.clone();
    }
    let mut groups: Vec<(Vec<usize>, Vec<f32>, usize)> = model
        .topics
        .iter()
        .map(|t| (vec![t.id], t.centroid.clone(), t.size))
        .collect();
    while groups.len() > target.max(1) {
        let mut best = (0, 1, f32::INFINITY);
        for i in 0..groups.len() {
            for j in i + 1..groups.len() {
                let (ni, nj) = (groups[i].2 as f32, groups[j].2 as f32);
                let cost = ni * nj / (ni + nj) * 2.0 * (1.0 - dot(&groups[i].1, &groups[j].1));
                if cost < best.2 {
                    best = (i, j, cost);
                }
            }
        }
        let (i, j, _) = best;
        let (ids, centroid, size) = groups.remove(j);
        let merged = &mut groups[i];
        let total = (merged.2 + size) as f32;
        let mut c: Vec<f32> = merged
            .1
            .iter()
            .zip(&centroid)
            .map(|(a, b)| (a * merged.2 as f32 + b * size as f32) / total)
            .collect();
        normalize(&mut c);
        merged.0.extend(ids);
        merged.1 = c;
        merged.2 += size;
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.2));
    let coarse_of: HashMap<usize, usize> = groups
        .iter()
        .enumerate()
        .flat_map(|(c, g)| g.0.iter().map(move |&id| (id, c)))
        .collect();
    let assignment: Vec<usize> = model
        .assignments
        .iter()
        .map(|a| coarse_of.get(&a.nearest).copied().unwrap_or(0))
        .collect();
    let centroids: Vec<Vec<f32>> = groups.into_iter().map(|g| g.1).collect();
    // Closeness at this level is measured in the embedding space the merge used.
    let points: Vec<Vec<f32>> = vectors.to_vec();
    let (docs, vocabulary) = doc_terms(papers);
    describe(
        papers,
        vectors,
        &docs,
        &vocabulary,
        &points,
        &assignment,
        &centroids,
        model.params,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topics::TopicParams;

    #[test]
    fn a_model_without_topics_coarsens_to_itself() {
        let empty = TopicModel {
            params: TopicParams::default(),
            topics: Vec::new(),
            assignments: Vec::new(),
            seconds: 0.0,
        };
        assert_eq!(coarsen(&empty, &[], &[], 3).topics.len(), 0);
    }
}
