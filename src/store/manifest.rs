//! `manifest.json`: what the live generation holds (format, generation, papers, model, every
//! file with its size and CRC-32), the generation's layout, and the checks of files against it.

use std::fs::{self, File};
use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

use crate::embed::{Embedder, ModelKind, Recipe};
use crate::error::{Error, Result};

/// 4: the manifest records every file of the generation (size and CRC-32).
pub const FORMAT_VERSION: u32 = 4;
/// Format 3 differs only in recording no files: it is read as it is (without per-file checks)
/// until its next write. Format 2 also kept topics.json beside the manifest: its text and
/// vectors are read as they are; its topics are refitted by the next write.
pub(super) const READABLE_FORMATS: [u32; 3] = [2, 3, FORMAT_VERSION];
pub(super) const MANIFEST: &str = "manifest.json";
pub(super) const TEXT_DIR: &str = "text";
pub(super) const VECTORS_DIR: &str = "vectors";
pub(super) const TOPICS_FILE: &str = "topics.json";
/// The broader topics merged from the fitted ones, computed by the write that made the
/// generation (merging them takes seconds; a reader only loads them).
pub(super) const COARSE_TOPICS_FILE: &str = "topics_coarse.json";
/// Per paper, the generation that last added or changed it (for incremental exports).
pub(super) const CHANGES_FILE: &str = "changes.json";
/// Each paper's TF-IDF word vector for `related`, computed by the write (seconds for
/// thousands of papers; a reader only loads them).
pub(super) const WORD_VECTORS_FILE: &str = "word_vectors.bin";
/// Files below this size have their CRC-32 checked every time the index is opened.
pub(super) const SMALL_FILE: u64 = 1 << 20;

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
    /// Every file of the generation as committed (empty before format 4).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileRecord>,
    /// Papers with a vector while the write that made the generation is still embedding the
    /// rest (words are searchable first); absent once every paper has its vector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector_coverage: Option<usize>,
}

impl Manifest {
    /// Papers with a vector: all of them unless the generation was committed before its
    /// embedding was done.
    pub fn papers_with_vectors(&self) -> usize {
        self.vector_coverage
            .map_or(self.paper_count, |n| n.min(self.paper_count))
    }

    /// Whether every paper has its vector.
    pub fn vectors_complete(&self) -> bool {
        self.papers_with_vectors() == self.paper_count
    }
}

/// One file of a generation as it was committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Path relative to the generation directory, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// CRC-32 (IEEE) of the content.
    pub crc32: u32,
}

/// The kind of a manifest that names none: written before e5 existed, by the static model.
pub(super) fn static_kind() -> ModelKind {
    ModelKind::Static
}

/// The embedding model the vectors were made with; another model's vectors are not comparable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Which kind of model (indexes made before kinds existed used the static model).
    #[serde(default = "static_kind")]
    pub kind: ModelKind,
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
            kind: embedder.kind(),
            id: embedder.model_id().to_string(),
            dims: embedder.dims(),
            checksum: embedder.checksum().to_string(),
            recipe,
        }
    }

    pub(super) fn describe(&self) -> String {
        format!(
            "{}: {} ({} dims, {:?})",
            self.kind, self.id, self.dims, self.recipe
        )
    }
}

/// How much of a file [`verify_files`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Depth {
    /// Sizes of all, CRC-32 of files under [`SMALL_FILE`].
    Open,
    /// Sizes and CRC-32 of all.
    Full,
}

/// Checks the recorded files under `under` (all when empty) of the manifest's generation.
pub(super) fn verify_files(
    dir: &Path,
    manifest: &Manifest,
    under: &str,
    depth: Depth,
) -> Result<()> {
    let generation = dir.join(&manifest.generation_dir);
    let prefix = format!("{under}/");
    for record in &manifest.files {
        if !under.is_empty() && !record.path.starts_with(&prefix) {
            continue;
        }
        let path = generation.join(&record.path);
        let size = match fs::metadata(&path) {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::damaged(dir, &path, "missing"));
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        if size != record.size {
            return Err(Error::damaged(
                dir,
                &path,
                format!("is {size} bytes, the manifest records {}", record.size),
            ));
        }
        if depth == Depth::Full || record.size < SMALL_FILE {
            let crc = crc_of_file(&path).map_err(|e| Error::io(&path, e))?;
            if crc != record.crc32 {
                return Err(Error::damaged(
                    dir,
                    &path,
                    "checksum mismatch (changed or damaged since it was written)",
                ));
            }
        }
    }
    Ok(())
}

/// The CRC-32 of a file, read in chunks (a text index file can be large).
pub(super) fn crc_of_file(path: &Path) -> std::io::Result<u32> {
    use std::io::Read;
    let mut file = File::open(path)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(hasher.finalize());
        }
        hasher.update(&buffer[..read]);
    }
}

pub(super) fn verify_bytes(
    dir: &Path,
    path: &Path,
    record: &FileRecord,
    bytes: &[u8],
) -> Result<()> {
    if bytes.len() as u64 != record.size {
        return Err(Error::damaged(
            dir,
            path,
            format!(
                "is {} bytes, the manifest records {}",
                bytes.len(),
                record.size
            ),
        ));
    }
    if crc32fast::hash(bytes) != record.crc32 {
        return Err(Error::damaged(
            dir,
            path,
            "checksum mismatch (changed or damaged since it was written)",
        ));
    }
    Ok(())
}

pub(super) fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    let text = fs::read_to_string(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => Error::damaged(dir, &path, "not UTF-8 text"),
        _ => Error::io(&path, e),
    })?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| Error::damaged(dir, &path, format!("not a valid manifest ({e})")))?;
    if !READABLE_FORMATS.contains(&manifest.format_version) {
        return Err(Error::damaged(
            dir,
            &path,
            format!(
                "format version {} is not one this paperscope reads ({READABLE_FORMATS:?})",
                manifest.format_version
            ),
        ));
    }
    if !is_plain_relative(&manifest.generation_dir) || manifest.generation_dir.contains('/') {
        return Err(Error::damaged(
            dir,
            &path,
            format!(
                "generation directory `{}` is not a plain name",
                manifest.generation_dir
            ),
        ));
    }
    if let Some(bad) = manifest.files.iter().find(|r| !is_plain_relative(&r.path)) {
        return Err(Error::damaged(
            dir,
            &path,
            format!("file `{}` is not a path inside the generation", bad.path),
        ));
    }
    Ok(manifest)
}

/// A non-empty relative path of plain names only (no `..`, no root).
pub(super) fn is_plain_relative(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_paths_outside_the_generation_are_refused() {
        assert!(is_plain_relative("text/meta.json"));
        for bad in ["", "../x", "/etc/passwd", "text/../../x"] {
            assert!(!is_plain_relative(bad), "{bad}");
        }
    }
}
