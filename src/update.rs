//! The write path: digests are parsed, merged with the indexed papers, and written as a new
//! generation (full text, vectors, topics) under one writer lock. Every change to an index goes
//! through here, so a second writer always meets the same clear "locked" error and a failure at
//! any step leaves the live generation as it was.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::digest::{self, OnBadFile, Skipped, Warning, merge_duplicates};
use crate::embed::cache::{CacheUse, Caches, EmbeddingCache, cache_file_name, embed_texts};
use crate::embed::{Embedder, Recipe, mean_direction};
use crate::error::{Error, Result};
use crate::fulltext;
use crate::paper::{Paper, PaperNumber};
use crate::progress::{Progress, stage};
use crate::store::{
    ModelInfo, SEED_DIR, Staging, Store, WriteLock, embedding_cache_path, failpoint, tidy,
};
use crate::topics::{self, TopicModel, TopicParams, WordParams, WordVectors};
use crate::vectors::views::ScriptViews;
use crate::vectors::{VectorIndex, VectorParams};

/// Choices for a write.
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    /// Re-embed every paper (after a model change) and refit the topics, instead of reusing the
    /// previous vectors and topics.
    pub rebuild: bool,
    /// Vector index parameters for a new vector index.
    pub vector_params: VectorParams,
    /// Parameters for a topic fit, when one is needed.
    pub topic_params: TopicParams,
    /// The directory of the per-user embedding cache shared by every index on the machine
    /// ([`crate::embed::cache::shared_cache_dir`] finds the usual one); `None` leaves it out.
    pub shared_cache: Option<PathBuf>,
}

/// What an update did. In JSON: `changed`, `papers`, and for a write `generation`, `added`,
/// `updated`, `embedded`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// Nothing new: the index was left as it was.
    Unchanged {
        /// Papers in the index.
        papers: usize,
    },
    /// A new generation was committed.
    Written {
        /// The new generation's number.
        generation: u64,
        /// Papers in the index now.
        papers: usize,
        /// Papers that were not in the index before.
        added: usize,
        /// Papers whose record changed (a newer version, another digest).
        updated: usize,
        /// Papers whose vector was computed by this write.
        embedded: usize,
        /// Texts of those papers whose vectors came from the embedding cache (not embedded again).
        texts_cached: usize,
        /// Texts the model embedded.
        texts_embedded: usize,
        /// What the write had to work around, each one line (a damaged topic model refitted,
        /// an unreadable live generation left out of a rebuild).
        notices: Vec<String>,
    },
}

impl Serialize for Update {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        match self {
            Update::Unchanged { papers } => {
                map.serialize_entry("changed", &false)?;
                map.serialize_entry("papers", &papers)?;
                map.serialize_entry("embedded", &0)?;
            }
            Update::Written {
                generation,
                papers,
                added,
                updated,
                embedded,
                texts_cached,
                texts_embedded,
                notices,
            } => {
                map.serialize_entry("changed", &true)?;
                map.serialize_entry("generation", generation)?;
                map.serialize_entry("papers", papers)?;
                map.serialize_entry("added", added)?;
                map.serialize_entry("updated", updated)?;
                map.serialize_entry("embedded", embedded)?;
                map.serialize_entry("texts_cached", texts_cached)?;
                map.serialize_entry("texts_embedded", texts_embedded)?;
                if !notices.is_empty() {
                    map.serialize_entry("notices", notices)?;
                }
            }
        }
        map.end()
    }
}

impl Update {
    /// Papers in the index after the update.
    pub fn papers(&self) -> usize {
        match *self {
            Update::Unchanged { papers } | Update::Written { papers, .. } => papers,
        }
    }
}

