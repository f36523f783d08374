//! Fusing the words side (BM25) and the meaning side (vectors) into one ranking.
//!
//! Measured on this corpus (BENCHMARKS.md): reciprocal rank fusion loses to BM25 alone because
//! the vector list is weak on precise concepts. What works is a convex combination of scores
//! where every candidate of either list gets both scores — its BM25 score relative to the best
//! one (0 when BM25 did not retrieve it) and its cosine to the query, computed exactly from the
//! stored vector — with a small weight on the cosine.

use std::collections::HashMap;

use serde::Serialize;

use crate::paper::PaperNumber;

/// Where a result came from: ranks and scores on each side, and the fused score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Why {
    /// 1-based rank in the BM25 list, if the paper is in it.
    pub bm25_rank: Option<usize>,
    /// BM25 score, if the paper is in the BM25 list.
    pub bm25_score: Option<f32>,
    /// 1-based rank in the vector list, if the paper is in it.
    pub vector_rank: Option<usize>,
    /// Cosine between the query and the paper (also for BM25-only candidates).
    pub cosine: Option<f32>,
    /// 1-based rank among the papers nearest the first results' meaning, when the feedback
    /// stage ran and the paper is among them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback_rank: Option<usize>,
    /// Cosine to the first results' mean direction, when the feedback stage ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback_cosine: Option<f32>,
    /// The fused score the list is ordered by.
    pub fused: f32,
}

/// A paper of the fused list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fused {
    /// The paper.
    pub number: PaperNumber,
    /// Where it came from.
    pub why: Why,
}

/// How two ranked lists become one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Fusion {
    /// Reciprocal rank fusion: sum of 1 / (k + rank) over the lists a paper is in.
    Rrf {
        /// Damping constant (60 in the literature).
        #[serde(serialize_with = "written")]
        k: f32,
    },
    /// `(1 - alpha) * bm25 / max bm25 + alpha * min-max normalised cosine`, over all candidates.
    Convex {
        /// Weight of the vector side, 0..=1.
        #[serde(serialize_with = "written")]
        alpha: f32,
    },
    /// Convex, with the vector weight set per query by how close the nearest paper is: the
    /// vectors are trusted only when some paper is really near the query (top cosine `low` ->
    /// weight 0, `high` and above -> `max_alpha`).
    Adaptive {
        /// The vector weight when the nearest paper is at least `high`.
        #[serde(serialize_with = "written")]
        max_alpha: f32,
        /// Top cosine at or below which the vectors get no weight.
        #[serde(serialize_with = "written")]
        low: f32,
        /// Top cosine from which the vectors get `max_alpha`.
        #[serde(serialize_with = "written")]
        high: f32,
    },
}

/// `value` as a person writes it: the shortest decimal that reads back as the same `f32`
/// (0.35, where widening the `f32` to `f64` would show 0.3499999940395355), for JSON files
/// that people and other engines read.
pub fn as_written(value: f32) -> f64 {
    value.to_string().parse().unwrap_or(f64::from(value))
}

fn written<S: serde::Serializer>(value: &f32, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(as_written(*value))
}

impl Fusion {
    /// A short name for output: `adaptive`, `convex 0.30`, `rrf`.
    pub fn name(self) -> String {
        match self {
            Fusion::Rrf { .. } => "rrf".into(),
            Fusion::Convex { alpha } => format!("convex {alpha:.2}"),
            Fusion::Adaptive { .. } => "adaptive".into(),
        }
    }

    /// The vector weight this fusion gives a query whose nearest paper has cosine `top_cosine`.
    pub fn alpha(self, top_cosine: f32) -> f32 {
        match self {
            Fusion::Rrf { .. } => 0.5,
            Fusion::Convex { alpha } => alpha,
            Fusion::Adaptive {
                max_alpha,
                low,
                high,
            } => {
                let t = ((top_cosine - low) / (high - low).max(f32::EPSILON)).clamp(0.0, 1.0);
                max_alpha * t
            }
        }
    }
}

impl Fusion {
    /// The static model's hybrid fusion, chosen on tests/queries.tsv (BENCHMARKS.md): in the
    /// middle of a plateau of settings that all beat BM25 alone overall and in every query
    /// group. (e5's fusion is fixed: `search::default_fusion` picks per model.)
    pub const ADAPTIVE: Fusion = Fusion::Adaptive {
        max_alpha: 0.5,
        low: 0.4,
        high: 0.8,
    };

