//! The index directory: the manifest, its generations, the writer lock, and the atomic commit of
//! a new generation. Only this module and `update` know the directory's layout.
//!
//! ```text
//! index/
//!   manifest.json       format, generation, paper count, model; swapped atomically
//!   gen-NNNNNN/         one complete generation: text/ (Tantivy), vectors/, topics.json
//!   write.lock          held (flock) by the one writer
//! ```
//!
//! A write builds a complete new generation beside the live one (parts it does not change are
//! hard-linked from the live one) and then swaps `manifest.json`. Readers follow the manifest,
//! so a crash or a bad input part-way leaves the previous generation answering as before.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use fs2::FileExt;
use serde::{Deserialize, Serialize};

use crate::atomic::{write_atomically, write_json_atomically};
use crate::embed::{Embedder, Recipe};
use crate::error::{Error, Result};
use crate::fulltext::TextIndex;
use crate::paper::Paper;
use crate::topics::TopicModel;
use crate::vectors::VectorIndex;

/// 3: topics.json lives in the generation (written under the lock with the rest).
pub const FORMAT_VERSION: u32 = 3;
/// Format 2 differs only in keeping topics.json beside the manifest: its text and vectors are
/// read as they are; its topics are refitted by the next write.
const READABLE_FORMATS: [u32; 2] = [2, FORMAT_VERSION];
const MANIFEST: &str = "manifest.json";
const LOCK: &str = "write.lock";
const TEXT_DIR: &str = "text";
const VECTORS_DIR: &str = "vectors";
const TOPICS_FILE: &str = "topics.json";

/// What `manifest.json` records about the live generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// On-disk format ([`FORMAT_VERSION`] when written by this build).
    pub format_version: u32,
    /// Counts up by one with every committed write.
    pub generation: u64,
    /// Papers in the generation (dense numbers `0..paper_count`).
    pub paper_count: usize,
    /// Directory of the live generation, relative to the index directory.
    pub generation_dir: String,
    /// The embedding model the vectors were made with.
    pub model: ModelInfo,
}

/// The embedding model the vectors were made with; another model's vectors are not comparable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The model's name, from its weights file.
    pub id: String,
    /// Vector dimensions.
    pub dims: usize,
    /// Fingerprint of the model's weights file.
    pub checksum: String,
    /// How a paper's vector is made from its fields.
    pub recipe: Recipe,
}

impl ModelInfo {
    /// The record of `embedder` making paper vectors by `recipe`.
    pub(crate) fn of(embedder: &Embedder, recipe: Recipe) -> Self {
        ModelInfo {
            id: embedder.model_id().to_string(),
            dims: embedder.dims(),
            checksum: embedder.checksum().to_string(),
            recipe,
        }
    }

    fn describe(&self) -> String {
        format!("{} ({} dims, {:?})", self.id, self.dims, self.recipe)
    }
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

    /// Opens the live generation of the index in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.is_dir() || !Self::exists(dir) {
            return Err(Error::IndexMissing {
                path: dir.to_path_buf(),
            });
        }
        let manifest = read_manifest(dir)?;
        let text = TextIndex::open(&dir.join(&manifest.generation_dir).join(TEXT_DIR))?;
        Ok(Store {
            dir: dir.to_path_buf(),
            manifest,
            text,
        })
    }

    /// The index directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn generation_path(&self) -> PathBuf {
        self.dir.join(&self.manifest.generation_dir)
    }

    /// Every paper, in paper-number order.
    pub fn papers(&self) -> Result<Vec<Paper>> {
        self.text.all_papers()
    }

    /// The generation's topic model; `None` when none was fitted (an empty index, or one
    /// written by an older paperscope).
    pub fn topics(&self) -> Result<Option<TopicModel>> {
        let path = self.generation_path().join(TOPICS_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::IndexCorrupt {
                path,
                reason: format!("topic model is not valid ({e})"),
            })
    }

    /// The vector index, refused when it was built with a model other than `embedder`.
    pub fn vectors(&self, embedder: &Embedder) -> Result<VectorIndex> {
        let current = ModelInfo::of(embedder, self.manifest.model.recipe);
        if current != self.manifest.model {
            return Err(Error::ModelMismatch {
                path: self.dir.clone(),
                built_with: self.manifest.model.describe(),
                current: current.describe(),
            });
        }
        VectorIndex::load(&self.generation_path().join(VECTORS_DIR))
    }
}

fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| Error::IndexCorrupt {
        path: path.clone(),
        reason: format!("manifest is not valid ({e})"),
    })?;
    if !READABLE_FORMATS.contains(&manifest.format_version) {
        return Err(Error::IndexCorrupt {
            path,
            reason: format!(
                "format version {} is not the supported {FORMAT_VERSION}",
                manifest.format_version
            ),
        });
    }
    if manifest.generation_dir.contains("..") || manifest.generation_dir.contains('/') {
        return Err(Error::IndexCorrupt {
            path,
            reason: format!(
                "generation directory `{}` is not a plain name",
                manifest.generation_dir
            ),
        });
    }
    Ok(manifest)
}

/// The one writer's lock on an index directory, held while writing; released when dropped (or
/// when the process dies: it is an OS file lock).
pub struct WriteLock {
    dir: PathBuf,
    _file: File,
}

