//! How `related` scores: the measured defaults, and the settings an experiment may change.

use crate::topics::WordParams;

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
