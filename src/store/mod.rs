//! The index directory: the manifest, its generations, the writer lock, and the atomic commit of
//! a new generation ([`Store`] here is the read side; `staging` writes under the `lock`). Only this module and `update` know the directory's layout.
//!
//! ```text
//! index/
//!   manifest.json       format, generation, paper count, model, every file's size and CRC-32
//!   gen-NNNNNN/         one complete generation: text/ (Tantivy), vectors/, topics.json
//!   write.lock          held (flock) by the one writer
//! ```
//!
//! A write builds a complete new generation beside the live one (parts it does not change are
//! hard-linked from the live one) and then swaps `manifest.json`. Readers follow the manifest,
//! so a crash or a bad input part-way leaves the previous generation answering as before. The
//! previous generation is kept until the write after next, so a reader that read the old
//! manifest can still open it; a reader that loses that race re-reads the manifest and retries.
//!
//! Integrity: the manifest records every file of its generation (size, CRC-32). Opening checks
//! sizes, the CRC-32 of every file under 1 MiB (0.1-0.2 ms on the 8,320-paper sample index; a
//! CRC of all 35.6 MB takes 18-72 ms in a fresh process, most of a BM25 search's budget) and
//! that the manifest, Tantivy, the vectors and the topics agree on the number of papers.
//! Vector and topic files are checked in full when they are loaded (they are read whole
//! anyway); [`check`] verifies everything.

mod check;
mod lock;
mod manifest;
mod staging;

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

pub(crate) use crate::atomic::failpoint;
use crate::embed::Embedder;
use crate::error::{Error, Result};
use crate::fulltext::TextIndex;
use crate::paper::{Paper, PaperNumber};
use crate::topics::{TopicModel, WordVectors};
use crate::vectors::VectorIndex;
use crate::vectors::views::{ScriptViews, VIEWS_FILE};
pub use check::{CheckReport, Problem, check};
pub use lock::WriteLock;
use manifest::{
    CHANGES_FILE, COARSE_TOPICS_FILE, Depth, MANIFEST, TEXT_DIR, TOPICS_FILE, VECTORS_DIR,
    WORD_VECTORS_FILE, read_manifest, verify_bytes, verify_files,
};
pub use manifest::{FORMAT_VERSION, FileRecord, Manifest, ModelInfo};
pub use staging::{Staging, tidy};

/// The embedding cache's directory in an index (outside the generations: a text's vector does
/// not depend on which generation it was made for).
const CACHE_DIR: &str = "cache";
/// The directory beside a directory of digests that may ship their embedding cache.
pub(crate) const SEED_DIR: &str = "embeddings";
/// How often [`Store::open`] re-reads the manifest when the generation it named went away
/// while it was being opened (a writer committed twice meanwhile).
const OPEN_ATTEMPTS: usize = 5;

/// Where the index in `dir` keeps `embedder`'s embedding cache.
pub(crate) fn embedding_cache_path(dir: &Path, embedder: &Embedder) -> PathBuf {
    dir.join(CACHE_DIR)
        .join(crate::embed::cache::cache_file_name(embedder))
}

/// An opened index: the manifest and the live generation's text index; vectors and topics are
/// loaded on demand.
pub struct Store {
    dir: PathBuf,
    /// The manifest as read when the store was opened.
    pub manifest: Manifest,
    /// The generation's full-text (Tantivy) index.
    pub text: TextIndex,
}

impl Store {
    /// Whether `dir` holds an index (its manifest exists).
    pub fn exists(dir: &Path) -> bool {
        dir.join(MANIFEST).is_file()
    }

    /// Whether the index in `dir` has papers without vectors yet, from its manifest alone (a
    /// write asks before every commit; opening the store would check the text index in full).
    /// An unreadable manifest says no: opening the index then reports it.
    pub fn being_embedded(dir: &Path) -> bool {
        read_manifest(dir).is_ok_and(|m| !m.vectors_complete())
    }

