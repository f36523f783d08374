//! The vectors a write takes from the embedding caches or has the model make.

use std::path::{Path, PathBuf};

use super::options::UpdateOptions;
use crate::embed::cache::{
    CacheUse, Caches, EmbeddingCache, cache_file_name, cached_texts, embed_texts,
};
use crate::embed::{Embedder, Recipe, mean_direction};
use crate::error::Result;
use crate::paper::{Paper, PaperNumber};
use crate::progress::Progress;
use crate::store::embedding_cache_path;
use crate::vectors::views::ScriptViews;

/// The vectors of the papers `numbers`, through the index's embedding cache (and `seeds`):
/// a text embedded by an earlier run, finished or not, is not embedded again.
pub(super) fn embed_papers(
    paths: &CachePaths<'_>,
    embedder: &Embedder,
    papers: &[Paper],
    numbers: &[PaperNumber],
    progress: &dyn Progress,
) -> Result<(Embedded, CacheUse)> {
    let recipe = Recipe::for_model(embedder.kind());
    // Every paper has its recipe's number of texts; each is made when embedded or hashed.
    let per = recipe.text_count();
    let text = |i: usize| recipe.text(&papers[numbers[i / per].index()], i % per);
    let mut open = paths.open(embedder)?;
    let count = numbers.len() * per;
    let (vectors, cache_use) = embed_texts(embedder, open.caches(), count, &text, progress)?;
    drop(open);
    let vectors: Vec<Option<Box<[f32]>>> = vectors.into_iter().map(Some).collect();
    Ok((Embedded::of(recipe, numbers, vectors), cache_use))
}

/// The vectors of the papers `numbers` that the caches hold for every text of the paper;
/// nothing is embedded.
pub(super) fn cached_papers(
    paths: &CachePaths<'_>,
    embedder: &Embedder,
    papers: &[Paper],
    numbers: &[PaperNumber],
) -> Result<Embedded> {
    let recipe = Recipe::for_model(embedder.kind());
    let per = recipe.text_count();
    let text = |i: usize| recipe.text(&papers[numbers[i / per].index()], i % per);
    let mut open = paths.open(embedder)?;
    let found = cached_texts(embedder, open.caches(), numbers.len() * per, &text)?;
    Ok(Embedded::of(recipe, numbers, found))
}

/// The embedding caches a write reads and fills.
pub(super) struct CachePaths<'a> {
    /// The index's own cache.
    own: PathBuf,
    /// The per-user cache, when on.
    shared: Option<PathBuf>,
    /// Caches shipped beside the digests read.
    seeds: &'a [PathBuf],
}

impl<'a> CachePaths<'a> {
    /// The caches a write to the index in `dir` reads and fills.
    pub(super) fn of(
        dir: &Path,
        embedder: &Embedder,
        options: &UpdateOptions,
        seeds: &'a [PathBuf],
    ) -> Self {
        CachePaths {
            own: embedding_cache_path(dir, embedder),
            shared: options
                .shared_cache
                .as_ref()
                .map(|shared| shared.join(cache_file_name(embedder))),
            seeds,
        }
    }

    /// The caches, opened for `embedder`'s vectors.
    pub(super) fn open(&self, embedder: &Embedder) -> Result<OpenCaches> {
        let (key, dims) = (embedder.cache_key(), embedder.dims());
        Ok(OpenCaches {
            own: EmbeddingCache::open(&self.own, key, dims)?,
            shared: match &self.shared {
                Some(path) => Some(EmbeddingCache::open(path, key, dims)?),
                None => None,
            },
            seeds: self
                .seeds
                .iter()
                .map(|path| EmbeddingCache::open(path, key, dims))
                .collect::<Result<Vec<_>>>()?,
        })
    }
}

/// The caches of one model, open.
pub(super) struct OpenCaches {
    own: EmbeddingCache,
    shared: Option<EmbeddingCache>,
    seeds: Vec<EmbeddingCache>,
}

impl OpenCaches {
    pub(super) fn caches(&mut self) -> Caches<'_> {
        Caches {
            own: &mut self.own,
            shared: self.shared.as_mut(),
            seeds: &self.seeds,
        }
    }
}

/// The vectors of the papers a write has them for, and their views per query script when the
/// recipe embeds the two sides apart (empty otherwise).
#[derive(Default)]
pub(super) struct Embedded {
    /// The papers with a vector, in order.
    pub(super) numbers: Vec<PaperNumber>,
    pub(super) vectors: Vec<Vec<f32>>,
    pub(super) views: Vec<[Vec<f32>; 2]>,
    /// Texts whose vectors some cache held.
    pub(super) texts_cached: usize,
    /// Texts of the papers asked for that have no vector yet.
    pub(super) texts_missing: usize,
}

impl Embedded {
    /// The papers `numbers` whose texts (`recipe`'s number each, in order in `texts`) all have
    /// a vector, each paper's vector the mean direction of its texts'.
    pub(super) fn of(
        recipe: Recipe,
        numbers: &[PaperNumber],
        texts: Vec<Option<Box<[f32]>>>,
    ) -> Self {
        let per = recipe.text_count();
        let mut embedded = Embedded::default();
        let mut texts = texts.into_iter();
        for &number in numbers {
            let own: Vec<Option<Box<[f32]>>> = texts.by_ref().take(per).collect();
            let present = own.iter().flatten().count();
            if present < per {
                // Its cached texts are counted by the run that makes the rest.
                embedded.texts_missing += per - present;
                continue;
            }
            embedded.texts_cached += per;
            let views: Vec<&[f32]> = own.iter().flatten().map(|v| &v[..]).collect();
            let paper = mean_direction(&views);
            if let (Recipe::Sides, [english, chinese]) = (recipe, &views[..]) {
                embedded
                    .views
                    .push(ScriptViews::views_of(english, chinese, &paper));
            }
            embedded.numbers.push(number);
            embedded.vectors.push(paper);
        }
        embedded
    }
}

/// The views of every paper after a write that embedded `numbers`: the live generation's
/// views with those papers' replaced, or the fresh ones alone.
pub(super) fn updated_views(
    previous: Option<ScriptViews>,
    dims: usize,
    numbers: &[PaperNumber],
    fresh: &[[Vec<f32>; 2]],
) -> Option<ScriptViews> {
    if fresh.is_empty() {
        return previous.filter(|_| numbers.is_empty());
    }
    let mut views = previous.unwrap_or_else(|| ScriptViews::new(dims));
    for (&number, paper_views) in numbers.iter().zip(fresh) {
        views.set(number, paper_views);
    }
    Some(views)
}