    /// For `related`, where the "query" is a whole paper and paper-to-paper cosine is reliable:
    /// measured with examples/sweep_related.rs (precision@10 0.38 against 0.21 for BM25
    /// more-like-this alone and 0.26 for vectors alone; 0.5 to 0.7 are about equally good).
    pub const RELATED: Fusion = Fusion::Convex { alpha: 0.6 };
}

/// Fuses two ranked lists (`(paper, score)`, best first). `cosine_of` gives a candidate's cosine
/// to the query when it is not in the vector list (None: no vector).
pub fn fuse(
    bm25: &[(PaperNumber, f32)],
    vector: &[(PaperNumber, f32)],
    cosine_of: impl Fn(PaperNumber) -> Option<f32>,
    fusion: Fusion,
) -> Vec<Fused> {
    let mut by_paper: HashMap<PaperNumber, Why> = HashMap::new();
    let blank = Why::default();
    for (rank, &(paper, score)) in bm25.iter().enumerate() {
        let why = by_paper.entry(paper).or_insert(blank);
        if why.bm25_rank.is_none() {
            why.bm25_rank = Some(rank + 1);
            why.bm25_score = Some(score);
        }
    }
    for (rank, &(paper, cosine)) in vector.iter().enumerate() {
        let why = by_paper.entry(paper).or_insert(blank);
        if why.vector_rank.is_none() {
            why.vector_rank = Some(rank + 1);
            why.cosine = Some(cosine);
        }
    }
    match fusion {
        Fusion::Rrf { k } => {
            for why in by_paper.values_mut() {
                let part = |rank: Option<usize>| rank.map_or(0.0, |r| 1.0 / (k + r as f32));
                why.fused = part(why.bm25_rank) + part(why.vector_rank);
            }
        }
        Fusion::Convex { .. } | Fusion::Adaptive { .. } => {
            let alpha = fusion.alpha(vector.first().map_or(0.0, |&(_, c)| c));
            for (&paper, why) in by_paper.iter_mut() {
                if why.cosine.is_none() {
                    why.cosine = cosine_of(paper);
                }
            }
            let best_bm25 = bm25.iter().map(|&(_, s)| s).fold(0.0f32, f32::max);
            let cosines: Vec<f32> = by_paper.values().filter_map(|w| w.cosine).collect();
            let low = cosines.iter().copied().fold(f32::INFINITY, f32::min);
            let high = cosines.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            for why in by_paper.values_mut() {
                let words = match why.bm25_score {
                    Some(s) if best_bm25 > 0.0 => s / best_bm25,
                    _ => 0.0,
                };
                let meaning = match why.cosine {
                    Some(c) if high > low => (c - low) / (high - low),
                    Some(_) => 1.0,
                    None => 0.0,
                };
                why.fused = (1.0 - alpha) * words + alpha * meaning;
            }
        }
    }
    let mut fused: Vec<Fused> = by_paper
        .into_iter()
        .map(|(number, why)| Fused { number, why })
        .collect();
    // Ties: the paper BM25 ranked higher, then the lower paper number, so output is deterministic.
    fused.sort_by(|a, b| {
        b.why
            .fused
            .total_cmp(&a.why.fused)
            .then(
                a.why
                    .bm25_rank
                    .unwrap_or(usize::MAX)
                    .cmp(&b.why.bm25_rank.unwrap_or(usize::MAX)),
            )
            .then(a.number.cmp(&b.number))
    });
    fused
}

