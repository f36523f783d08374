//! Answering a query: ranked papers from the words side (BM25), the meaning side (vectors), with
//! what a reader needs to judge them.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use serde::Serialize;

use crate::embed::{Embedder, ModelSource, dot, mean_direction};
use crate::error::{Error, Result};
use crate::fulltext::Snippet;
use crate::hybrid::{Fused, Fusion, Why, fuse};
use crate::paper::PaperNumber;
use crate::query::{Filters, SearchQuery};
use crate::store::Store;
use crate::topics::{self, Topic, TopicModel};
use crate::vectors::VectorIndex;
use crate::vectors::views::{Script, ScriptViews};

/// Which ranking a search uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Words: BM25 over the bilingual text.
    Bm25,
    /// Meaning: nearest paper vectors, across languages.
    Vector,
    /// Both, fused (the default): words first, meaning where it is confident.
    Hybrid,
}

impl Mode {
    /// Every mode, in the order they are listed to users.
    pub const ALL: [Mode; 3] = [Mode::Hybrid, Mode::Bm25, Mode::Vector];

    /// The mode's name as users write it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Bm25 => "bm25",
            Mode::Vector => "vector",
            Mode::Hybrid => "hybrid",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self> {
        Mode::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(value.trim()))
            .ok_or_else(|| {
                Error::invalid(
                    "mode",
                    format!("unknown value {value:?} (hybrid, bm25, vector)"),
                )
            })
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The vector of `query` on the meaning side: its positive words without query stop words.
fn query_vector(embedder: &Embedder, query: &SearchQuery) -> Vec<f32> {
    embedder.embed_query(&crate::analyze::strip_query_stop_words(
        &query.positive_text(),
    ))
}

/// Hybrid search's fusion for vectors made by a model of `kind`, measured on the judged queries
/// (BENCHMARKS.md): e5's cosines sit in a narrow band (0.75-0.9), where the static model's
/// adaptive weight has nothing to adapt to; a fixed vector weight of 0.35 stays at BM25's level
/// on the tuned queries and lifts the held-out and paraphrase ones.
pub fn default_fusion(kind: crate::embed::ModelKind) -> Fusion {
    match kind {
        crate::embed::ModelKind::E5Small => Fusion::Convex { alpha: 0.35 },
        crate::embed::ModelKind::Static => Fusion::default(),
    }
}

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
    /// The paper's number in the index (not shown: it changes between indexes).
    #[serde(skip)]
    pub number: PaperNumber,
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

/// The order of results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Best first (the default).
    #[default]
    Relevance,
    /// Newest first by the month of first submission (from the arXiv id), ties best first.
    /// Orders the [`DATE_SORT_DEPTH`] most relevant papers (more when the page reaches
    /// further): every paper matches a vector query, so "all matches by date" would be the
    /// whole collection by date.
    Date,
}

impl Sort {
    /// Every order, as users write them.
    pub const ALL: [Sort; 2] = [Sort::Relevance, Sort::Date];

    /// The order's name as users write it.
    pub fn name(self) -> &'static str {
        match self {
            Sort::Relevance => "relevance",
            Sort::Date => "date",
        }
    }
}

impl std::str::FromStr for Sort {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self> {
        Sort::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(value.trim()))
            .ok_or_else(|| {
                Error::invalid("sort", format!("unknown value {value:?} (relevance, date)"))
            })
    }
}

/// How many of the most relevant papers `Sort::Date` orders by date.
pub const DATE_SORT_DEPTH: usize = 100;

/// Which slice of the ranked list to answer: `limit` results from position `offset` (0-based),
/// in `sort` order. The same paging for the CLI and the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Results skipped before the page (0 for the first page).
    pub offset: usize,
    /// Results on the page (at least 1).
    pub limit: usize,
    /// The order of the whole list the page is cut from.
    pub sort: Sort,
}

impl Page {
    /// The first `limit` results, best first.
    pub fn first(limit: usize) -> Page {
        Page {
            offset: 0,
            limit,
            sort: Sort::Relevance,
        }
    }

    /// How deep the relevance ranking must go for this page.
    fn depth(self) -> usize {
        let end = self.offset.saturating_add(self.limit);
        match self.sort {
            Sort::Relevance => end,
            Sort::Date => end.max(DATE_SORT_DEPTH),
        }
    }

    fn check(self) -> Result<()> {
        if self.limit == 0 {
            return Err(Error::invalid("limit", "must be at least 1"));
        }
        Ok(())
    }
}

