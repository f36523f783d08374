//! What an [`Engine`](super::Engine) answers: ranked papers with what a reader needs to judge
//! them, and how the answer was produced.

use serde::Serialize;

use super::request::{Mode, Sort};
use crate::hybrid::{Fused, Why};
use crate::paper::PaperNumber;

/// One result of a search or a related query, with what a reader needs to judge it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchResult {
    /// 1-based position.
    pub rank: usize,
    /// arXiv id without version.
    pub arxiv_id: String,
    /// The version indexed, when known.
    pub version: Option<u32>,
    /// English title.
    pub title_en: String,
    /// Chinese title.
    pub title_zh: String,
    /// Chinese one-line summary.
    pub summary_zh: String,
    /// Primary category (or the first listing).
    pub category: Option<String>,
    /// Month of first submission (`2024-03`), from the arXiv id; `None` for old-style ids.
    pub month: Option<String>,
    /// The paper's arXiv page, `https://arxiv.org/abs/<id>`.
    pub url: String,
    /// The score in the mode used (BM25, cosine or fused).
    pub score: f32,
    /// Where the result came from: each side's rank and score, and the fused score.
    pub why: Why,
    /// A fragment of the abstract around the matched words.
    pub snippet: String,
    /// Byte ranges of `snippet` that matched the query.
    pub highlights: Vec<(usize, usize)>,
    /// Why a related paper is related (shared terms, meaning); `None` for a search.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub related: Option<RelatedWhy>,
    /// The paper's number in the index (not shown: it changes between indexes).
    #[serde(skip)]
    pub number: PaperNumber,
}

/// Why `related` shows a paper: the terms it shares with the seeds (or the text), in both
/// languages where they have them, and how close it is in words and in meaning.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RelatedWhy {
    /// Shared English terms (bigrams included), heaviest in the word similarity first.
    pub terms_en: Vec<String>,
    /// Shared Chinese words, heaviest first.
    pub terms_zh: Vec<String>,
    /// Cosine of the papers' TF-IDF word vectors, 0..=1.
    pub words: f32,
    /// Cosine of the papers' e5 vectors (for a text: of the text's vector and the paper's view
    /// in the text's script).
    pub meaning: f32,
}

/// A ranked answer and how it was produced.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchResponse {
    /// The query as given (or what a related search is related to).
    pub query: String,
    /// The query as typed, when it matched nothing and `query` is its spelling correction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrected_from: Option<String>,
    /// A spelling correction of a query some of whose words matched nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub did_you_mean: Option<String>,
    /// The ranking used (BM25 when hybrid fell back).
    pub mode: Mode,
    /// How hybrid fused the two sides (`adaptive`, `convex 0.30`, `rrf`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fusion: Option<String>,
    /// Time to answer, milliseconds.
    pub took_ms: f64,
    /// Papers that matched before the cut to `limit` (for vectors: the papers allowed).
    pub total: usize,
    /// Where the page starts in the whole ranked list (0 for the first page).
    pub offset: usize,
    /// How the results are ordered.
    pub sort: Sort,
    /// The papers a related search is related to, in the order given (empty otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub seeds: Vec<Seed>,
    /// The results, best first.
    pub results: Vec<SearchResult>,
    /// What the answer could not use (e.g. damaged vectors), each one line.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A paper a related search started from: what a reader needs to recognise it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Seed {
    /// arXiv id without version.
    pub arxiv_id: String,
    /// English title.
    pub title_en: String,
}

/// One ranked paper: its number, its score in the mode asked for, and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// The paper.
    pub number: PaperNumber,
    /// Its score in the mode asked for.
    pub score: f32,
    /// Where it came from.
    pub why: Why,
    /// Why a related paper is related; `None` for a search.
    pub related: Option<RelatedWhy>,
}

impl From<Fused> for Ranked {
    fn from(f: Fused) -> Self {
        Ranked {
            number: f.number,
            score: f.why.fused,
            why: f.why,
            related: None,
        }
    }
}

/// A ranking without the result records: the papers, best first, and how many matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// The ranked papers, best first, at most as deep as the request's page reaches.
    pub ranked: Vec<Ranked>,
    /// Papers that matched before the cut.
    pub total: usize,
}