    /// Opens the live generation of the index in `dir`, after checking its text files against
    /// the manifest and the paper counts against each other. When the generation the manifest
    /// named cannot be opened because a writer replaced it meanwhile, the manifest is read
    /// again (a few times).
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.is_dir() || !Self::exists(dir) {
            return Err(Error::IndexMissing {
                path: dir.to_path_buf(),
            });
        }
        let mut attempt = 1;
        loop {
            let manifest = read_manifest(dir)?;
            match open_text(dir, &manifest) {
                Ok(text) => {
                    return Ok(Store {
                        dir: dir.to_path_buf(),
                        manifest,
                        text,
                    });
                }
                Err(error) => {
                    let moved = read_manifest(dir)
                        .is_ok_and(|now| now.generation_dir != manifest.generation_dir);
                    if !moved || attempt >= OPEN_ATTEMPTS {
                        return Err(error);
                    }
                    attempt += 1;
                }
            }
        }
    }

    /// The index directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Refuses what `needs` every paper's vector while the index is still being embedded.
    pub fn require_all_vectors(&self, needs: &'static str) -> Result<()> {
        if self.manifest.vectors_complete() {
            return Ok(());
        }
        Err(Error::VectorsIncomplete {
            path: self.dir.clone(),
            needs,
            covered: self.manifest.papers_with_vectors(),
            papers: self.manifest.paper_count,
        })
    }

    pub(in crate::store) fn generation_path(&self) -> PathBuf {
        self.dir.join(&self.manifest.generation_dir)
    }

    fn damaged(&self, path: impl Into<PathBuf>, reason: impl Into<String>) -> Error {
        Error::damaged(&self.dir, path, reason)
    }

    /// Every paper, in paper-number order.
    pub fn papers(&self) -> Result<Vec<Paper>> {
        self.text.all_papers()
    }

    /// The generation's topic model; `None` when none was fitted (an empty index, or one
    /// written by an older paperscope). Checked against the manifest (size, CRC-32) and
    /// against the papers (one assignment per paper, every topic it names exists).
    pub fn topics(&self) -> Result<Option<TopicModel>> {
        self.topic_file(TOPICS_FILE)
    }

    /// The generation's coarse topics, checked as [`Store::topics`]; `None` when the write that
    /// made the generation did not store them (an index written by an older paperscope).
    pub fn coarse_topics(&self) -> Result<Option<TopicModel>> {
        self.topic_file(COARSE_TOPICS_FILE)
    }

    /// Whether the generation stores its coarse topics (without reading them).
    pub fn has_coarse_topics(&self) -> bool {
        self.manifest
            .files
            .iter()
            .any(|r| r.path == COARSE_TOPICS_FILE)
    }

    fn topic_file(&self, name: &str) -> Result<Option<TopicModel>> {
        let path = self.generation_path().join(name);
        let record = self.manifest.files.iter().find(|r| r.path == name);
        if !path.is_file() {
            return match record {
                Some(_) => Err(self.damaged(&path, "missing")),
                None => Ok(None),
            };
        }
        let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
        if let Some(record) = record {
            verify_bytes(&self.dir, &path, record, &bytes)?;
        }
        let model: TopicModel = serde_json::from_slice(&bytes)
            .map_err(|e| self.damaged(&path, format!("not a valid topic model ({e})")))?;
        topics_problem(&model, self.manifest.paper_count)
            .map_or(Ok(Some(model)), |reason| Err(self.damaged(&path, reason)))
    }

    /// The papers' word vectors for `related`; `None` when the write that made the generation
    /// did not store them (an index written by an older paperscope). Checked against the
    /// manifest (size, CRC-32) and the papers (one row per paper).
    pub fn word_vectors(&self) -> Result<Option<WordVectors>> {
        let path = self.generation_path().join(WORD_VECTORS_FILE);
        let Some(record) = self
            .manifest
            .files
            .iter()
            .find(|r| r.path == WORD_VECTORS_FILE)
        else {
            return Ok(None);
        };
        let bytes = fs::read(&path).map_err(|e| in_index(&self.dir, Error::io(&path, e)))?;
        verify_bytes(&self.dir, &path, record, &bytes)?;
        WordVectors::from_bytes(&bytes, self.manifest.paper_count)
            .map(Some)
            .map_err(|reason| self.damaged(&path, reason))
    }

    /// The index's embedding cache of `embedder`, to read (empty when there is none).
    pub fn embedding_cache(
        &self,
        embedder: &Embedder,
    ) -> Result<crate::embed::cache::EmbeddingCache> {
        crate::embed::cache::EmbeddingCache::open(
            &embedding_cache_path(&self.dir, embedder),
            embedder.cache_key(),
            embedder.dims(),
        )
    }

    /// Per paper number, the generation that last added or changed the paper; `None` when the
    /// generation was written before paperscope recorded it. Checked against the manifest
    /// (size, CRC-32) and the papers (one entry per paper, none after this generation).
    pub fn changed_in(&self) -> Result<Option<Vec<u64>>> {
        let path = self.generation_path().join(CHANGES_FILE);
        let Some(record) = self.manifest.files.iter().find(|r| r.path == CHANGES_FILE) else {
            return Ok(None);
        };
        let bytes = fs::read(&path).map_err(|e| in_index(&self.dir, Error::io(&path, e)))?;
        verify_bytes(&self.dir, &path, record, &bytes)?;
        let stamps: Vec<u64> = serde_json::from_slice(&bytes)
            .map_err(|e| self.damaged(&path, format!("not a list of generations ({e})")))?;
        let papers = self.manifest.paper_count;
        if stamps.len() != papers || stamps.iter().any(|&g| g > self.manifest.generation) {
            return Err(self.damaged(
                &path,
                format!(
                    "does not give a generation up to {} for each of the {papers} papers",
                    self.manifest.generation
                ),
            ));
        }
        Ok(Some(stamps))
    }

    /// The vector index, refused when it was built with a model other than `embedder`; checked
    /// against the manifest and the papers (one live vector per paper).
    pub fn vectors(&self, embedder: &Embedder) -> Result<VectorIndex> {
        self.check_model(embedder)?;
        self.vectors_of_any_model()
    }

    /// Refuses `embedder` when the index was built with another model.
    pub fn check_model(&self, embedder: &Embedder) -> Result<()> {
        let current = ModelInfo::of(embedder, self.manifest.model.recipe);
        if current != self.manifest.model {
            return Err(Error::ModelMismatch {
                path: self.dir.clone(),
                built_with: self.manifest.model.describe(),
                current: current.describe(),
            });
        }
        Ok(())
    }

    /// The vector index as [`Store::vectors`] checks it, but without the model: for a process
    /// that reads the vectors while its model loads, and calls [`Store::check_model`] after.
    pub fn vectors_of_any_model(&self) -> Result<VectorIndex> {
        self.load_vectors(Depth::Open)
    }

    /// The papers' views per query script (`None` for an index embedded in one text per paper,
    /// or written before paperscope kept them). Checked against the manifest (size, CRC-32),
    /// the model's dimensions and the papers (one pair of views each).
    pub fn script_views(&self) -> Result<Option<ScriptViews>> {
        let relative = format!("{VECTORS_DIR}/{VIEWS_FILE}");
        let Some(record) = self.manifest.files.iter().find(|r| r.path == relative) else {
            return Ok(None);
        };
        let path = self.generation_path().join(&relative);
        let bytes = fs::read(&path).map_err(|e| in_index(&self.dir, Error::io(&path, e)))?;
        verify_bytes(&self.dir, &path, record, &bytes)?;
        let views = ScriptViews::from_bytes(&bytes, &path).map_err(|e| in_index(&self.dir, e))?;
        let papers = self.manifest.paper_count;
        if views.dims() != self.manifest.model.dims || views.len() != papers {
            return Err(self.damaged(
                &path,
                format!(
                    "holds views of {} papers x {} dims, not of the {papers} papers x {} dims",
                    views.len(),
                    views.dims(),
                    self.manifest.model.dims
                ),
            ));
        }
        Ok(Some(views))
    }

    pub(in crate::store) fn load_vectors(&self, depth: Depth) -> Result<VectorIndex> {
        verify_files(&self.dir, &self.manifest, VECTORS_DIR, depth)?;
        let dir = self.generation_path().join(VECTORS_DIR);
        let index = VectorIndex::load(&dir).map_err(|e| in_index(&self.dir, e))?;
        let meta = dir.join(crate::vectors::META_FILE);
        if index.dims() != self.manifest.model.dims {
            return Err(self.damaged(
                &meta,
                format!(
                    "vectors have {} dims, the manifest's model {}",
                    index.dims(),
                    self.manifest.model.dims
                ),
            ));
        }
        let papers = self.manifest.paper_count;
        let covered = self.manifest.papers_with_vectors();
        let present = (0..papers)
            .filter(|&i| index.vector_of(PaperNumber::from_index(i)).is_some())
            .count();
        if index.len() != covered || present != covered {
            let expected = if covered == papers {
                format!("the {papers} papers 0..{papers}")
            } else {
                format!("{covered} of the {papers} papers 0..{papers}")
            };
            return Err(self.damaged(
                &meta,
                format!("holds vectors of {} papers, not of {expected}", index.len()),
            ));
        }
        Ok(index)
    }

    /// Checks every recorded file of the generation in full (size and CRC-32), for callers
    /// about to trust all of it (a rebuild reading the papers back).
    pub fn verify_all(&self) -> Result<()> {
        verify_files(&self.dir, &self.manifest, "", Depth::Full)
    }
}