/// Mean and standard deviation of `values` (standard deviation at least a small floor, so a
/// signal that does not vary among the candidates adds nothing rather than noise).
pub(crate) fn moments(values: &[f32]) -> (f32, f32) {
    let n = values.len().max(1) as f32;
    let mean = values.iter().sum::<f32>() / n;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    (mean, var.sqrt().max(1e-6))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(fused: &[Fused]) -> Vec<u32> {
        fused.iter().map(|f| f.number.0).collect()
    }

    /// `(paper number, score)` pairs from bare numbers.
    fn list(pairs: &[(u32, f32)]) -> Vec<(PaperNumber, f32)> {
        pairs.iter().map(|&(n, s)| (PaperNumber(n), s)).collect()
    }

    #[test]
    fn rrf_rewards_papers_in_both_lists() {
        let fused = fuse(
            &list(&[(1, 9.0), (2, 8.0)]),
            &list(&[(3, 0.9), (2, 0.8)]),
            |_| None,
            Fusion::Rrf { k: 60.0 },
        );
        assert_eq!(fused[0].number, PaperNumber(2));
        assert_eq!(fused.len(), 3);
    }

    #[test]
    fn ties_break_by_bm25_rank_then_number() {
        // Equal BM25 scores and no vector weight: equal fused scores, BM25's order kept even
        // though paper 4 has the lower number.
        let fused = fuse(
            &list(&[(5, 1.0), (4, 1.0)]),
            &[],
            |_| None,
            Fusion::Convex { alpha: 0.0 },
        );
        assert_eq!(fused[0].why.fused, fused[1].why.fused, "a real tie");
        assert_eq!(ids(&fused), vec![5, 4]);
        // Equal cosines and only vector weight, neither in BM25: the lower number first.
        let fused = fuse(
            &[],
            &list(&[(9, 0.5), (7, 0.5)]),
            |_| None,
            Fusion::Convex { alpha: 1.0 },
        );
        assert_eq!(fused[0].why.fused, fused[1].why.fused, "a real tie");
        assert_eq!(ids(&fused), vec![7, 9]);
    }

    #[test]
    fn one_empty_list_keeps_the_other_order() {
        let bm25 = list(&[(1, 3.0), (2, 2.0), (3, 1.0)]);
        assert_eq!(
            ids(&fuse(&bm25, &[], |_| None, Fusion::ADAPTIVE)),
            vec![1, 2, 3]
        );
        let vector = list(&[(7, 0.9), (8, 0.5)]);
        assert_eq!(
            ids(&fuse(&[], &vector, |_| None, Fusion::ADAPTIVE)),
            vec![7, 8]
        );
        assert!(fuse(&[], &[], |_| None, Fusion::ADAPTIVE).is_empty());
    }

    #[test]
    fn disjoint_lists_are_merged_with_both_scores_known() {
        let cosines = HashMap::from([(1, 0.2f32), (2, 0.1), (3, 0.9), (4, 0.8)]);
        let fused = fuse(
            &list(&[(1, 10.0), (2, 5.0)]),
            &list(&[(3, 0.9), (4, 0.8)]),
            |p| cosines.get(&p.0).copied(),
            Fusion::Convex { alpha: 0.3 },
        );
        assert_eq!(fused.len(), 4);
        assert_eq!(
            fused[0].number,
            PaperNumber(1),
            "BM25's best stays first at a small vector weight"
        );
        let why = fused
            .iter()
            .find(|f| f.number == PaperNumber(1))
            .map(|f| f.why)
            .expect("paper 1");
        assert_eq!((why.bm25_rank, why.vector_rank), (Some(1), None));
        assert_eq!(
            why.cosine,
            Some(0.2),
            "cosine looked up for a BM25-only paper"
        );
    }

    #[test]
    fn duplicates_in_a_list_count_once_at_their_best_rank() {
        let fused = fuse(
            &list(&[(1, 5.0), (1, 4.0), (2, 3.0)]),
            &[],
            |_| None,
            Fusion::Rrf { k: 60.0 },
        );
        assert_eq!(fused.len(), 2);
        assert_eq!(fused[0].why.bm25_rank, Some(1));
    }

    #[test]
    fn adaptive_weight_follows_the_nearest_cosine() {
        let f = Fusion::Adaptive {
            max_alpha: 0.5,
            low: 0.4,
            high: 0.8,
        };
        assert_eq!(f.alpha(0.3), 0.0);
        assert!((f.alpha(0.6) - 0.25).abs() < 1e-6);
        assert_eq!(f.alpha(0.9), 0.5);
    }

    #[test]
    fn alpha_one_is_pure_vector_order() {
        let cosines = HashMap::from([(1, 0.1f32), (2, 0.9)]);
        let fused = fuse(
            &list(&[(1, 10.0), (2, 1.0)]),
            &[],
            |p| cosines.get(&p.0).copied(),
            Fusion::Convex { alpha: 1.0 },
        );
        assert_eq!(ids(&fused), vec![2, 1]);
    }
}
