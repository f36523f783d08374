//! Topics as a write stores them, the word vectors for `related`, and a refit of the topics.

use std::path::Path;

use serde::Serialize;

use crate::embed::Embedder;
use crate::error::{Error, Result};
use crate::paper::Paper;
use crate::progress::{Progress, stage};
use crate::store::{Staging, Store, WriteLock, failpoint};
use crate::topics::{self, TopicModel, TopicParams, WordParams, WordVectors};

/// Writes the generation's topics and their coarse level. Merging into the coarse level takes
/// seconds (1.4 s at 8k papers), so it is done once here, by the write, and readers load it.
pub(super) fn write_topics(
    staging: &Staging,
    model: &TopicModel,
    papers: &[Paper],
    vectors_by_paper: &[Vec<f32>],
) -> Result<()> {
    staging.write_topics(model)?;
    staging.write_coarse_topics(&topics::coarse(model, papers, vectors_by_paper))
}

/// The papers' word vectors for `related`, with the measured defaults.
pub(super) fn build_word_vectors(papers: &[Paper], progress: &dyn Progress) -> WordVectors {
    stage(progress, "related words", 1, || {
        let words = WordVectors::build(papers, WordParams::default());
        progress.inc();
        words
    })
}

/// Fits topics afresh (four steps: terms, LSA, clustering, labels).
pub fn fit_topics(
    papers: &[Paper],
    vectors_by_paper: &[Vec<f32>],
    params: TopicParams,
    progress: &dyn Progress,
) -> TopicModel {
    stage(progress, "topics", 4, || {
        topics::fit(papers, vectors_by_paper, params, &|_step| progress.inc())
    })
}

/// What a topic refit did.
#[derive(Debug, Clone, Serialize)]
pub struct Refit {
    /// The generation that holds the new topics.
    pub generation: u64,
    /// Topics after the refit.
    pub topics: usize,
    /// Topics that continue one of the previous fit and kept its id.
    pub kept_ids: usize,
    /// Papers grouped.
    pub papers: usize,
}

/// Fits the topics again over every paper, in a new generation that keeps the live text and
/// vector indexes as they are. Topics that continue a previous topic keep its id (and so links
/// and bookmarks to it keep working).
pub fn refit_topics(
    dir: &Path,
    embedder: &Embedder,
    params: TopicParams,
    progress: &dyn Progress,
) -> Result<Refit> {
    let lock = WriteLock::acquire(dir)?;
    let store = Store::open(dir)?;
    let papers = store.papers()?;
    if papers.is_empty() {
        return Err(Error::invalid(
            "topics",
            format!(
                "index {} is empty: nothing to group into topics",
                dir.display()
            ),
        ));
    }
    store.require_all_vectors("a topic refit")?;
    let vectors = store.vectors(embedder)?;
    let by_paper = vectors.by_paper(papers.len());
    // A damaged topic model is what a refit replaces: fit afresh instead of failing.
    let previous = match store.topics() {
        Ok(model) => model,
        Err(Error::IndexDamaged { .. }) => None,
        Err(error) => return Err(error),
    };
    let model = stage(progress, "topics", 4, || match &previous {
        Some(old) => topics::refit(&papers, &by_paper, params, old, &|_| progress.inc()),
        None => topics::fit(&papers, &by_paper, params, &|_| progress.inc()),
    });
    let kept_ids = match &previous {
        Some(old) => model
            .topics
            .iter()
            .filter(|t| old.topics.iter().any(|o| o.id == t.id))
            .count(),
        None => 0,
    };
    let mut staging = Staging::begin(&lock)?;
    staging.reuse_text(&store)?;
    staging.reuse_vectors(&store)?;
    // The papers are unchanged, so are their word vectors; missing or damaged ones are made.
    let words = match store.word_vectors() {
        Ok(Some(words)) => words,
        Ok(None) | Err(_) => build_word_vectors(&papers, progress),
    };
    staging.write_word_vectors(&words)?;
    // A damaged record is left out: the next write then counts every paper as changed.
    if let Ok(Some(stamps)) = store.changed_in() {
        staging.write_changes(&stamps)?;
    }
    write_topics(&staging, &model, &papers, &by_paper)?;
    failpoint("topics", dir)?;
    let generation = staging.commit(papers.len(), store.manifest.model.clone())?;
    Ok(Refit {
        generation,
        topics: model.topics.len(),
        kept_ids,
        papers: papers.len(),
    })
}
