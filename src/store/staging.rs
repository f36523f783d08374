//! A new generation, written beside the live one under the writer lock and committed by renaming
//! it into place and swapping the manifest.

use std::fs;
use std::path::{Path, PathBuf};

use super::Store;
use super::lock::WriteLock;
use super::manifest::{
    CHANGES_FILE, COARSE_TOPICS_FILE, FORMAT_VERSION, FileRecord, MANIFEST, Manifest, ModelInfo,
    TEXT_DIR, TOPICS_FILE, VECTORS_DIR, WORD_VECTORS_FILE, read_manifest,
};
use crate::atomic::{TEMP_SUFFIX, failpoint, write_atomically, write_json_atomically};
use crate::error::{Error, Result};
use crate::topics::{TopicModel, WordVectors};

/// Tantivy's list of segments, replaced (by a rename) at every Tantivy commit.
const TANTIVY_META: &str = "meta.json";
/// Tantivy's list of the files it manages, replaced like its `meta.json`.
const TANTIVY_MANAGED: &str = ".managed.json";

/// A generation being written under the writer lock. Nothing a reader sees changes until
/// [`Staging::commit`]; dropped without a commit, it removes what it wrote.
pub struct Staging<'lock> {
    lock: &'lock WriteLock,
    generation: u64,
    path: PathBuf,
    committed: bool,
    /// The files taken as they are from the live generation: they must still match what its
    /// manifest recorded when this generation is committed.
    reused: Vec<FileRecord>,
    /// Files taken from the live generation that a writer may have dropped since (Tantivy's
    /// segments, merged away or no longer referenced): those still there must match.
    reused_if_kept: Vec<FileRecord>,
    /// Papers with a vector when the generation is committed before its embedding is done.
    vector_coverage: Option<usize>,
}