/// The text a paper's more-like-this query is built from: English title twice, Chinese title,
/// summary and the English abstract. Leaving out the Chinese abstract (a translation of the
/// English one) raised related precision@10 from 0.34 to 0.38 (examples/sweep_related.rs).
fn related_texts(p: &crate::Paper) -> [String; 5] {
    [
        p.title_en.clone(),
        p.title_en.clone(),
        p.title_zh.clone(),
        p.summary_zh.clone(),
        p.abstract_en.clone(),
    ]
}

/// What `related` looks for papers like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelatedTo {
    /// One or more papers of the index, by arXiv id.
    Ids(Vec<String>),
    /// Any text, e.g. an abstract of a paper not in the index.
    Text(String),
}

/// One ranked paper: its number, its score in the mode asked for, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    /// The paper.
    pub number: PaperNumber,
    /// Its score in the mode asked for.
    pub score: f32,
    /// Where it came from.
    pub why: Why,
}

impl From<crate::hybrid::Fused> for Ranked {
    fn from(f: crate::hybrid::Fused) -> Self {
        Ranked {
            number: f.number,
            score: f.why.fused,
            why: f.why,
        }
    }
}

/// Candidates each side contributes to fusion, whatever the number of results asked for.
pub const FUSION_DEPTH: usize = 100;

/// Which topics to show: the fitted ones or broader merged ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TopicLevel {
    /// The fitted topics.
    #[default]
    Fine,
    /// About a third as many, merged from the fitted ones.
    Coarse,
}

impl std::str::FromStr for TopicLevel {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "fine" => Ok(TopicLevel::Fine),
            "coarse" => Ok(TopicLevel::Coarse),
            _ => Err(Error::invalid(
                "level",
                format!("unknown value {value:?} (fine, coarse)"),
            )),
        }
    }
}

/// The meaning side of an index: the embedding model and the paper vectors it made.
pub struct Meaning {
    /// The model that embeds queries (the one the vectors were made with); shared, so an engine
    /// reopened on a new generation does not load the model again.
    pub embedder: Arc<Embedder>,
    /// The paper vectors.
    pub vectors: VectorIndex,
    /// The papers' views per query script, when the index keeps them: a query is scored by
    /// them rather than by the paper vectors.
    pub views: Option<ScriptViews>,
}

impl Meaning {
    /// The `k` papers nearest the query vector `query` (of a query in `script`) among those
    /// `allowed`, best first: the paper vectors' nearest (at least [`FUSION_DEPTH`]), scored
    /// by their views where the index has them.
    pub fn nearest_to_query(
        &self,
        query: &[f32],
        script: Script,
        k: usize,
        allowed: Option<&[bool]>,
    ) -> Vec<(PaperNumber, f32)> {
        let Some(views) = &self.views else {
            return self.vectors.search(query, k, allowed);
        };
        let candidates = self.vectors.search(query, k.max(FUSION_DEPTH), allowed);
        let mut scored = views.rescore(query, script, &candidates);
        scored.truncate(k);
        scored
    }

    /// How close `paper` is to the query vector `query` (of a query in `script`): the score
    /// [`Meaning::nearest_to_query`] ranks by.
    pub fn query_score(&self, query: &[f32], script: Script, paper: PaperNumber) -> Option<f32> {
        match &self.views {
            Some(views) => views.score(query, script, paper),
            None => self.vectors.vector_of(paper).map(|v| dot(query, v)),
        }
    }
}

/// An opened index, ready to answer: the text index always, the vectors when they could be
/// loaded. This is what the CLI, the server and the tests search with.
pub struct Engine {
    store: Store,
    meaning: Option<Meaning>,
    /// Why the vectors are not loaded, when they were asked for and failed.
    meaning_error: Option<String>,
    /// How the two rankings are fused in hybrid mode.
    pub fusion: Fusion,
    /// The generation's fitted topics, read (and checksummed) once: a long-lived engine
    /// answers topic requests without reading topics.json again.
    fitted: std::sync::OnceLock<TopicModel>,
}

/// What an engine needs loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// The text index only (BM25 search, papers, stats).
    Words,
    /// Words and meaning; if the vectors cannot be loaded the engine still opens and hybrid
    /// searches answer with BM25 and a warning.
    WordsAndMeaning,
    /// Words and meaning, and opening fails if the vectors cannot be loaded.
    Meaning,
}