/// What indexing a set of digest files did: what was read, and the update.
#[derive(Debug, Clone, Serialize)]
pub struct IndexReport {
    /// The index directory.
    pub index: PathBuf,
    /// Digest files that gave papers.
    pub files: usize,
    /// `[^N]:` entries read.
    pub entries: usize,
    /// Distinct papers read.
    pub papers_read: usize,
    /// Entries that named a paper already read.
    pub duplicates: usize,
    /// Entries skipped or incomplete, each naming its file and line.
    #[serde(serialize_with = "as_strings")]
    pub warnings: Vec<Warning>,
    /// Files that gave no papers and were left out (JSON: `[{"file", "error"}]`).
    pub skipped: Vec<Skipped>,
    /// What the write did.
    #[serde(flatten)]
    pub update: Update,
    /// Wall time of the whole run.
    pub seconds: f64,
}

fn as_strings<S: serde::Serializer>(
    warnings: &[Warning],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(warnings.iter().map(ToString::to_string))
}

/// Parses the digest files (and directories of them) in `inputs` and adds their papers to the
/// index in `dir`, creating it if needed. Bad files are skipped and listed in
/// `IndexReport::skipped`; nothing is written when no file gives a paper.
pub fn index_files(
    dir: &Path,
    inputs: &[PathBuf],
    embedder: &Embedder,
    options: UpdateOptions,
    progress: &dyn Progress,
) -> Result<IndexReport> {
    index_files_with(dir, inputs, OnBadFile::Skip, embedder, options, progress)
}

