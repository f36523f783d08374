//! The write path: digests are parsed, merged with the indexed papers, and written as a new
//! generation (full text, vectors, topics) under one writer lock. Every change to an index goes
//! through here, so a second writer always meets the same clear "locked" error and a failure at
//! any step leaves the live generation as it was.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::digest::{self, OnBadFile, Skipped, Warning, merge_duplicates};
use crate::embed::cache::{
    CacheUse, Caches, EmbeddingCache, TextVectors, cache_file_name, cached_texts, embed_texts,
    embed_texts_with,
};
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
    /// A new index whose texts to embed (those in no cache) are more than this is committed
    /// with its words first, then its vectors as they are made; `None` is
    /// [`WORDS_FIRST_ABOVE`].
    pub words_first_above: Option<usize>,
    /// After committing the words of a new index first, return instead of embedding the rest:
    /// the caller finishes with [`finish_embedding`] (a server that answers meanwhile).
    pub defer_embedding: bool,
}

/// Texts to embed above which a new index is searchable by words before it is embedded: ~256
/// texts are 10-20 s of e5 on two cores, about what committing twice saves no one.
pub const WORDS_FIRST_ABOVE: usize = 256;

/// The shortest time between two generations that add vectors while an index is embedded
/// (longer when a commit itself takes long: see [`VectorCommits`]).
const VECTOR_COMMIT_EVERY: Duration = Duration::from_secs(30);

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
        /// When the papers were searchable by words before their vectors were done: the
        /// generation that made them so and the milliseconds it took.
        words_first: Option<(u64, u64)>,
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
                words_first,
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
                if let Some((generation, ms)) = words_first {
                    map.serialize_entry("words_first_generation", generation)?;
                    map.serialize_entry("words_searchable_seconds", &(*ms as f64 / 1000.0))?;
                }
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
    let started = Instant::now();
    let caches = CachePaths::of(dir, embedder, &options, seeds);
    // A generation whose embedding was cut short is finished before anything else is written:
    // new papers then meet complete vectors and topic centroids.
    let finished = if options.rebuild {
        None
    } else {
        finish_vectors(lock, &caches, embedder, progress)?
    };
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
        return Ok(match finished {
            Some(done) => done.as_update(merged.len()),
            None => Update::Unchanged {
                papers: merged.len(),
            },
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
    // A new index with much to embed is committed with its words first (and the vectors the
    // caches hold), then embedded: its papers are searchable by words in seconds.
    let words_first_above = options.words_first_above.unwrap_or(WORDS_FIRST_ABOVE);
    let (embedded, cache_use) = match reuse {
        None => {
            let cached = cached_papers(&caches, embedder, &merged, &changed)?;
            if cached.texts_missing > words_first_above {
                let usage = CacheUse {
                    cached: cached.texts_cached,
                    embedded: 0,
                };
                (cached, usage)
            } else {
                embed_papers(&caches, embedder, &merged, &changed, progress)?
            }
        }
        Some(_) => embed_papers(&caches, embedder, &merged, &changed, progress)?,
    };
    let complete = embedded.texts_missing == 0;
    release_free_memory();
    let mut views = updated_views(
        old_views,
        embedder.dims(),
        &embedded.numbers,
        &embedded.views,
    );
    if let Some(views) = views.as_mut() {
        views.pad_to(merged.len());
    }
    let fresh: Vec<(PaperNumber, Vec<f32>)> = embedded
        .numbers
        .iter()
        .copied()
        .zip(embedded.vectors)
        .collect();
    let vectors = match reuse {
        Some(store) => {
            let mut index = store.vectors(embedder)?;
            stage(progress, "graph", fresh.len(), || {
                index.upsert(fresh, || progress.inc())
            });
            index
        }
        None => stage(progress, "graph", fresh.len(), || {
            VectorIndex::build_for(embedder.dims(), fresh, options.vector_params, || {
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
    if !complete {
        staging.set_vector_coverage(vectors.len());
    }
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
        // The coarse level merges topics by their vectors' centroids: it is written when
        // every paper has a vector.
        if complete {
            write_topics(&staging, model, &merged, &by_paper)?;
        } else {
            staging.write_topics(model)?;
        }
        failpoint("topics", &staging.vectors_dir())?;
    }
    // Every paper's row changes with the collection's document frequencies, so the rows are
    // made afresh for all of them (2.6 s for data/'s 8,320 papers on 2 cores).
    staging.write_word_vectors(&build_word_vectors(&merged, progress))?;
    let generation = staging.commit(
        merged.len(),
        ModelInfo::of(embedder, Recipe::for_model(embedder.kind())),
    )?;
    let mut update = Update::Written {
        generation,
        papers: merged.len(),
        added,
        updated,
        embedded: changed.len(),
        texts_cached: cache_use.cached,
        texts_embedded: cache_use.embedded,
        words_first: None,
        notices,
    };
    if !complete && !options.defer_embedding {
        failpoint("words", dir)?;
        let words_ms = started.elapsed().as_millis() as u64;
        progress.note(&format!(
            "{} papers searchable by words after {:.1} s (generation {generation}); meaning \
             covers {} so far, embedding the rest",
            crate::text::thousands(merged.len()),
            words_ms as f64 / 1000.0,
            crate::text::thousands(embedded.numbers.len()),
        ));
        if let Some(done) = finish_vectors(lock, &caches, embedder, progress)? {
            update = done.after(update, (generation, words_ms));
        }
    }
    Ok(update)
}

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
struct Finished {
    generation: u64,
    papers: usize,
    texts_cached: usize,
    texts_embedded: usize,
}

impl Finished {
    /// The update of a write that only finished the vectors.
    fn as_update(&self, papers: usize) -> Update {
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
    fn after(self, words: Update, first: (u64, u64)) -> Update {
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
fn finish_vectors(
    lock: &WriteLock,
    caches: &CachePaths<'_>,
    embedder: &Embedder,
    progress: &dyn Progress,
) -> Result<Option<Finished>> {
    let dir = lock.dir();
    if !Store::exists(dir) {
        return Ok(None);
    }
    let store = Store::open(dir)?;
    if store.manifest.vectors_complete() {
        return Ok(None);
    }
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
struct VectorCommits<'a> {
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
    fn on_sync(&mut self, so_far: &TextVectors) -> Result<()> {
        let due = self.last.elapsed() >= VECTOR_COMMIT_EVERY.max(self.last_took * 10);
        if due || self.progress.stop_requested() {
            self.commit(so_far, false)?;
        }
        Ok(())
    }

    /// Commits a generation with the vectors of every missing paper whose texts are all
    /// embedded; the `last` one also makes the topics' centroids and coarse level again.
    fn commit(&mut self, so_far: &TextVectors, last: bool) -> Result<()> {
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
    let mut open = paths.open(embedder)?;
    let count = numbers.len() * per;
    let (vectors, cache_use) = embed_texts(embedder, open.caches(), count, &text, progress)?;
    drop(open);
    let vectors: Vec<Option<Box<[f32]>>> = vectors.into_iter().map(Some).collect();
    Ok((Embedded::of(recipe, numbers, vectors), cache_use))
}

/// The vectors of the papers `numbers` that the caches hold for every text of the paper;
/// nothing is embedded.
fn cached_papers(
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
struct CachePaths<'a> {
    /// The index's own cache.
    own: PathBuf,
    /// The per-user cache, when on.
    shared: Option<PathBuf>,
    /// Caches shipped beside the digests read.
    seeds: &'a [PathBuf],
}

impl<'a> CachePaths<'a> {
    /// The caches a write to the index in `dir` reads and fills.
    fn of(dir: &Path, embedder: &Embedder, options: &UpdateOptions, seeds: &'a [PathBuf]) -> Self {
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
    fn open(&self, embedder: &Embedder) -> Result<OpenCaches> {
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
struct OpenCaches {
    own: EmbeddingCache,
    shared: Option<EmbeddingCache>,
    seeds: Vec<EmbeddingCache>,
}

impl OpenCaches {
    fn caches(&mut self) -> Caches<'_> {
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
struct Embedded {
    /// The papers with a vector, in order.
    numbers: Vec<PaperNumber>,
    vectors: Vec<Vec<f32>>,
    views: Vec<[Vec<f32>; 2]>,
    /// Texts whose vectors some cache held.
    texts_cached: usize,
    /// Texts of the papers asked for that have no vector yet.
    texts_missing: usize,
}

impl Embedded {
    /// The papers `numbers` whose texts (`recipe`'s number each, in order in `texts`) all have
    /// a vector, each paper's vector the mean direction of its texts'.
    fn of(recipe: Recipe, numbers: &[PaperNumber], texts: Vec<Option<Box<[f32]>>>) -> Self {
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