impl Needs {
    /// What a search in `mode` needs.
    pub fn for_mode(mode: Mode) -> Needs {
        match mode {
            Mode::Bm25 => Needs::Words,
            Mode::Hybrid => Needs::WordsAndMeaning,
            Mode::Vector => Needs::Meaning,
        }
    }
}

impl Engine {
    /// An engine over an opened store and, optionally, its vectors.
    pub fn new(store: Store, meaning: Option<Meaning>) -> Self {
        let fusion = default_fusion(store.manifest.model.kind);
        Engine {
            store,
            meaning,
            meaning_error: None,
            fusion,
            fitted: std::sync::OnceLock::new(),
        }
    }

    /// Opens the index in `dir` with what `needs` asks for. The model is loaded on another
    /// thread while the text index opens (e5's weights take longest: BENCHMARKS.md, "cold").
    pub fn open(dir: &Path, model: &ModelSource, needs: Needs) -> Result<Engine> {
        // Nearly every answer cuts Chinese text (snippets of the Chinese abstracts), and jieba's
        // dictionary is the longest single step of a cold start: build it on its own thread
        // from the start, beside the store and the model (detached: a process that needs no
        // Chinese, or exits first, just loses the work).
        std::thread::spawn(crate::analyze::prepare_chinese);
        if needs == Needs::Words {
            return Ok(Engine::new(Store::open(dir)?, None));
        }
        std::thread::scope(|scope| {
            let loading = scope.spawn(|| model.load());
            let store = Store::open(dir)?;
            // The vectors do not depend on the model: read them while it loads.
            let vectors = store.vectors_of_any_model();
            let embedder = loading.join().unwrap_or_else(|_| {
                Err(Error::Model {
                    path: dir.to_path_buf(),
                    reason: "loading the embedding model failed".into(),
                })
            });
            Self::with_meaning(store, embedder.map(Arc::new), vectors, needs)
        })
    }

    /// Opens the index in `dir` with an already loaded model (for a long-lived process that
    /// reopens the index after each write).
    pub fn open_with(dir: &Path, embedder: Arc<Embedder>, needs: Needs) -> Result<Engine> {
        let store = Store::open(dir)?;
        if needs == Needs::Words {
            return Ok(Engine::new(store, None));
        }
        let vectors = store.vectors_of_any_model();
        Self::with_meaning(store, Ok(embedder), vectors, needs)
    }

    /// Opens the index in `dir` for words only (BM25, papers, topics).
    pub fn open_with_words(dir: &Path) -> Result<Engine> {
        Ok(Engine::new(Store::open(dir)?, None))
    }

    /// The engine with `embedder` and `vectors`; errors come in the order a user fixes them:
    /// the model, then a model other than the index's, then the vectors.
    fn with_meaning(
        store: Store,
        embedder: Result<Arc<Embedder>>,
        vectors: Result<VectorIndex>,
        needs: Needs,
    ) -> Result<Engine> {
        let meaning = embedder.and_then(|embedder| {
            store.check_model(&embedder)?;
            let vectors = vectors?;
            let views = store.script_views()?;
            Ok(Meaning {
                embedder,
                vectors,
                views,
            })
        });
        match meaning {
            Ok(meaning) => Ok(Engine::new(store, Some(meaning))),
            Err(error) if needs == Needs::WordsAndMeaning => Ok(Engine {
                meaning_error: Some(error.to_string()),
                ..Engine::new(store, None)
            }),
            Err(error) => Err(error),
        }
    }

    fn check_categories(&self, filters: &Filters) -> Result<()> {
        let unknown = self.store.text.unknown_categories(filters)?;
        if unknown.is_empty() {
            return Ok(());
        }
        Err(Error::invalid(
            "category",
            format!(
                "no indexed paper is in {} (`paperscope stats` lists the categories)",
                unknown.join(", ")
            ),
        ))
    }

    /// `limit` cut to the number of papers: a huge limit asks for nothing more than all of them
    /// (and must not size an allocation).
    fn clamp(&self, limit: usize) -> usize {
        limit.min(self.store.manifest.paper_count).max(1)
    }

    /// The opened index.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The model and vectors, when loaded.
    pub fn meaning(&self) -> Option<&Meaning> {
        self.meaning.as_ref()
    }

    /// Why the vectors could not be loaded, if they could not.
    pub fn meaning_error(&self) -> Option<&str> {
        self.meaning_error.as_deref()
    }

    fn need_meaning(&self) -> Result<(&Embedder, &VectorIndex)> {
        let meaning = self.need_loaded_meaning()?;
        Ok((&meaning.embedder, &meaning.vectors))
    }

