//! Finishing an index whose words were committed first: its missing vectors embedded and
//! committed in generations as they are made.

use std::path::Path;
use std::time::{Duration, Instant};

use super::embedding::CachePaths;
use super::options::{Update, UpdateOptions};
use super::refit::write_topics;
use crate::embed::cache::{TextVectors, embed_texts_with};
use crate::embed::{Embedder, Recipe, mean_direction};
use crate::error::Result;
use crate::paper::{Paper, PaperNumber};
use crate::progress::Progress;
use crate::store::{Staging, Store, WriteLock, failpoint};
use crate::topics::{self, TopicModel};
use crate::vectors::VectorIndex;
use crate::vectors::views::ScriptViews;

/// The shortest time between two generations that add vectors while an index is embedded
/// (longer when a commit itself takes long: see [`VectorCommits`]).
pub(super) const VECTOR_COMMIT_EVERY: Duration = Duration::from_secs(30);

/// Embeds the papers of the index in `dir` that have no vector yet (its words were committed
/// first, by a write that was interrupted, killed or told to defer the embedding), committing
/// generations that add vectors as they are made; `Update::Unchanged` when every paper had
/// its vector. A server calls it in the background so that it becomes fully hybrid by itself.
pub fn finish_embedding(
    dir: &Path,
    embedder: &Embedder,
    options: &UpdateOptions,
    progress: &dyn Progress,
) -> Result<Update> {
    let lock = WriteLock::acquire(dir)?;
    let caches = CachePaths::of(dir, embedder, options, &[]);
    Ok(match finish_vectors(&lock, &caches, embedder, progress)? {
        Some(done) => done.as_update(done.papers),
        None => Update::Unchanged {
            papers: Store::open(dir)?.manifest.paper_count,
        },
    })
}

/// What finishing an index's vectors did.
pub(super) struct Finished {
    generation: u64,
    papers: usize,
    texts_cached: usize,
    texts_embedded: usize,
}

impl Finished {
    /// The update of a write that only finished the vectors.
    pub(super) fn as_update(&self, papers: usize) -> Update {
        Update::Written {
            generation: self.generation,
            papers,
            added: 0,
            updated: 0,
            embedded: 0,
            texts_cached: self.texts_cached,
            texts_embedded: self.texts_embedded,
            words_first: None,
            notices: Vec::new(),
        }
    }

    /// `words` (a write whose words came first, at generation and milliseconds `first`) with
    /// the vectors finished.
    pub(super) fn after(self, words: Update, first: (u64, u64)) -> Update {
        match words {
            Update::Written {
                papers,
                added,
                updated,
                embedded,
                texts_cached,
                notices,
                ..
            } => Update::Written {
                generation: self.generation,
                papers,
                added,
                updated,
                embedded,
                texts_cached: texts_cached + self.texts_cached,
                texts_embedded: self.texts_embedded,
                words_first: Some(first),
                notices,
            },
            unchanged => unchanged,
        }
    }
}

/// Embeds the papers of the live generation that have no vector yet (a write that committed
/// its words first, interrupted or still going), committing generations that add vectors
/// as they are made, the last with the topics' centroids and coarse level made from every
/// vector. `None` when every paper already had its vector.
pub(super) fn finish_vectors(
    lock: &WriteLock,
    caches: &CachePaths<'_>,
    embedder: &Embedder,
    progress: &dyn Progress,
) -> Result<Option<Finished>> {
    let dir = lock.dir();
    if !Store::being_embedded(dir) {
        return Ok(None);
    }
    let store = Store::open(dir)?;
    let papers = store.papers()?;
    let vectors = store.vectors(embedder)?;
    let missing: Vec<PaperNumber> = (0..papers.len())
        .map(PaperNumber::from_index)
        .filter(|&n| vectors.vector_of(n).is_none())
        .collect();
    let mut commits = VectorCommits {
        lock,
        embedder,
        papers: &papers,
        missing: &missing,
        vectors,
        views: store.script_views()?,
        topics: store.topics()?,
        done: vec![false; missing.len()],
        last: Instant::now(),
        last_took: Duration::ZERO,
        generation: store.manifest.generation,
        progress,
    };
    drop(store);
    let recipe = Recipe::for_model(embedder.kind());
    let per = recipe.text_count();
    let text = |i: usize| recipe.text(&papers[missing[i / per].index()], i % per);
    let mut open = caches.open(embedder)?;
    let count = missing.len() * per;
    let (all, usage) = embed_texts_with(
        embedder,
        open.caches(),
        count,
        &text,
        progress,
        &mut |so_far| commits.on_sync(so_far),
    )?;
    drop(open);
    let all: Vec<Option<Box<[f32]>>> = all.into_iter().map(Some).collect();
    commits.commit(&all, true)?;
    Ok(Some(Finished {
        generation: commits.generation,
        papers: papers.len(),
        texts_cached: usage.cached,
        texts_embedded: usage.embedded,
    }))
}