impl WriteLock {
    /// Takes the lock, creating the directory if needed; another writer gets
    /// [`Error::IndexLocked`] at once instead of waiting.
    pub fn acquire(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
        let path = dir.join(LOCK);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::write(&path, e))?;
        if file.try_lock_exclusive().is_err() {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            return Err(Error::IndexLocked {
                path: dir.to_path_buf(),
                pid: if pid.is_empty() {
                    "unknown".into()
                } else {
                    pid.into()
                },
            });
        }
        let write_pid = |file: &mut File| -> std::io::Result<()> {
            file.set_len(0)?;
            file.rewind()?;
            write!(file, "{}", std::process::id())?;
            file.sync_all()
        };
        write_pid(&mut file).map_err(|e| Error::write(&path, e))?;
        Ok(WriteLock {
            dir: dir.to_path_buf(),
            _file: file,
        })
    }

    /// The locked index directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

/// A generation being written under the writer lock. Nothing a reader sees changes until
/// [`Staging::commit`]; dropped without a commit, it removes what it wrote.
pub struct Staging<'lock> {
    lock: &'lock WriteLock,
    generation: u64,
    path: PathBuf,
    committed: bool,
}

impl<'lock> Staging<'lock> {
    /// Starts the generation after `previous` (the first one when there is none) in a fresh
    /// staging directory.
    pub fn begin(lock: &'lock WriteLock, previous: Option<&Store>) -> Result<Self> {
        let generation = previous.map_or(1, |s| s.manifest.generation + 1);
        let path = lock
            .dir
            .join(format!("{}.tmp", generation_name(generation)));
        if path.exists() {
            fs::remove_dir_all(&path).map_err(|e| Error::write(&path, e))?;
        }
        fs::create_dir_all(&path).map_err(|e| Error::write(&path, e))?;
        Ok(Staging {
            lock,
            generation,
            path,
            committed: false,
        })
    }

    /// The number this generation will have.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Where the new full-text index goes (created empty).
    pub fn text_dir(&self) -> Result<PathBuf> {
        let dir = self.path.join(TEXT_DIR);
        fs::create_dir_all(&dir).map_err(|e| Error::write(&dir, e))?;
        Ok(dir)
    }

    /// Where the new vector index goes.
    pub fn vectors_dir(&self) -> PathBuf {
        self.path.join(VECTORS_DIR)
    }

    /// Takes the live generation's full-text index as it is (hard links: Tantivy never changes
    /// a file once written).
    pub fn reuse_text(&self, previous: &Store) -> Result<()> {
        link_tree(
            &previous.generation_path().join(TEXT_DIR),
            &self.path.join(TEXT_DIR),
        )
    }

    /// Takes the live generation's vector index as it is.
    pub fn reuse_vectors(&self, previous: &Store) -> Result<()> {
        link_tree(
            &previous.generation_path().join(VECTORS_DIR),
            &self.vectors_dir(),
        )
    }

    /// Writes the generation's topic model.
    pub fn write_topics(&self, model: &TopicModel) -> Result<()> {
        write_json_atomically(&self.path.join(TOPICS_FILE), model)
    }

    /// Makes the generation live: renames it into place and swaps the manifest. The previous
    /// generation is removed afterwards (a failure there costs only disk space).
    pub fn commit(mut self, paper_count: usize, model: ModelInfo) -> Result<u64> {
        let dir = &self.lock.dir;
        let previous = read_manifest(dir).ok().map(|m| m.generation_dir);
        let name = generation_name(self.generation);
        let final_dir = dir.join(&name);
        if final_dir.exists() {
            fs::remove_dir_all(&final_dir).map_err(|e| Error::write(&final_dir, e))?;
        }
        fs::rename(&self.path, &final_dir).map_err(|e| Error::write(&final_dir, e))?;
        self.committed = true;
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            generation: self.generation,
            paper_count,
            generation_dir: name.clone(),
            model,
        };
        let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::IndexCorrupt {
            path: dir.join(MANIFEST),
            reason: e.to_string(),
        })?;
        write_atomically(&dir.join(MANIFEST), &json)?;
        if let Some(old) = previous.filter(|old| *old != name) {
            let _ = fs::remove_dir_all(dir.join(old));
        }
        Ok(self.generation)
    }
}

impl Drop for Staging<'_> {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

fn generation_name(generation: u64) -> String {
    format!("gen-{generation:06}")
}

/// Recreates the tree `from` at `to` with hard links (a copy where links are not possible).
fn link_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).map_err(|e| Error::write(to, e))?;
    for entry in fs::read_dir(from).map_err(|e| Error::io(from, e))? {
        let entry = entry.map_err(|e| Error::io(from, e))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().map_err(|e| Error::io(&source, e))?;
        if kind.is_dir() {
            link_tree(&source, &target)?;
        } else if kind.is_file() && fs::hard_link(&source, &target).is_err() {
            fs::copy(&source, &target).map_err(|e| Error::write(&target, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_while_the_first_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let _first = WriteLock::acquire(dir.path()).unwrap();
        let second = WriteLock::acquire(dir.path()).err().expect("locked");
        assert!(matches!(second, Error::IndexLocked { .. }), "{second}");
    }

    #[test]
    fn an_uncommitted_generation_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let lock = WriteLock::acquire(dir.path()).unwrap();
        {
            let staging = Staging::begin(&lock, None).unwrap();
            staging.text_dir().unwrap();
            assert_eq!(staging.generation(), 1);
        }
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from(LOCK)]);
    }
}