    fn need_loaded_meaning(&self) -> Result<&Meaning> {
        match &self.meaning {
            Some(m) => Ok(m),
            None => Err(Error::invalid(
                "mode",
                match &self.meaning_error {
                    Some(why) => format!(
                        "this search needs the vector index, which could not be loaded: {why}"
                    ),
                    None => "this search needs the vector index, which is not loaded".to_string(),
                },
            )),
        }
    }

    /// The mode a search asked for in `mode` really runs in: hybrid without vectors is BM25.
    pub fn effective_mode(&self, mode: Mode) -> Mode {
        if mode == Mode::Hybrid && self.meaning.is_none() {
            Mode::Bm25
        } else {
            mode
        }
    }

    /// Ranked papers, best first, and the number of candidates.
    pub fn rank(
        &self,
        query: &SearchQuery,
        filters: &Filters,
        limit: usize,
        mode: Mode,
    ) -> Result<(Vec<Ranked>, usize)> {
        self.rank_fused(query, filters, limit, mode, self.fusion)
    }

    /// [`Engine::rank`] with hybrid fused by `fusion` instead of the engine's own (a shared
    /// engine answers requests that ask for different fusions).
    pub fn rank_fused(
        &self,
        query: &SearchQuery,
        filters: &Filters,
        limit: usize,
        mode: Mode,
        fusion: Fusion,
    ) -> Result<(Vec<Ranked>, usize)> {
        let limit = self.clamp(limit);
        self.check_categories(filters)?;
        match self.effective_mode(mode) {
            Mode::Bm25 => {
                let (hits, total) = self.store.text.search(query, filters, limit)?;
                let ranked = hits
                    .iter()
                    .enumerate()
                    .map(|(i, h)| Ranked {
                        number: h.number,
                        score: h.score,
                        why: Why {
                            bm25_rank: Some(i + 1),
                            bm25_score: Some(h.score),
                            vector_rank: None,
                            cosine: None,
                            fused: h.score,
                        },
                    })
                    .collect();
                Ok((ranked, total))
            }
            Mode::Vector => {
                let (hits, total) = self.vector_side(query, filters, limit)?;
                // A paper pointing away from the query (cosine <= 0) is no evidence of meaning.
                let ranked = hits
                    .iter()
                    .filter(|&&(_, cosine)| cosine > 0.0)
                    .enumerate()
                    .map(|(i, &(number, cosine))| Ranked {
                        number,
                        score: cosine,
                        why: Why {
                            bm25_rank: None,
                            bm25_score: None,
                            vector_rank: Some(i + 1),
                            cosine: Some(cosine),
                            fused: cosine,
                        },
                    })
                    .collect();
                Ok((ranked, total))
            }
            Mode::Hybrid => {
                let meaning = self.need_loaded_meaning()?;
                let depth = limit.max(FUSION_DEPTH);
                // The meaning side first: a Chinese query's BM25 terms wait for jieba's
                // dictionary when a new process builds it, its embedding does not.
                let query_vector = query_vector(&meaning.embedder, query);
                let (bm25, bm25_total) = self.store.text.search(query, filters, depth)?;
                let bm25: Vec<(PaperNumber, f32)> =
                    bm25.iter().map(|h| (h.number, h.score)).collect();
                let script = Script::of(&query.positive_text());
                let allowed = self.store.text.allowed(query, filters)?;
                // The meaning side brings at most its FUSION_DEPTH nearest papers, however deep the
                // page: with e5 every paper has a positive cosine, and a deep page would otherwise
                // count the whole collection as matching.
                let vector = meaning.nearest_to_query(
                    &query_vector,
                    script,
                    FUSION_DEPTH,
                    allowed.as_deref(),
                );
                let fused = fuse(
                    &bm25,
                    &vector,
                    |p| meaning.query_score(&query_vector, script, p),
                    fusion,
                );
                // A paper with no evidence (no query word, and a cosine the fusion gives no
                // weight) is not a result, however many were asked for.
                let evidenced: Vec<Fused> =
                    fused.into_iter().filter(|f| f.why.fused > 0.0).collect();
                let meaning_only = evidenced
                    .iter()
                    .filter(|f| f.why.bm25_rank.is_none())
                    .count();
                let total = bm25_total + meaning_only;
                let ranked = evidenced
                    .into_iter()
                    .take(limit)
                    .map(Ranked::from)
                    .collect();
                Ok((ranked, total))
            }
        }
    }