impl<'lock> Staging<'lock> {
    /// Starts the next generation in a fresh staging directory: numbered one above both the
    /// manifest's generation and the highest `gen-*` directory, so numbers keep increasing
    /// even when the manifest cannot be read.
    pub fn begin(lock: &'lock WriteLock) -> Result<Self> {
        let generation = next_generation(lock.dir())?;
        let path = lock
            .dir()
            .join(format!("{}{TEMP_SUFFIX}", generation_name(generation)));
        if path.exists() {
            fs::remove_dir_all(&path).map_err(|e| Error::write(&path, e))?;
        }
        fs::create_dir_all(&path).map_err(|e| Error::write(&path, e))?;
        let staging = Staging {
            lock,
            generation,
            path,
            committed: false,
            reused: Vec::new(),
            reused_if_kept: Vec::new(),
            vector_coverage: None,
        };
        failpoint("staging", &staging.path)?;
        Ok(staging)
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
    pub fn reuse_text(&mut self, previous: &Store) -> Result<()> {
        self.reuse(previous, TEXT_DIR)
    }

    /// Takes the live generation's full-text index to write into (hard links: Tantivy writes
    /// new segments and deletion files beside the old ones and replaces its `meta.json` by a
    /// rename, never changing a file it wrote), and returns its directory. The old segments
    /// that are still there at the commit must be as the live manifest recorded them.
    pub fn extend_text(&mut self, previous: &Store) -> Result<PathBuf> {
        let prefix = format!("{TEXT_DIR}/");
        let rewritten = [TANTIVY_META, TANTIVY_MANAGED].map(|name| format!("{prefix}{name}"));
        self.reused_if_kept.extend(
            previous
                .manifest
                .files
                .iter()
                .filter(|r| r.path.starts_with(&prefix) && !rewritten.contains(&r.path))
                .cloned(),
        );
        let dir = self.path.join(TEXT_DIR);
        link_tree(&previous.generation_path().join(TEXT_DIR), &dir)?;
        Ok(dir)
    }

    /// Takes the live generation's vector index as it is.
    pub fn reuse_vectors(&mut self, previous: &Store) -> Result<()> {
        self.reuse(previous, VECTORS_DIR)
    }

    /// Takes the live generation's word vectors as they are (the papers did not change).
    pub fn reuse_word_vectors(&mut self, previous: &Store) -> Result<()> {
        let Some(record) = previous
            .manifest
            .files
            .iter()
            .find(|r| r.path == WORD_VECTORS_FILE)
        else {
            return Ok(());
        };
        let source = previous.generation_path().join(WORD_VECTORS_FILE);
        let target = self.path.join(WORD_VECTORS_FILE);
        if fs::hard_link(&source, &target).is_err() {
            fs::copy(&source, &target).map_err(|e| Error::write(&target, e))?;
        }
        self.reused.push(record.clone());
        Ok(())
    }

    fn reuse(&mut self, previous: &Store, part: &str) -> Result<()> {
        let prefix = format!("{part}/");
        self.reused.extend(
            previous
                .manifest
                .files
                .iter()
                .filter(|r| r.path.starts_with(&prefix))
                .cloned(),
        );
        link_tree(
            &previous.generation_path().join(part),
            &self.path.join(part),
        )
    }

    /// Records that only `papers` papers have a vector in this generation (the embedding of
    /// the others goes on in later generations).
    pub fn set_vector_coverage(&mut self, papers: usize) {
        self.vector_coverage = Some(papers);
    }

    /// Writes the generation's topic model.
    pub fn write_topics(&self, model: &TopicModel) -> Result<()> {
        write_json_atomically(&self.path.join(TOPICS_FILE), model)
    }

    /// Writes the generation's coarse topics (merged from its topic model).
    pub fn write_coarse_topics(&self, model: &TopicModel) -> Result<()> {
        write_json_atomically(&self.path.join(COARSE_TOPICS_FILE), model)
    }

    /// Writes the papers' word vectors for `related`.
    pub fn write_word_vectors(&self, vectors: &WordVectors) -> Result<()> {
        write_atomically(&self.path.join(WORD_VECTORS_FILE), &vectors.to_bytes())
    }

    /// Writes, per paper number, the generation that last added or changed the paper.
    pub fn write_changes(&self, changed_in: &[u64]) -> Result<()> {
        write_json_atomically(&self.path.join(CHANGES_FILE), &changed_in)
    }

    /// Makes the generation live: makes its files world-readable, records every file's size
    /// and CRC-32, renames it into place and swaps the manifest. Then removes what no reader
    /// can need any more: generations older than the previous one, and temporary files and
    /// directories a killed writer left.
    pub fn commit(mut self, paper_count: usize, model: ModelInfo) -> Result<u64> {
        let dir = self.lock.dir().to_path_buf();
        let previous = read_manifest(&dir).ok().map(|m| m.generation_dir);
        make_readable(&self.path)?;
        let mut files = Vec::new();
        record_files(&self.path, "", &mut files)?;
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let kept = self
            .reused_if_kept
            .iter()
            .filter(|r| files.iter().any(|f| f.path == r.path));
        for reused in self.reused.iter().chain(kept) {
            if !files.contains(reused) {
                let live = previous.as_deref().unwrap_or_default();
                return Err(Error::damaged(
                    &dir,
                    dir.join(live).join(&reused.path),
                    "checksum mismatch (changed or damaged since it was written)",
                ));
            }
        }
        let name = generation_name(self.generation);
        let final_dir = dir.join(&name);
        if final_dir.exists() {
            fs::remove_dir_all(&final_dir).map_err(|e| Error::write(&final_dir, e))?;
        }
        fs::rename(&self.path, &final_dir).map_err(|e| Error::write(&final_dir, e))?;
        self.committed = true;
        // A crash here leaves a complete generation that no manifest names yet.
        failpoint("rename", &final_dir)?;
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            generation: self.generation,
            paper_count,
            generation_dir: name.clone(),
            model,
            files,
            vector_coverage: self.vector_coverage.filter(|&n| n < paper_count),
        };
        write_json_atomically(&dir.join(MANIFEST), &manifest)?;
        remove_stale(&dir, &name, previous.as_deref());
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

/// The number of a committed generation directory's name (`gen-000012` -> 12).
fn generation_number(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("gen-")?;
    (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// One above the manifest's generation and every `gen-*` directory (1 for a new index).
fn next_generation(dir: &Path) -> Result<u64> {
    let mut highest = read_manifest(dir).map_or(0, |m| m.generation);
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let name = name.strip_suffix(TEMP_SUFFIX).unwrap_or(&name);
        if let Some(n) = generation_number(name) {
            highest = highest.max(n);
        }
    }
    Ok(highest.saturating_add(1))
}

/// Removes what killed writers left behind when a write finds nothing to change: the live
/// generation and the one before it (a reader may still hold it) stay, as after a commit.
/// A writer killed between its manifest swap and its own clean-up leaves three generations,
/// and without this they would stay until the next change.
pub fn tidy(lock: &WriteLock) {
    let dir = lock.dir();
    let Ok(manifest) = read_manifest(dir) else {
        return;
    };
    let previous = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| generation_number(&entry.file_name().to_string_lossy()))
        .filter(|&n| n < manifest.generation)
        .max()
        .map(generation_name);
    remove_stale(dir, &manifest.generation_dir, previous.as_deref());
}

/// Removes, under the writer lock, what no reader can be using: committed generations other
/// than `live` and `previous`, staging directories (`gen-*.tmp`) and temporary manifests
/// (`.manifest.json.<pid>.tmp`) of killed writers. Failures cost only disk space.
fn remove_stale(dir: &Path, live: &str, previous: Option<&str>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let temp_manifest = format!(".{MANIFEST}.");
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name == live || Some(name.as_str()) == previous {
            continue;
        }
        if let Some(stem) = name.strip_suffix(TEMP_SUFFIX) {
            if generation_number(stem).is_some() {
                let _ = fs::remove_dir_all(&path);
            } else if name.starts_with(&temp_manifest) {
                let _ = fs::remove_file(&path);
            }
        } else if generation_number(&name).is_some() {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// Makes a generation readable by every user (0644 files, 0755 directories): a read-only
/// index shared between users must open for all of them.
fn make_readable(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
            .map_err(|e| Error::write(dir, e))?;
        for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
            if kind.is_dir() {
                make_readable(&path)?;
            } else if kind.is_file() {
                fs::set_permissions(&path, fs::Permissions::from_mode(0o644))
                    .map_err(|e| Error::write(&path, e))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Size and CRC-32 of every file under `dir`, with paths relative to the generation.
fn record_files(dir: &Path, relative: &str, out: &mut Vec<FileRecord>) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = if relative.is_empty() {
            name
        } else {
            format!("{relative}/{name}")
        };
        let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if kind.is_dir() {
            record_files(&path, &relative, out)?;
        } else if kind.is_file() {
            let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
            out.push(FileRecord {
                path: relative,
                size: bytes.len() as u64,
                crc32: crc32fast::hash(&bytes),
            });
        }
    }
    Ok(())
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
    use crate::store::lock::LOCK;

    #[test]
    fn an_uncommitted_generation_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let lock = WriteLock::acquire(dir.path()).unwrap();
        {
            let staging = Staging::begin(&lock).unwrap();
            staging.text_dir().unwrap();
            assert_eq!(staging.generation(), 1);
        }
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from(LOCK)]);
    }

    #[test]
    fn generations_are_numbered_past_every_directory_even_without_a_manifest() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(next_generation(dir.path()).unwrap(), 1);
        fs::create_dir(dir.path().join("gen-000004")).unwrap();
        fs::create_dir(dir.path().join("gen-000009.tmp")).unwrap();
        fs::write(dir.path().join(MANIFEST), "{ damaged").unwrap();
        assert_eq!(next_generation(dir.path()).unwrap(), 10);
        assert_eq!(generation_number("gen-x"), None);
        assert_eq!(generation_number("gen-000012"), Some(12));
    }
}