/// Opens the text index of the generation `manifest` names, after checking its files (sizes,
/// small files' CRC-32) and that it holds the manifest's number of papers.
fn open_text(dir: &Path, manifest: &Manifest) -> Result<TextIndex> {
    let generation = dir.join(&manifest.generation_dir);
    if !generation.is_dir() {
        return Err(Error::damaged(
            dir,
            &generation,
            "the generation directory the manifest names is missing",
        ));
    }
    // Every text file's CRC, not only the small ones': damage to postings or stored papers
    // would otherwise change answers silently. Costs ~20 ms for the 26 MB of data/'s text index
    // (the hybrid path hides it behind the model load on the other thread).
    verify_files(dir, manifest, TEXT_DIR, Depth::Full)?;
    let text = TextIndex::open(&generation.join(TEXT_DIR))?;
    let docs = text.num_docs();
    if docs != manifest.paper_count {
        return Err(Error::damaged(
            dir,
            dir.join(MANIFEST),
            format!(
                "records {} papers but the text index holds {docs}",
                manifest.paper_count
            ),
        ));
    }
    Ok(text)
}

/// What is wrong with a topic model of `papers` papers, if anything.
fn topics_problem(model: &TopicModel, papers: usize) -> Option<String> {
    if model.assignments.len() != papers {
        return Some(format!(
            "assigns {} papers, the index holds {papers}",
            model.assignments.len()
        ));
    }
    let ids: HashSet<usize> = model.topics.iter().map(|t| t.id).collect();
    if ids.len() != model.topics.len() {
        return Some("two topics share an id".into());
    }
    model.assignments.iter().find_map(|a| {
        let topic_ok = a.topic == -1 || usize::try_from(a.topic).is_ok_and(|t| ids.contains(&t));
        (!topic_ok || !ids.contains(&a.nearest)).then(|| {
            format!(
                "paper {} is assigned to a topic that does not exist",
                a.arxiv_id
            )
        })
    })
}