    fn vector_side(
        &self,
        query: &SearchQuery,
        filters: &Filters,
        limit: usize,
    ) -> Result<(Vec<(PaperNumber, f32)>, usize)> {
        let meaning = self.need_loaded_meaning()?;
        let allowed = self.store.text.allowed(query, filters)?;
        let total = allowed
            .as_ref()
            .map_or(meaning.vectors.len(), |a| a.iter().filter(|&&x| x).count());
        let script = Script::of(&query.positive_text());
        let query_vector = query_vector(&meaning.embedder, query);
        Ok((
            meaning.nearest_to_query(&query_vector, script, limit, allowed.as_deref()),
            total,
        ))
    }

    /// The vector the meaning side searches with for `query` (its positive words, without
    /// query stop words), for callers that search the same vectors elsewhere (an export).
    pub fn query_vector(&self, query: &SearchQuery) -> Result<Vec<f32>> {
        let (embedder, _) = self.need_meaning()?;
        Ok(query_vector(embedder, query))
    }

    /// The `limit` best papers for `query` among those `filters` allow, ranked in `mode`,
    /// with snippets and the why of each. Hybrid without loaded vectors answers with BM25 and
    /// says so in `warnings`.
    ///
    /// ```
    /// use paperscope::progress::Quiet;
    /// use paperscope::query::{Filters, SearchQuery};
    /// use paperscope::search::Mode;
    /// use paperscope::update::{self, UpdateOptions};
    /// use paperscope::{Engine, ModelSource, Needs};
    ///
    /// // A small index of one real digest.
    /// let dir = tempfile::tempdir().unwrap();
    /// let digest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
    ///     .join("data/digests/2024-03-06_cs.CL_0a55959e.md");
    /// let model = ModelSource::default();
    /// update::index_files(dir.path(), &[digest], &model.load()?, UpdateOptions::default(), &Quiet)?;
    ///
    /// let engine = Engine::open(dir.path(), &model, Needs::WordsAndMeaning)?;
    /// let query = SearchQuery::parse("hallucination")?;
    /// let response = engine.search(&query, &Filters::default(), 3, Mode::Hybrid)?;
    /// assert_eq!(response.results.len(), 3);
    /// assert!(response.results[0].title_en.to_lowercase().contains("hallucinat"));
    /// # Ok::<(), paperscope::Error>(())
    /// ```
    pub fn search(
        &self,
        query: &SearchQuery,
        filters: &Filters,
        limit: usize,
        mode: Mode,
    ) -> Result<SearchResponse> {
        self.search_page(query, filters, Page::first(limit), mode)
    }

    /// One page of [`Engine::search`]'s answer: `page.limit` results from `page.offset`, in
    /// `page.sort` order; ranks count from the start of the whole list.
    pub fn search_page(
        &self,
        query: &SearchQuery,
        filters: &Filters,
        page: Page,
        mode: Mode,
    ) -> Result<SearchResponse> {
        self.search_page_fused(query, filters, page, mode, self.fusion)
    }

    /// [`Engine::search_page`] with hybrid fused by `fusion` instead of the engine's own.
    pub fn search_page_fused(
        &self,
        query: &SearchQuery,
        filters: &Filters,
        page: Page,
        mode: Mode,
        fusion: Fusion,
    ) -> Result<SearchResponse> {
        let started = Instant::now();
        page.check()?;
        let limit = page.depth();
        let (mut ranked, mut total) = self.rank_fused(query, filters, limit, mode, fusion)?;
        let mut query = query.clone();
        let mut corrected_from = None;
        let spelling = match mode {
            Mode::Vector => None,
            _ => self.store.text.suggest(&query.raw),
        };
        let mut did_you_mean = None;
        if let Some(fixed) = spelling.and_then(|f| SearchQuery::parse(&f).ok()) {
            if self.store.text.search(&query, filters, 1)?.1 == 0 {
                // Nothing matched the words as typed: answer the correction, and say so.
                (ranked, total) = self.rank_fused(&fixed, filters, limit, mode, fusion)?;
                corrected_from = Some(std::mem::replace(&mut query, fixed).raw);
            } else {
                did_you_mean = Some(fixed.raw);
            }
        }
        let query = &query;
        let snippets = self.store.text.snippets(query);
        let results = self.page_of(ranked, page, |paper| snippets.for_paper(paper))?;
        let effective = self.effective_mode(mode);
        let mut warnings = Vec::new();
        if effective != mode {
            let why = self
                .meaning_error
                .as_deref()
                .unwrap_or("the vector index is not loaded");
            warnings.push(format!("{why}; answering with BM25 only"));
        }
        Ok(SearchResponse {
            query: query.raw.clone(),
            corrected_from,
            did_you_mean,
            mode: effective,
            fusion: (effective == Mode::Hybrid).then(|| fusion.name()),
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
            total,
            offset: page.offset,
            sort: page.sort,
            seeds: Vec::new(),
            results,
            warnings,
        })
    }

