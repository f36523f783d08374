//! The write of digests' papers into a new generation, words first when there is much to embed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::embedding::{CachePaths, cached_papers, embed_papers, updated_views};
use super::finish::finish_vectors;
use super::options::{IndexReport, Update, UpdateOptions, WORDS_FIRST_ABOVE};
use super::refit::{build_word_vectors, fit_topics, write_topics};
use crate::digest::{self, OnBadFile, merge_duplicates};
use crate::embed::cache::{CacheUse, cache_file_name};
use crate::embed::{Embedder, Recipe};
use crate::error::{Error, Result};
use crate::fulltext;
use crate::paper::{Paper, PaperNumber};
use crate::progress::{Progress, stage};
use crate::store::{ModelInfo, SEED_DIR, Staging, Store, WriteLock, failpoint, tidy};
use crate::topics::{self};
use crate::vectors::VectorIndex;
use crate::vectors::views::ScriptViews;

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
pub(super) fn seed_caches(inputs: &[PathBuf], embedder: &Embedder) -> Vec<PathBuf> {
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

pub(super) fn write_papers(
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

/// Hands the heap's free pages back to the system between stages. glibc keeps what a stage
/// freed in the arena of the thread that freed it; the next stage's threads then take fresh
/// pages instead (at 30k papers ~260 MB stayed resident after the embedding, ~300 MB after the
/// text index).
pub(super) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's own heaps to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Whether `embedder`'s recipe gives papers views per query script.
pub(super) fn wants_views(embedder: &Embedder) -> bool {
    Recipe::for_model(embedder.kind()) == Recipe::Sides
}

/// The live generation's views, when the write will keep them: `None` when it has none or the
/// model does not make them. Damaged views fail the write, as damaged vectors do (`--rebuild`).
pub(super) fn live_views(store: &Store, embedder: &Embedder) -> Result<Option<ScriptViews>> {
    if !wants_views(embedder) {
        return Ok(None);
    }
    store.script_views()
}

/// Per paper, the generation that last added or changed it: `generation` for new and changed
/// papers (every paper after a rebuild), the previous record for the others. Where the previous
/// generation has no readable record, every paper counts as changed now: an incremental export
/// then sends too much, never too little.
pub(super) fn change_stamps(
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
pub(super) fn live_generation(dir: &Path, rebuild: bool) -> Result<Option<(Store, Vec<Paper>)>> {
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
pub(super) fn short(error: &Error) -> String {
    match error {
        Error::IndexDamaged { path, reason, .. } => format!("{}: {reason}", path.display()),
        other => other.to_string(),
    }
}