/// [`index_files`], choosing what a bad file does: with [`OnBadFile::Fail`] the first bad file
/// is the error and nothing is written.
pub fn index_files_with(
    dir: &Path,
    inputs: &[PathBuf],
    on_bad_file: OnBadFile,
    embedder: &Embedder,
    options: UpdateOptions,
    progress: &dyn Progress,
) -> Result<IndexReport> {
    let started = Instant::now();
    let lock = WriteLock::acquire(dir)?;
    let found = digest::find_digests(inputs);
    let mut loaded = stage(progress, "parsing", found.files.len(), || {
        digest::load_with(found, on_bad_file, || progress.inc())
    })?;
    let papers = std::mem::take(&mut loaded.papers);
    let papers_read = papers.len();
    let seeds = seed_caches(inputs, embedder);
    let update = write_papers(&lock, papers, &seeds, embedder, options, progress)?;
    Ok(IndexReport {
        index: dir.to_path_buf(),
        files: loaded.files,
        entries: loaded.entries,
        papers_read,
        duplicates: loaded.duplicates,
        warnings: loaded.warnings,
        skipped: loaded.skipped,
        update,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Adds or updates `incoming` papers: existing papers keep their numbers (and their vectors
/// and topics, unless changed), new ones are appended and join their nearest topics.
pub fn update(
    dir: &Path,
    incoming: Vec<Paper>,
    embedder: &Embedder,
    options: UpdateOptions,
    progress: &dyn Progress,
) -> Result<Update> {
    let lock = WriteLock::acquire(dir)?;
    write_papers(&lock, incoming, &[], embedder, options, progress)
}

/// Caches shipped beside digests: an `embeddings/` directory next to a directory of digests
/// (as `data/embeddings/` beside `data/digests/`) may hold a cache of their texts for a model,
/// made by `paperscope index` and copied there, so a first index of them embeds nothing.
fn seed_caches(inputs: &[PathBuf], embedder: &Embedder) -> Vec<PathBuf> {
    let name = cache_file_name(embedder);
    let mut seeds: Vec<PathBuf> = inputs
        .iter()
        .filter_map(|input| {
            let digests_dir = if input.is_dir() {
                input
            } else {
                input.parent()?
            };
            let seed = digests_dir.parent()?.join(SEED_DIR).join(&name);
            seed.is_file().then_some(seed)
        })
        .collect();
    seeds.sort();
    seeds.dedup();
    seeds
}

fn write_papers(
    lock: &WriteLock,
    incoming: Vec<Paper>,
    seeds: &[PathBuf],
    embedder: &Embedder,
    options: UpdateOptions,
    progress: &dyn Progress,
) -> Result<Update> {
    let dir = lock.dir();
    let mut notices = Vec::new();
    let (previous, existing) = match live_generation(dir, options.rebuild) {
        Ok(Some((store, papers))) => (Some(store), papers),
        Ok(None) => (None, Vec::new()),
        Err(error) if options.rebuild => {
            notices.push(format!(
                "the live generation is unreadable ({}): rebuilt from the digests given only",
                short(&error)
            ));
            (None, Vec::new())
        }
        Err(error) => return Err(error),
    };
    // The topic model is checked before anything is written: a damaged one is refitted.
    let old_topics = match previous.as_ref().filter(|_| !options.rebuild) {
        Some(store) => match store.topics() {
            Ok(model) => model,
            Err(error @ Error::IndexDamaged { .. }) => {
                notices.push(format!(
                    "the topic model is damaged ({}): topics refitted",
                    short(&error)
                ));
                None
            }
            Err(error) => return Err(error),
        },
        None => None,
    };
    let old_views = match previous.as_ref().filter(|_| !options.rebuild) {
        Some(store) => live_views(store, embedder)?,
        None => None,
    };
    let views_missing = wants_views(embedder) && old_views.is_none() && !existing.is_empty();
    let merged = merge_duplicates(existing.clone(), incoming);
    let added = merged.len() - existing.len();
    let updated = existing.iter().zip(&merged).filter(|(a, b)| a != b).count();
    let nothing_new = added == 0 && updated == 0 && !views_missing;
    if previous.is_some() && nothing_new && !options.rebuild && notices.is_empty() {
        tidy(lock);
        return Ok(Update::Unchanged {
            papers: merged.len(),
        });
    }
    let reuse = previous.as_ref().filter(|_| !options.rebuild);
    // Views missing from the live generation (written before paperscope kept them, or
    // damaged) are made for every paper: from the embedding cache, so nothing is embedded.
    let every_paper = reuse.is_none() || views_missing;
    // Where a paper was read from does not change its vector: only its content does.
    let changed: Vec<PaperNumber> = (0..merged.len())
        .filter(|&i| every_paper || !existing.get(i).is_some_and(|p| p.same_content(&merged[i])))
        .map(PaperNumber::from_index)
        .collect();
    let caches = CachePaths {
        own: embedding_cache_path(dir, embedder),
        shared: options
            .shared_cache
            .as_ref()
            .map(|shared| shared.join(cache_file_name(embedder))),
        seeds,
    };
    let (embedded, cache_use) = embed_papers(&caches, embedder, &merged, &changed, progress)?;
    release_free_memory();
    let views = updated_views(old_views, embedder.dims(), &changed, &embedded.views);
    let fresh = embedded.vectors;
    let vectors = match reuse {
        Some(store) => {
            let mut index = store.vectors(embedder)?;
            stage(progress, "graph", fresh.len(), || {
                index.upsert(changed.iter().copied().zip(fresh).collect(), || {
                    progress.inc()
                })
            });
            index
        }
        None => stage(progress, "graph", fresh.len(), || {
            VectorIndex::build(embedder.dims(), fresh, options.vector_params, || {
                progress.inc()
            })
        }),
    };
    let mut staging = Staging::begin(lock)?;
    let stamps = change_stamps(
        reuse,
        &existing,
        &merged,
        staging.generation(),
        &mut notices,
    );
    staging.write_changes(&stamps)?;
    // The vector index is written and let go before the text index is built, so the graph and
    // Tantivy's writer never hold memory at the same time (2.7 GB at 100k papers together).
    vectors.save(&staging.vectors_dir())?;
    if let Some(views) = &views {
        views.save(&staging.vectors_dir())?;
    }
    failpoint("vectors", &staging.vectors_dir())?;
    let by_paper = vectors.by_paper(merged.len());
    drop((vectors, views));
    release_free_memory();
    match reuse {
        Some(store) => {
            let text_dir = staging.extend_text(store)?;
            // Everything a digest holds is stored, so any difference rewrites the document.
            let replaced: Vec<PaperNumber> = (0..existing.len())
                .filter(|&i| existing[i] != merged[i])
                .map(PaperNumber::from_index)
                .collect();
            let rewritten: Vec<(PaperNumber, &Paper)> = replaced
                .iter()
                .copied()
                .chain((existing.len()..merged.len()).map(PaperNumber::from_index))
                .map(|n| (n, &merged[n.index()]))
                .collect();
            stage(progress, "indexing", rewritten.len(), || {
                fulltext::extend(&text_dir, &replaced, &rewritten, || progress.inc())
            })?;
        }
        None => {
            let text_dir = staging.text_dir()?;
            stage(progress, "indexing", merged.len(), || {
                fulltext::build(&text_dir, &merged, || progress.inc())
            })?;
        }
    }
    drop(existing);
    release_free_memory();
    let text_dir = staging.text_dir()?;
    failpoint("text", &text_dir)?;
    let model = match old_topics {
        Some(mut model) => {
            topics::extend(&mut model, &merged, &by_paper);
            Some(model)
        }
        None if merged.is_empty() => None,
        None => Some(fit_topics(
            &merged,
            &by_paper,
            options.topic_params,
            progress,
        )),
    };
    if let Some(model) = &model {
        write_topics(&staging, model, &merged, &by_paper)?;
        failpoint("topics", &staging.vectors_dir())?;
    }
    // Every paper's row changes with the collection's document frequencies, so the rows are
    // made afresh for all of them (2.6 s for data/'s 8,320 papers on 2 cores).
    staging.write_word_vectors(&build_word_vectors(&merged, progress))?;
    let generation = staging.commit(
        merged.len(),
        ModelInfo::of(embedder, Recipe::for_model(embedder.kind())),
    )?;
    Ok(Update::Written {
        generation,
        papers: merged.len(),
        added,
        updated,
        embedded: changed.len(),
        texts_cached: cache_use.cached,
        texts_embedded: cache_use.embedded,
        notices,
    })
}

/// Hands the heap's free pages back to the system between stages. glibc keeps what a stage
/// freed in the arena of the thread that freed it; the next stage's threads then take fresh
/// pages instead (at 30k papers ~260 MB stayed resident after the embedding, ~300 MB after the
/// text index).
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's own heaps to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Whether `embedder`'s recipe gives papers views per query script.
fn wants_views(embedder: &Embedder) -> bool {
    Recipe::for_model(embedder.kind()) == Recipe::Sides
}

/// The live generation's views, when the write will keep them: `None` when it has none or the
/// model does not make them. Damaged views fail the write, as damaged vectors do (`--rebuild`).
fn live_views(store: &Store, embedder: &Embedder) -> Result<Option<ScriptViews>> {
    if !wants_views(embedder) {
        return Ok(None);
    }
    store.script_views()
}

/// Per paper, the generation that last added or changed it: `generation` for new and changed
/// papers (every paper after a rebuild), the previous record for the others. Where the previous
/// generation has no readable record, every paper counts as changed now: an incremental export
/// then sends too much, never too little.
fn change_stamps(
    previous: Option<&Store>,
    existing: &[Paper],
    merged: &[Paper],
    generation: u64,
    notices: &mut Vec<String>,
) -> Vec<u64> {
    let old = match previous.map(Store::changed_in) {
        Some(Ok(stamps)) => stamps,
        Some(Err(error)) => {
            notices.push(format!(
                "the record of changed papers is damaged ({}): every paper counts as changed",
                short(&error)
            ));
            None
        }
        None => None,
    };
    merged
        .iter()
        .enumerate()
        .map(|(i, paper)| match (&old, existing.get(i)) {
            (Some(old), Some(before)) if before == paper => old[i],
            _ => generation,
        })
        .collect()
}

/// The live generation and its papers, `None` for a new index. For a rebuild, the generation
/// is first verified in full, and an error means it cannot be trusted (the rebuild then starts
/// from the digests given); otherwise an error fails the write.
fn live_generation(dir: &Path, rebuild: bool) -> Result<Option<(Store, Vec<Paper>)>> {
    if !Store::exists(dir) {
        // A manifest that is gone but generations that remain: a rebuild starts afresh.
        return Ok(None);
    }
    let store = Store::open(dir)?;
    if rebuild {
        store.verify_all()?;
    }
    let papers = store.papers()?;
    Ok(Some((store, papers)))
}

/// An error as a short clause: the damaged file and what is wrong, without the advice.
fn short(error: &Error) -> String {
    match error {
        Error::IndexDamaged { path, reason, .. } => format!("{}: {reason}", path.display()),
        other => other.to_string(),
    }
}

/// The vectors of the papers `numbers`, through the index's embedding cache (and `seeds`):
/// a text embedded by an earlier run, finished or not, is not embedded again.
fn embed_papers(
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
    let (checksum, dims) = (embedder.cache_key(), embedder.dims());
    let mut own = EmbeddingCache::open(&paths.own, checksum, dims)?;
    let mut shared = match &paths.shared {
        Some(path) => Some(EmbeddingCache::open(path, checksum, dims)?),
        None => None,
    };
    let seeds = paths
        .seeds
        .iter()
        .map(|path| EmbeddingCache::open(path, checksum, dims))
        .collect::<Result<Vec<_>>>()?;
    let count = numbers.len() * per;
    let caches = Caches {
        own: &mut own,
        shared: shared.as_mut(),
        seeds: &seeds,
    };
    let (vectors, cache_use) = embed_texts(embedder, caches, count, &text, progress)?;
    drop((own, shared, seeds));
    let mut vectors = vectors.into_iter();
    let mut embedded = Embedded::default();
    for _ in numbers {
        let own: Vec<Box<[f32]>> = vectors.by_ref().take(per).collect();
        let views: Vec<&[f32]> = own.iter().map(|v| &v[..]).collect();
        let paper = mean_direction(&views);
        if let (Recipe::Sides, [english, chinese]) = (recipe, &views[..]) {
            embedded
                .views
                .push(ScriptViews::views_of(english, chinese, &paper));
        }
        embedded.vectors.push(paper);
    }
    Ok((embedded, cache_use))
}

/// The embedding caches a write reads and fills.
struct CachePaths<'a> {
    /// The index's own cache.
    own: PathBuf,
    /// The per-user cache, when on.
    shared: Option<PathBuf>,
    /// Caches shipped beside the digests read.
    seeds: &'a [PathBuf],
}

/// The vectors of the papers embedded by one write, and their views per query script when the
/// recipe embeds the two sides apart (empty otherwise).
#[derive(Default)]
struct Embedded {
    vectors: Vec<Vec<f32>>,
    views: Vec<[Vec<f32>; 2]>,
}

/// The views of every paper after a write that embedded `numbers`: the live generation's
/// views with those papers' replaced, or the fresh ones alone.
fn updated_views(
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

/// Writes the generation's topics and their coarse level. Merging into the coarse level takes
/// seconds (1.4 s at 8k papers), so it is done once here, by the write, and readers load it.
fn write_topics(
    staging: &Staging,
    model: &TopicModel,
    papers: &[Paper],
    vectors_by_paper: &[Vec<f32>],
) -> Result<()> {
    staging.write_topics(model)?;
    staging.write_coarse_topics(&topics::coarse(model, papers, vectors_by_paper))
}

/// The papers' word vectors for `related`, with the measured defaults.
fn build_word_vectors(papers: &[Paper], progress: &dyn Progress) -> WordVectors {
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