    /// Papers like the given ones (or like a text): their vectors' nearest neighbours fused with
    /// a BM25 more-like-this query of their distinctive terms; the given papers never appear.
    pub fn related(
        &self,
        target: &RelatedTo,
        filters: &Filters,
        limit: usize,
    ) -> Result<SearchResponse> {
        self.related_page(target, filters, Page::first(limit))
    }

    /// One page of [`Engine::related`]'s answer (see [`Engine::search_page`]).
    pub fn related_page(
        &self,
        target: &RelatedTo,
        filters: &Filters,
        page: Page,
    ) -> Result<SearchResponse> {
        self.related_page_fused(target, filters, page, self.fusion)
    }

    /// [`Engine::related_page`] fused by `fusion` instead of the engine's own.
    pub fn related_page_fused(
        &self,
        target: &RelatedTo,
        filters: &Filters,
        page: Page,
        fusion: Fusion,
    ) -> Result<SearchResponse> {
        let started = Instant::now();
        page.check()?;
        let limit = self.clamp(page.depth());
        self.check_categories(filters)?;
        let (embedder, vectors) = self.need_meaning()?;
        let (texts, query_vector, exclude, description, seeds) = match target {
            RelatedTo::Ids(ids) => {
                let papers = ids
                    .iter()
                    .map(|id| self.paper(id))
                    .collect::<Result<Vec<_>>>()?;
                let numbers: Vec<PaperNumber> = papers
                    .iter()
                    .map(|p| self.store.text.number_by_id(&p.arxiv_id))
                    .collect::<Result<_>>()?;
                let own: Vec<&[f32]> = numbers
                    .iter()
                    .filter_map(|&n| vectors.vector_of(n))
                    .collect();
                let texts: Vec<String> = papers.iter().flat_map(related_texts).collect();
                // Named by the ids found, not as pasted: a URL is noise in a header.
                let found: Vec<&str> = papers.iter().map(|p| p.arxiv_id.as_str()).collect();
                let seeds = papers
                    .iter()
                    .map(|p| Seed {
                        arxiv_id: p.arxiv_id.clone(),
                        title_en: p.title_en.clone(),
                    })
                    .collect();
                (
                    texts,
                    mean_direction(&own),
                    numbers,
                    format!("related to {}", found.join(", ")),
                    seeds,
                )
            }
            RelatedTo::Text(text) => {
                if SearchQuery::parse(text).is_err() {
                    return Err(Error::invalid(
                        "text",
                        "has no words to compare papers with",
                    ));
                }
                (
                    vec![text.clone()],
                    embedder.embed_query(text),
                    Vec::new(),
                    format!("related to text: {}", crate::text::truncate_chars(text, 60)),
                    Vec::new(),
                )
            }
        };
        let depth = limit.max(FUSION_DEPTH);
        let bm25: Vec<(PaperNumber, f32)> = self
            .store
            .text
            .more_like_this(&texts, filters, &exclude, depth)?
            .iter()
            .map(|h| (h.number, h.score))
            .collect();
        let mut allowed = self
            .store
            .text
            .allowed(&SearchQuery::default(), filters)?
            .unwrap_or_else(|| vec![true; self.store.manifest.paper_count]);
        for &n in &exclude {
            if let Some(slot) = allowed.get_mut(n.index()) {
                *slot = false;
            }
        }
        let vector = vectors.search(&query_vector, depth, Some(&allowed));
        let fused = fuse(
            &bm25,
            &vector,
            |p| vectors.vector_of(p).map(|v| dot(&query_vector, v)),
            fusion,
        );
        let ranked: Vec<Ranked> = fused
            .into_iter()
            .filter(|f| !exclude.contains(&f.number))
            .take(limit)
            .map(Ranked::from)
            .collect();
        let snippet_query = SearchQuery {
            text: texts.first().cloned().unwrap_or_default(),
            ..SearchQuery::default()
        };
        let snippets = self.store.text.snippets(&snippet_query);
        let results = self.page_of(ranked, page, |paper| snippets.for_paper(paper))?;
        Ok(SearchResponse {
            query: description,
            offset: page.offset,
            sort: page.sort,
            seeds,
            mode: Mode::Hybrid,
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
            total: allowed.iter().filter(|&&a| a).count(),
            results,
            warnings: Vec::new(),
            corrected_from: None,
            did_you_mean: None,
            fusion: Some(fusion.name()),
        })
    }

