//! How search and `related` rank: the measured defaults, and the settings an experiment may
//! change.

use crate::topics::WordParams;

/// Candidates each side contributes to fusion, whatever the number of results asked for.
pub const FUSION_DEPTH: usize = 100;

/// How `related` scores a candidate: the z-score of its word cosine plus `meaning` times the
/// z-score of its e5 cosine, both over the candidates of the query (the `depth` nearest by
/// each signal), so neither scale dominates whatever the seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelatedParams {
    /// The word vectors.
    pub words: WordParams,
    /// Weight of the meaning side's z-score (the word side's is 1).
    pub meaning: f32,
    /// Candidates each signal brings.
    pub depth: usize,
    /// A reading list scored as one vector (the normalised sum of its papers' word vectors, the
    /// mean direction of their e5 vectors) rather than as the mean of each paper's fused
    /// scores over the candidates of all of them.
    pub whole_list: bool,
}

impl Default for RelatedParams {
    /// Chosen on the tune half of tests/related_judged.tsv with examples/sweep_related.rs.
    fn default() -> Self {
        RelatedParams {
            words: WordParams::default(),
            meaning: 1.0,
            depth: 100,
            // Measured on lists of two and three highly relevant papers of each query of
            // tests/queries.tsv (P@10): as a whole 0.665 / 0.703, mean of seeds 0.681 / 0.706.
            whole_list: false,
        }
    }
}

/// How the feedback stage ranks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeedbackParams {
    /// Whether the stage runs only for queries that describe a need ([`describes_a_need`]).
    pub needs_only: bool,
    /// First results whose vectors give the feedback direction.
    pub papers: usize,
    /// Weight of the feedback cosine's z-score (the first stage's is 1).
    pub weight: f32,
    /// Papers nearest the feedback direction that join the candidates.
    pub depth: usize,
}

impl Default for FeedbackParams {
    /// Chosen on tests/queries.tsv and tests/queries_paraphrase_tune.tsv with
    /// examples/sweep_feedback.rs (BENCHMARKS.md, "Meaning feedback").
    fn default() -> Self {
        FeedbackParams {
            needs_only: true,
            papers: 2,
            weight: 0.75,
            depth: FUSION_DEPTH,
        }
    }
}
