//! The index directory: the manifest, its generations, the writer lock, and the atomic commit of
//! a new generation. Only this module and `update` know the directory's layout.
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

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Component, Path, PathBuf};

use fs2::FileExt;
use serde::{Deserialize, Serialize};

pub(crate) use crate::atomic::failpoint;
use crate::atomic::{TEMP_SUFFIX, write_json_atomically};
use crate::embed::{Embedder, ModelKind, Recipe};
use crate::error::{Error, Result, recovery_command};
use crate::fulltext::TextIndex;
use crate::paper::{Paper, PaperNumber};
use crate::script_views::{ScriptViews, VIEWS_FILE};
use crate::topics::TopicModel;
use crate::vectors::VectorIndex;

/// 4: the manifest records every file of the generation (size and CRC-32).
pub const FORMAT_VERSION: u32 = 4;
/// Format 3 differs only in recording no files: it is read as it is (without per-file checks)
/// until its next write. Format 2 also kept topics.json beside the manifest: its text and
/// vectors are read as they are; its topics are refitted by the next write.
const READABLE_FORMATS: [u32; 3] = [2, 3, FORMAT_VERSION];
const MANIFEST: &str = "manifest.json";
const LOCK: &str = "write.lock";
const TEXT_DIR: &str = "text";
const VECTORS_DIR: &str = "vectors";
const TOPICS_FILE: &str = "topics.json";
/// The broader topics merged from the fitted ones, computed by the write that made the
/// generation (merging them takes seconds; a reader only loads them).
const COARSE_TOPICS_FILE: &str = "topics_coarse.json";
/// Tantivy's list of segments, replaced (by a rename) at every Tantivy commit.
const TANTIVY_META: &str = "meta.json";
/// Tantivy's list of the files it manages, replaced like its `meta.json`.
const TANTIVY_MANAGED: &str = ".managed.json";
/// The embedding cache's directory in an index (outside the generations: a text's vector does
/// not depend on which generation it was made for).
const CACHE_DIR: &str = "cache";
/// The directory beside a directory of digests that may ship their embedding cache.
pub(crate) const SEED_DIR: &str = "embeddings";
/// Per paper, the generation that last added or changed it (for incremental exports).
const CHANGES_FILE: &str = "changes.json";
/// Files below this size have their CRC-32 checked every time the index is opened.
const SMALL_FILE: u64 = 1 << 20;
/// How often [`Store::open`] re-reads the manifest when the generation it named went away
/// while it was being opened (a writer committed twice meanwhile).
const OPEN_ATTEMPTS: usize = 5;

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
fn static_kind() -> ModelKind {
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

    fn describe(&self) -> String {
        format!(
            "{}: {} ({} dims, {:?})",
            self.kind, self.id, self.dims, self.recipe
        )
    }
}

/// How much of a file [`verify_files`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Depth {
    /// Sizes of all, CRC-32 of files under [`SMALL_FILE`].
    Open,
    /// Sizes and CRC-32 of all.
    Full,
}