    /// One paper by arXiv id, as a researcher pastes it: `2403.05266`, `2403.05266v1`,
    /// `arXiv:2403.05266`, an arxiv.org abs or pdf URL ([`crate::paper::parse_arxiv_id`]). A
    /// version the index does not hold is an error (not another version's record).
    pub fn paper(&self, arxiv_id: &str) -> Result<crate::Paper> {
        let unknown = || Error::UnknownId {
            id: arxiv_id.trim().to_string(),
        };
        // Text that is no arXiv id is looked up as given: the index's ids come from digests,
        // and an unknown id is reported the same way whatever it looks like.
        let (id, asked) = crate::paper::parse_arxiv_id(arxiv_id).unwrap_or_else(|| {
            (
                arxiv_id.trim().to_string(),
                crate::paper::version_of(arxiv_id),
            )
        });
        let paper = self.store.text.paper_by_id(&id)?.ok_or_else(unknown)?;
        match (asked, paper.version) {
            (Some(asked), Some(held)) if asked != held => Err(Error::UnknownVersion {
                id: paper.arxiv_id,
                asked,
                held,
            }),
            _ => Ok(paper),
        }
    }

    /// Every paper, in paper-number order.
    pub fn papers(&self) -> Result<Vec<crate::Paper>> {
        self.store.papers()
    }

    /// The index's topic model at `level`: the fitted topics, or (coarse) about a third as many
    /// broader ones merged from them.
    pub fn topics(&self, level: TopicLevel) -> Result<TopicModel> {
        let model = match self.fitted.get() {
            Some(model) => model.clone(),
            None => {
                let model = self.store.topics()?.ok_or_else(|| Error::IndexCorrupt {
                    path: self.store.dir().to_path_buf(),
                    reason: "it has no topic model (written by an older paperscope); fit one with `paperscope topics --refit`".into(),
                })?;
                self.fitted.get_or_init(|| model).clone()
            }
        };
        match level {
            TopicLevel::Fine => Ok(model),
            TopicLevel::Coarse => {
                let (_, vectors) = self.need_meaning()?;
                let papers = self.papers()?;
                let by_paper = vectors.by_paper(papers.len());
                let target = (model.topics.len() / 3).max(2);
                Ok(topics::coarsen(&model, &papers, &by_paper, target))
            }
        }
    }

    /// One topic of `model` and its first `limit` papers, closest to its centre first; an
    /// unknown id is an error naming it.
    pub fn topic<'m>(
        &self,
        model: &'m TopicModel,
        id: usize,
        limit: usize,
    ) -> Result<(&'m Topic, Vec<crate::Paper>)> {
        let topic = model.topics.iter().find(|t| t.id == id).ok_or_else(|| {
            Error::invalid(
                "topic",
                format!("no topic {id}: `paperscope topics` lists them"),
            )
        })?;
        let mut members: Vec<&topics::Assignment> = model
            .assignments
            .iter()
            .filter(|a| a.nearest == id)
            .collect();
        members.sort_by(|a, b| {
            b.closeness
                .total_cmp(&a.closeness)
                .then(a.arxiv_id.cmp(&b.arxiv_id))
        });
        let papers = members
            .iter()
            .take(limit)
            .map(|a| self.paper(&a.arxiv_id))
            .collect::<Result<_>>()?;
        Ok((topic, papers))
    }

    /// The page of `ranked` (best first, at least `page.depth()` long when there are that many)
    /// as full result records, ordered by `page.sort`, ranked from the start of the list.
    fn page_of(
        &self,
        mut ranked: Vec<Ranked>,
        page: Page,
        snippet: impl Fn(&crate::Paper) -> Snippet,
    ) -> Result<Vec<SearchResult>> {
        if page.sort == Sort::Date {
            let mut dated = Vec::with_capacity(ranked.len());
            for r in ranked {
                let month = self.store.text.paper_by_number(r.number)?.year_month();
                dated.push((month, r));
            }
            // Newest first; ids without a month (old style) last; a stable sort keeps ties in
            // relevance order, which is "ties by score".
            dated.sort_by_key(|d| std::cmp::Reverse(d.0));
            ranked = dated.into_iter().map(|(_, r)| r).collect();
        }
        let on_page: Vec<Ranked> = ranked
            .into_iter()
            .skip(page.offset)
            .take(page.limit)
            .collect();
        let mut results = self.results(&on_page, snippet)?;
        for r in &mut results {
            r.rank += page.offset;
        }
        Ok(results)
    }

    /// Full result records for ranked papers.
    pub fn results(
        &self,
        ranked: &[Ranked],
        snippet: impl Fn(&crate::Paper) -> Snippet,
    ) -> Result<Vec<SearchResult>> {
        let mut results = Vec::with_capacity(ranked.len());
        for (i, r) in ranked.iter().enumerate() {
            let paper = self.store.text.paper_by_number(r.number)?;
            let Snippet { text, highlights } = snippet(&paper);
            results.push(SearchResult {
                rank: i + 1,
                category: paper.categories().into_iter().next(),
                month: paper.year_month().map(|(y, m)| format!("{y}-{m:02}")),
                url: crate::paper::abs_url(&paper.arxiv_id),
                arxiv_id: paper.arxiv_id,
                version: paper.version,
                title_en: paper.title_en,
                title_zh: paper.title_zh,
                summary_zh: paper.summary_zh,
                score: r.score,
                why: r.why,
                snippet: text,
                highlights,
                number: r.number,
            });
        }
        Ok(results)
    }
}