/// The generations that add vectors to an index while its missing papers are embedded.
pub(super) struct VectorCommits<'a> {
    lock: &'a WriteLock,
    embedder: &'a Embedder,
    papers: &'a [Paper],
    /// The papers that had no vector, in the order their texts are embedded.
    missing: &'a [PaperNumber],
    vectors: VectorIndex,
    views: Option<ScriptViews>,
    topics: Option<TopicModel>,
    /// Per missing paper, whether a committed generation holds its vector.
    done: Vec<bool>,
    last: Instant,
    /// How long the last commit took: commits come no more often than ten times that, so that
    /// at 100k papers (150 MB of vectors a commit) the embedding still gets ~90% of the time.
    last_took: Duration,
    generation: u64,
    progress: &'a dyn Progress,
}

impl VectorCommits<'_> {
    /// After each sync of the embedding caches: commits what is embedded when it is time, or
    /// when a stop was asked for (the run ends after this).
    pub(super) fn on_sync(&mut self, so_far: &TextVectors) -> Result<()> {
        let due = self.last.elapsed() >= VECTOR_COMMIT_EVERY.max(self.last_took * 10);
        if due || self.progress.stop_requested() {
            self.commit(so_far, false)?;
        }
        Ok(())
    }

    /// Commits a generation with the vectors of every missing paper whose texts are all
    /// embedded; the `last` one also makes the topics' centroids and coarse level again.
    pub(super) fn commit(&mut self, so_far: &TextVectors, last: bool) -> Result<()> {
        let started = Instant::now();
        let recipe = Recipe::for_model(self.embedder.kind());
        let per = recipe.text_count();
        let mut fresh = Vec::new();
        for (k, &number) in self.missing.iter().enumerate() {
            let texts = &so_far[k * per..(k + 1) * per];
            if self.done[k] || texts.iter().any(Option::is_none) {
                continue;
            }
            let sides: Vec<&[f32]> = texts.iter().flatten().map(|v| &v[..]).collect();
            let paper = mean_direction(&sides);
            if let (Recipe::Sides, [english, chinese]) = (recipe, &sides[..]) {
                let views = self
                    .views
                    .get_or_insert_with(|| ScriptViews::new(self.embedder.dims()));
                views.set(number, &ScriptViews::views_of(english, chinese, &paper));
            }
            fresh.push((number, paper));
            self.done[k] = true;
        }
        if fresh.is_empty() && !last {
            return Ok(());
        }
        self.vectors.upsert(fresh, || {});
        if let Some(views) = self.views.as_mut() {
            views.pad_to(self.papers.len());
        }
        let store = Store::open(self.lock.dir())?;
        let mut staging = Staging::begin(self.lock)?;
        staging.reuse_text(&store)?;
        staging.reuse_word_vectors(&store)?;
        if let Ok(Some(stamps)) = store.changed_in() {
            staging.write_changes(&stamps)?;
        }
        self.vectors.save(&staging.vectors_dir())?;
        if let Some(views) = &self.views {
            views.save(&staging.vectors_dir())?;
        }
        let complete = self.vectors.len() == self.papers.len();
        if let Some(model) = self.topics.as_mut() {
            if complete {
                let by_paper = self.vectors.by_paper(self.papers.len());
                topics::recentre(model, &by_paper);
                write_topics(&staging, model, self.papers, &by_paper)?;
            } else {
                staging.write_topics(model)?;
            }
        }
        if !complete {
            staging.set_vector_coverage(self.vectors.len());
        }
        failpoint("more vectors", &staging.vectors_dir())?;
        self.generation = staging.commit(self.papers.len(), store.manifest.model.clone())?;
        self.last = Instant::now();
        self.last_took = started.elapsed();
        Ok(())
    }
}