/// The library's corruption errors of a file in the index in `dir`, as [`Error::IndexDamaged`]
/// (a missing file of a committed generation is damage too); other errors as they are.
fn in_index(dir: &Path, error: Error) -> Error {
    match error {
        Error::IndexCorrupt { path, reason } => Error::damaged(dir, path, reason),
        Error::Io { path, source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Error::damaged(dir, path, "missing")
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small real index (one digest) for the loaders' property tests.
    fn small_index() -> (tempfile::TempDir, crate::embed::Embedder) {
        let dir = crate::fuzzing::scratch();
        let embedder = crate::embed::Embedder::shipped().expect("shipped model");
        let digest =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digests/2024-03-06_cs.CL_0a55959e.md");
        let options = crate::update::UpdateOptions::default();
        crate::update::index_files(
            dir.path(),
            &[digest],
            &embedder,
            options,
            &crate::progress::Quiet,
        )
        .expect("index builds");
        (dir, embedder)
    }

    /// A damaged manifest never panics: it is refused, or the index it describes opens and
    /// answers (or refuses) its parts without a panic.
    #[test]
    fn damaged_manifests_never_panic() {
        use crate::fuzzing::{apply, mutation, runner};
        let (index, embedder) = small_index();
        let path = index.path().join(MANIFEST);
        let original = fs::read(&path).expect("manifest");
        let mut runner = runner();
        runner
            .run(&mutation(), |damage| {
                fs::write(&path, apply(&original, &damage)).expect("write");
                if read_manifest(index.path()).is_ok()
                    && let Ok(store) = Store::open(index.path())
                {
                    let _ = store.topics();
                    let _ = store.vectors(&embedder);
                }
                Ok(())
            })
            .expect("no manifest panics the loader");
    }

    /// A damaged topic model (past its checksum, as a crafted file would be) never panics the
    /// loader's checks.
    #[test]
    fn damaged_topic_models_never_panic() {
        use crate::fuzzing::{apply, mutation, runner};
        let (index, _) = small_index();
        let store = Store::open(index.path()).expect("opens");
        let original = fs::read(store.generation_path().join(TOPICS_FILE)).expect("topics");
        let papers = store.manifest.paper_count;
        let mut runner = runner();
        runner
            .run(&mutation(), |damage| {
                let bytes = apply(&original, &damage);
                if let Ok(model) = serde_json::from_slice::<TopicModel>(&bytes) {
                    let _ = topics_problem(&model, papers);
                }
                Ok(())
            })
            .expect("no topic model panics the checks");
    }
}