/// Where the index in `dir` keeps `embedder`'s embedding cache.
pub(crate) fn embedding_cache_path(dir: &Path, embedder: &Embedder) -> PathBuf {
    dir.join(CACHE_DIR)
        .join(crate::embed_cache::cache_file_name(embedder))
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

    fn generation_path(&self) -> PathBuf {
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

    /// The index's embedding cache of `embedder`, to read (empty when there is none).
    pub fn embedding_cache(
        &self,
        embedder: &Embedder,
    ) -> Result<crate::embed_cache::EmbeddingCache> {
        crate::embed_cache::EmbeddingCache::open(
            &embedding_cache_path(&self.dir, embedder),
            embedder.checksum(),
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

    fn load_vectors(&self, depth: Depth) -> Result<VectorIndex> {
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
        let all_present =
            (0..papers).all(|i| index.vector_of(PaperNumber::from_index(i)).is_some());
        if index.len() != papers || !all_present {
            return Err(self.damaged(
                &meta,
                format!(
                    "holds vectors of {} papers, not of the {papers} papers 0..{papers}",
                    index.len()
                ),
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

/// Checks the recorded files under `under` (all when empty) of the manifest's generation.
fn verify_files(dir: &Path, manifest: &Manifest, under: &str, depth: Depth) -> Result<()> {
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
fn crc_of_file(path: &Path) -> std::io::Result<u32> {
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

fn verify_bytes(dir: &Path, path: &Path, record: &FileRecord, bytes: &[u8]) -> Result<()> {
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

fn read_manifest(dir: &Path) -> Result<Manifest> {
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
fn is_plain_relative(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
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
            return Err(Error::IndexLocked {
                path: dir.to_path_buf(),
                pid: lock_holder(&mut file),
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

/// Who holds the lock on `file`: on Linux the process the kernel lists for the file's inode in
/// `/proc/locks`; otherwise (or when it is not listed there) the pid the holder wrote into the
/// file, said to be that.
fn lock_holder(file: &mut File) -> String {
    if let Some(pid) = holder_from_proc_locks(file) {
        return pid;
    }
    let mut recorded = String::new();
    let _ = file.read_to_string(&mut recorded);
    let recorded = recorded.trim();
    if recorded.is_empty() || !recorded.chars().all(|c| c.is_ascii_digit()) {
        "unknown".into()
    } else {
        format!("{recorded} (as recorded in {LOCK})")
    }
}

#[cfg(target_os = "linux")]
fn holder_from_proc_locks(file: &File) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata().ok()?;
    let (inode, dev) = (meta.ino(), meta.dev());
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let locks = fs::read_to_string("/proc/locks").ok()?;
    holder_in(&locks, major as u64, minor as u64, inode)
}

#[cfg(not(target_os = "linux"))]
fn holder_from_proc_locks(_: &File) -> Option<String> {
    None
}

/// The pid holding a lock on `major:minor:inode` in the text of `/proc/locks`
/// (`1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF`; device numbers in hex).
fn holder_in(locks: &str, major: u64, minor: u64, inode: u64) -> Option<String> {
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().filter(|f| *f != "->").collect();
        let (pid, id) = (fields.get(4)?, fields.get(5)?);
        let mut parts = id.split(':');
        let maj = u64::from_str_radix(parts.next()?, 16).ok()?;
        let min = u64::from_str_radix(parts.next()?, 16).ok()?;
        let ino: u64 = parts.next()?.parse().ok()?;
        let pid: u64 = pid.parse().ok()?;
        (maj == major && min == minor && ino == inode && pid > 0).then(|| pid.to_string())
    })
}

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
}

impl<'lock> Staging<'lock> {
    /// Starts the next generation in a fresh staging directory: numbered one above both the
    /// manifest's generation and the highest `gen-*` directory, so numbers keep increasing
    /// even when the manifest cannot be read.
    pub fn begin(lock: &'lock WriteLock) -> Result<Self> {
        let generation = next_generation(&lock.dir)?;
        let path = lock
            .dir
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

    /// Writes the generation's topic model.
    pub fn write_topics(&self, model: &TopicModel) -> Result<()> {
        write_json_atomically(&self.path.join(TOPICS_FILE), model)
    }

    /// Writes the generation's coarse topics (merged from its topic model).
    pub fn write_coarse_topics(&self, model: &TopicModel) -> Result<()> {
        write_json_atomically(&self.path.join(COARSE_TOPICS_FILE), model)
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
        let dir = self.lock.dir.clone();
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

/// One thing `check` found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The damaged file (or directory).
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

/// What [`check`] found. In JSON: `index`, `healthy`, `format_version`, `generation`, `papers`,
/// `files_checked`, `problems` (`path`, `reason`), `notes`, and `recover` (the command that
/// recovers, when something is wrong).
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The index directory.
    pub index: PathBuf,
    /// Whether nothing is wrong.
    pub healthy: bool,
    /// The manifest's format, when it could be read.
    pub format_version: Option<u32>,
    /// The live generation, when the manifest could be read.
    pub generation: Option<u64>,
    /// Papers the manifest records, when it could be read.
    pub papers: Option<usize>,
    /// Files whose size and CRC-32 were compared with the manifest.
    pub files_checked: usize,
    /// Everything found wrong, one per file and reason.
    pub problems: Vec<Problem>,
    /// What could not be checked, and why.
    pub notes: Vec<String>,
    /// The one command that recovers, when something is wrong.
    pub recover: Option<String>,
}

/// Verifies the whole index in `dir`: the manifest, every recorded file's size and CRC-32,
/// Tantivy's own checksums, every stored paper, the vectors and the topics, and that they all
/// agree on the papers. Never fails: what cannot be read is a problem of the report.
pub fn check(dir: &Path) -> CheckReport {
    let mut report = CheckReport {
        index: dir.to_path_buf(),
        healthy: false,
        format_version: None,
        generation: None,
        papers: None,
        files_checked: 0,
        problems: Vec::new(),
        notes: Vec::new(),
        recover: None,
    };
    check_into(dir, &mut report);
    report.problems.dedup();
    report.healthy = report.problems.is_empty();
    if !report.healthy {
        report.recover = Some(recovery_command(dir));
    }
    report
}

fn check_into(dir: &Path, report: &mut CheckReport) {
    let problem = |report: &mut CheckReport, error: Error| {
        let (path, reason) = match error {
            Error::IndexDamaged { path, reason, .. } | Error::IndexCorrupt { path, reason } => {
                (path, reason)
            }
            Error::Io { path, source, .. } => (path, source.to_string()),
            other => (dir.to_path_buf(), other.to_string()),
        };
        report.problems.push(Problem { path, reason });
    };
    if !Store::exists(dir) {
        problem(
            report,
            Error::damaged(dir, dir.join(MANIFEST), "missing: this is not an index"),
        );
        return;
    }
    let manifest = match read_manifest(dir) {
        Ok(m) => m,
        Err(e) => return problem(report, e),
    };
    report.format_version = Some(manifest.format_version);
    report.generation = Some(manifest.generation);
    report.papers = Some(manifest.paper_count);
    let generation = dir.join(&manifest.generation_dir);
    if manifest.files.is_empty() {
        report.notes.push(format!(
            "format {} records no checksums: files are checked from the next write on",
            manifest.format_version
        ));
    }
    for record in &manifest.files {
        let single = Manifest {
            files: vec![record.clone()],
            ..manifest.clone()
        };
        report.files_checked += 1;
        if let Err(e) = verify_files(dir, &single, "", Depth::Full) {
            problem(report, e);
        }
    }
    let text_dir = generation.join(TEXT_DIR);
    match crate::fulltext::damaged_files(&text_dir) {
        Ok(damaged) => {
            for path in damaged {
                problem(
                    report,
                    Error::damaged(dir, path, "Tantivy's checksum does not match"),
                );
            }
        }
        Err(e) => problem(report, e),
    }
    let store = match Store::open(dir) {
        Ok(store) => store,
        Err(e) => return problem(report, e),
    };
    let papers = match store.papers() {
        Ok(papers) => Some(papers),
        Err(e) => {
            problem(report, e);
            None
        }
    };
    if let Err(e) = store.load_vectors(Depth::Full) {
        problem(report, e);
    }
    match store.topics() {
        Ok(Some(model)) => {
            if let Some(papers) = &papers {
                let path = generation.join(TOPICS_FILE);
                let ids: HashSet<&str> = papers.iter().map(|p| p.arxiv_id.as_str()).collect();
                let stray = model
                    .assignments
                    .iter()
                    .map(|a| a.arxiv_id.as_str())
                    .chain(
                        model
                            .topics
                            .iter()
                            .flat_map(|t| t.representative.iter().map(String::as_str)),
                    )
                    .find(|id| !ids.contains(id));
                if let Some(id) = stray {
                    problem(
                        report,
                        Error::damaged(
                            dir,
                            path,
                            format!("names paper {id}, which is not in the index"),
                        ),
                    );
                }
            }
        }
        Ok(None) => report.notes.push("the index has no topic model".into()),
        Err(e) => problem(report, e),
    }
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
    fn the_lock_holder_is_found_by_device_and_inode() {
        let locks = "1: POSIX  ADVISORY  WRITE 77 fd:01:999 0 EOF\n\
                     2: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF\n\
                     3: FLOCK  ADVISORY  WRITE 5151 08:02:1234 0 EOF\n";
        assert_eq!(holder_in(locks, 8, 1, 1234).as_deref(), Some("4242"));
        assert_eq!(holder_in(locks, 8, 2, 1234).as_deref(), Some("5151"));
        assert_eq!(holder_in(locks, 8, 1, 1), None);
    }

    #[test]
    fn a_held_lock_names_this_process_not_what_the_file_says() {
        let dir = tempfile::tempdir().unwrap();
        let _first = WriteLock::acquire(dir.path()).unwrap();
        fs::write(dir.path().join(LOCK), "1").unwrap();
        let Err(Error::IndexLocked { pid, .. }) = WriteLock::acquire(dir.path()) else {
            panic!("locked");
        };
        if Path::new("/proc/locks").is_file() {
            assert_eq!(pid, std::process::id().to_string());
        } else {
            assert!(pid.contains("as recorded"), "{pid}");
        }
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

    #[test]
    fn manifest_paths_outside_the_generation_are_refused() {
        assert!(is_plain_relative("text/meta.json"));
        for bad in ["", "../x", "/etc/passwd", "text/../../x"] {
            assert!(!is_plain_relative(bad), "{bad}");
        }
    }

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