/// An engine that follows its index across writes, for a long-lived process (the server): each
/// [`LiveEngine::current`] returns the engine of the live generation, opening the new one once
/// a write has committed. Requests in flight keep the engine they started with, so a switch
/// never fails a request; the model is loaded once and shared by every generation.
pub struct LiveEngine {
    dir: std::path::PathBuf,
    embedder: Option<Arc<Embedder>>,
    needs: Needs,
    current: RwLock<(ManifestStamp, Arc<Engine>)>,
}

/// What identifies a manifest file version without reading it: a commit replaces the file by a
/// rename, so its inode (and usually its mtime) changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct ManifestStamp {
    inode: u64,
    modified: Option<std::time::SystemTime>,
    len: u64,
}

impl ManifestStamp {
    fn of(dir: &Path) -> Option<ManifestStamp> {
        let meta = std::fs::metadata(dir.join("manifest.json")).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(ManifestStamp {
            inode,
            modified: meta.modified().ok(),
            len: meta.len(),
        })
    }
}

impl LiveEngine {
    /// Opens the index in `dir` (loading the model when `needs` asks for meaning).
    pub fn open(dir: &Path, model: &ModelSource, needs: Needs) -> Result<LiveEngine> {
        let embedder = match needs {
            Needs::Words => None,
            _ => Some(Arc::new(model.load()?)),
        };
        let stamp = ManifestStamp::of(dir);
        let engine = Self::open_engine(dir, embedder.as_ref(), needs)?;
        Ok(LiveEngine {
            dir: dir.to_path_buf(),
            embedder,
            needs,
            current: RwLock::new((stamp.unwrap_or_default(), Arc::new(engine))),
        })
    }

    fn open_engine(dir: &Path, embedder: Option<&Arc<Embedder>>, needs: Needs) -> Result<Engine> {
        match embedder {
            Some(embedder) => Engine::open_with(dir, embedder.clone(), needs),
            None => Engine::open_with_words(dir),
        }
    }

    /// The engine of the live generation. When a write has committed since the last call, the
    /// new generation is opened first; if that fails, the previous engine keeps answering and
    /// the error is returned only when there is no engine at all.
    pub fn current(&self) -> Arc<Engine> {
        let stamp = ManifestStamp::of(&self.dir);
        {
            let guard = self.current.read().unwrap_or_else(|e| e.into_inner());
            if stamp.is_none() || stamp == Some(guard.0) {
                return guard.1.clone();
            }
        }
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        if let Some(stamp) = stamp.filter(|s| *s != guard.0)
            && let Ok(engine) = Self::open_engine(&self.dir, self.embedder.as_ref(), self.needs)
        {
            *guard = (stamp, Arc::new(engine));
        }
        guard.1.clone()
    }

    /// The generation the current engine serves.
    pub fn generation(&self) -> u64 {
        self.current().store().manifest.generation
    }
}
