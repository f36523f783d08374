//! The read side: an [`Engine`] over one opened index answers each question from one request
//! type: [`Engine::search`] a [`SearchRequest`], [`Engine::related`] a [`RelatedRequest`];
//! papers and topics as stored; [`LiveEngine`] follows the index across writes.
//!
//! - `request`: the request types, their defaults and the rules on their values;
//! - `rank`: searching by words, meaning or both, and spelling correction;
//! - `feedback`: the second stage of meaning search, from the first results' vectors;
//! - `related`: papers like papers or like a text;
//! - `tuning`: the measured settings of fusion, feedback and `related`;
//! - `papers`: papers, topics, and ranked numbers turned into result records;
//! - `response`: what every answer carries;
//! - `live`: the engine of the live generation for a long-lived process.

mod feedback;
mod live;
mod papers;
mod rank;
mod related;
mod request;
mod response;
mod tuning;

use std::path::Path;
use std::sync::Arc;

pub use crate::topics::{SharedTerms, WordParams, WordVectors};
pub use live::LiveEngine;
pub use papers::TopicLevel;
pub use request::{
    DATE_SORT_DEPTH, DEFAULT_LIMIT, MAX_PAGE_LIMIT, Mode, Page, RelatedRequest, RelatedTo,
    SearchRequest, Sort, default_fusion,
};
pub use response::{Ranked, Ranking, RelatedWhy, SearchResponse, SearchResult, Seed};
pub use tuning::{FUSION_DEPTH, FeedbackParams, RelatedParams};

use crate::embed::{Embedder, ModelSource, dot};
use crate::error::{Error, Result};
use crate::hybrid::Fusion;
use crate::paper::PaperNumber;
use crate::query::Filters;
use crate::store::Store;
use crate::topics::TopicModel;
use crate::vectors::VectorIndex;
use crate::vectors::views::{Script, ScriptViews};

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
    /// The generation's fitted topics, read (and checksummed) once: a long-lived engine
    /// answers topic requests without reading topics.json again.
    fitted: std::sync::OnceLock<TopicModel>,
    /// How `related` scores (measured defaults; an experiment may set others).
    related_params: RelatedParams,
    /// How the meaning-feedback stage of search ranks (measured defaults; an experiment may
    /// set others).
    feedback_params: FeedbackParams,
    /// The papers' word vectors for `related`, read from the generation (or built from the
    /// stored papers for an index written without them) on first use.
    word_vectors: std::sync::OnceLock<WordVectors>,
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
        Engine {
            store,
            meaning,
            meaning_error: None,
            fitted: std::sync::OnceLock::new(),
            related_params: RelatedParams::default(),
            feedback_params: FeedbackParams::default(),
            word_vectors: std::sync::OnceLock::new(),
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

    /// How hybrid search fuses the two sides unless a request chooses: measured for the model
    /// that made the index's vectors.
    pub fn fusion(&self) -> Fusion {
        default_fusion(self.store.manifest.model.kind)
    }
}
