//! The second stage of hybrid and vector search: meaning feedback. The first results' paper
//! vectors point at what the query meant even when its words are not the papers' ("how can a
//! model forget what it was trained on" finds one unlearning paper, whose vector then finds the
//! others). Every paper near the mean direction of the top few joins the candidates; each
//! candidate's first-stage score and its cosine to that direction are z-scored over the
//! candidates and added, the cosine with a weight.

use super::Meaning;
use super::tuning::FeedbackParams;
use crate::embed::{dot, mean_direction};
use crate::hybrid::{Fused, Why, moments};
use crate::paper::PaperNumber;
use crate::vectors::views::Script;

/// Words that open a question, English and Chinese, lower case.
const QUESTION_OPENINGS: [&str; 16] = [
    "how",
    "what",
    "why",
    "which",
    "can",
    "could",
    "does",
    "do",
    "is",
    "are",
    "should",
    "如何",
    "怎么",
    "怎样",
    "为什么",
    "能否",
];

/// Whether `query` describes a need rather than naming it: a question, or a sentence (7 words
/// or more, 10 Chinese characters or more). The feedback stage runs only for those: on named
/// topics ("hallucination benchmark") the words already find the papers, and the first
/// results' mean direction pulls in neighbouring topics (measured: English nDCG@10 0.898 ->
/// 0.874 with feedback on every query, BENCHMARKS.md).
pub fn describes_a_need(query: &str) -> bool {
    let trimmed = query.trim();
    let lower = trimmed.to_lowercase();
    let first_word = lower.split_whitespace().next().unwrap_or_default();
    let question = trimmed.ends_with('?')
        || trimmed.ends_with('？')
        || QUESTION_OPENINGS
            .iter()
            .any(|w| first_word == *w || (!w.is_ascii() && lower.starts_with(w)))
        || ["吗", "呢"]
            .iter()
            .any(|end| trimmed.trim_end_matches(['?', '？']).ends_with(end));
    let latin_words = trimmed
        .split(|c: char| !c.is_alphanumeric() || crate::text::is_cjk(c))
        .filter(|w| w.chars().any(|c| c.is_ascii_alphabetic()))
        .count();
    let han = trimmed.chars().filter(|&c| crate::text::is_cjk(c)).count();
    question || latin_words >= 7 || han >= 10
}

/// The query a feedback stage follows: its vector and script (scored as the first stage did),
/// and the papers its filters allow.
pub(super) struct FirstStage<'a> {
    pub(super) vector: &'a [f32],
    pub(super) script: Script,
    pub(super) allowed: Option<&'a [bool]>,
}

/// `first` (the first stage's candidates, best first) ranked again with meaning feedback,
/// best first. Returned as it is when no first result has a vector.
pub(super) fn with_feedback(
    meaning: &Meaning,
    first: Vec<Fused>,
    query: FirstStage,
    params: FeedbackParams,
) -> Vec<Fused> {
    let allowed = query.allowed;
    let top: Vec<&[f32]> = first
        .iter()
        .take(params.papers)
        .filter_map(|f| meaning.vectors.vector_of(f.number))
        .collect();
    if top.is_empty() {
        return first;
    }
    let direction = mean_direction(&top);
    let near = meaning.vectors.search(&direction, params.depth, allowed);
    // A paper the first stage did not find ranks, on that side, below every one it found.
    let floor = first
        .iter()
        .map(|f| f.why.fused)
        .fold(f32::INFINITY, f32::min);
    let mut candidates = first;
    let known: rustc_hash::FxHashSet<PaperNumber> = candidates.iter().map(|f| f.number).collect();
    for &(number, _) in &near {
        if !known.contains(&number) {
            let why = Why {
                cosine: meaning.query_score(query.vector, query.script, number),
                fused: floor,
                ..Why::default()
            };
            candidates.push(Fused { number, why });
        }
    }
    let feedback: Vec<f32> = candidates
        .iter()
        .map(|f| {
            meaning
                .vectors
                .vector_of(f.number)
                .map_or(0.0, |v| dot(&direction, v))
        })
        .collect();
    let first_scores: Vec<f32> = candidates.iter().map(|f| f.why.fused).collect();
    let z = |values: &[f32]| -> Vec<f32> {
        let (mean, spread) = moments(values);
        values.iter().map(|v| (v - mean) / spread).collect()
    };
    let (first_z, feedback_z) = (z(&first_scores), z(&feedback));
    let rank_near: rustc_hash::FxHashMap<PaperNumber, usize> = near
        .iter()
        .enumerate()
        .map(|(rank, &(number, _))| (number, rank + 1))
        .collect();
    for (i, candidate) in candidates.iter_mut().enumerate() {
        candidate.why.feedback_rank = rank_near.get(&candidate.number).copied();
        candidate.why.feedback_cosine = Some(feedback[i]);
        candidate.why.fused = first_z[i] + params.weight * feedback_z[i];
    }
    candidates.sort_by(|a, b| {
        b.why
            .fused
            .total_cmp(&a.why.fused)
            .then(a.number.cmp(&b.number))
    });
    candidates
}

#[cfg(test)]
mod tests {
    use super::describes_a_need;

    #[test]
    fn questions_and_sentences_describe_a_need_named_topics_do_not() {
        for need in [
            "how can a language model forget private training data",
            "LLMs replacing annotators?",
            "如何减少大模型的幻觉",
            "大模型能否用于推荐系统",
            "making blurry or low-resolution photos sharp and clean again",
            "给一张照片，自动找出画面里每个人的手脚和身体关节在哪里",
        ] {
            assert!(describes_a_need(need), "{need}");
        }
        for topic in [
            "hallucination benchmark",
            "code generation with large language models",
            "大语言模型 推荐系统",
            "幻觉 基准",
            "Howard Hughes",
        ] {
            assert!(!describes_a_need(topic), "{topic}");
        }
    }
}
