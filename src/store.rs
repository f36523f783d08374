//! The index directory as a whole: manifest, generations, the writer lock, atomic commit.
//!
//! A write builds a complete new generation directory beside the live one and then swaps
//! `manifest.json` (temp file, fsync, rename). Readers follow the manifest, so a crash or a bad
//! input part-way leaves the previous generation answering exactly as before.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use fs2::FileExt;
use serde::{Deserialize, Serialize};

use crate::digest::merge_duplicates;
use crate::embed::{Embedder, Recipe};
use crate::error::{Error, Result};
use crate::fulltext::{self, TextIndex};
use crate::paper::Paper;
use crate::vectors::{VectorIndex, VectorParams};

/// 2: every generation also holds `vectors/` and the manifest names the embedding model.
pub const FORMAT_VERSION: u32 = 2;
/// How paper vectors are made: measured best on tests/queries.tsv (BENCHMARKS.md).
pub const DEFAULT_RECIPE: Recipe = Recipe::OneTextPlusTitles;
const MANIFEST: &str = "manifest.json";
const LOCK: &str = "write.lock";
const TOPICS: &str = "topics.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub generation: u64,
    pub paper_count: usize,
    /// Directory of the live generation, relative to the index directory.
    pub generation_dir: String,
    pub model: ModelInfo,
}

/// The embedding model the vectors were made with; another model's vectors are not comparable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub id: String,
    pub dims: usize,
    /// Fingerprint of the model's weights file.
    pub checksum: String,
    pub recipe: Recipe,
}

impl ModelInfo {
    pub fn of(embedder: &Embedder, recipe: Recipe) -> Self {
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

/// Reports long work: indexing, embedding, building the graph.
pub trait Progress: Sync {
    fn start(&self, stage: &'static str, total: usize);
    fn inc(&self);
    fn finish(&self);
}

/// For callers that show nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: &'static str, _: usize) {}
    fn inc(&self) {}
    fn finish(&self) {}
}

/// An opened index: the manifest and the live generation's parts.
pub struct Store {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub text: TextIndex,
}

impl Store {
    pub fn exists(dir: &Path) -> bool {
        dir.join(MANIFEST).is_file()
    }

    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.is_dir() || !Self::exists(dir) {
            return Err(Error::IndexMissing {
                path: dir.to_path_buf(),
            });
        }
        let manifest = read_manifest(dir)?;
        let generation = dir.join(&manifest.generation_dir);
        let text = TextIndex::open(&generation.join("text"))?;
        Ok(Store {
            dir: dir.to_path_buf(),
            manifest,
            text,
        })
    }

    pub fn papers(&self) -> Result<Vec<Paper>> {
        self.text.all_papers()
    }

    /// The saved topic model, if topics were fitted for this index.
    pub fn load_topics(&self) -> Result<Option<crate::topics::TopicModel>> {
        let path = self.dir.join(TOPICS);
        if !path.is_file() {
            return Ok(None);
        }
        let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::IndexCorrupt {
                path,
                reason: format!("topic model is not valid ({e}); run `paperscope topics --refit`"),
            })
    }

    pub fn save_topics(&self, model: &crate::topics::TopicModel) -> Result<()> {
        write_atomically(&self.dir.join(TOPICS), model)
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
        VectorIndex::load(&self.dir.join(&self.manifest.generation_dir).join("vectors"))
    }
}

fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| Error::IndexCorrupt {
        path: path.clone(),
        reason: format!("manifest is not valid ({e})"),
    })?;
    if manifest.format_version != FORMAT_VERSION {
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

/// Held while writing; released when dropped (or when the process dies: it is an OS file lock).
pub struct WriteLock {
    _file: File,
}

impl WriteLock {
    pub fn acquire(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(LOCK);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
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
        write_pid(&mut file).map_err(|e| Error::io(&path, e))?;
        Ok(WriteLock { _file: file })
    }
}

/// What an update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// Nothing new: the index was left as it was.
    Unchanged { papers: usize },
    Written {
        generation: u64,
        papers: usize,
        added: usize,
        updated: usize,
        embedded: usize,
    },
}

#[derive(Debug, Clone, Copy, Default)]
pub struct UpdateOptions {
    /// Re-embed every paper (after a model change) instead of reusing the previous vectors.
    pub rebuild: bool,
    pub vector_params: VectorParams,
}

/// Adds or updates `incoming` papers in both indexes: existing papers keep their numbers (and
/// their vectors, unless changed), new ones are appended.
pub fn update(
    dir: &Path,
    incoming: Vec<Paper>,
    embedder: &Embedder,
    options: UpdateOptions,
    progress: &dyn Progress,
) -> Result<Update> {
    let _lock = WriteLock::acquire(dir)?;
    let previous = if Store::exists(dir) {
        Some(Store::open(dir)?)
    } else {
        None
    };
    let existing = match &previous {
        Some(store) => store.papers()?,
        None => Vec::new(),
    };
    let merged = merge_duplicates(existing.clone(), incoming);
    let added = merged.len() - existing.len();
    let updated = existing.iter().zip(&merged).filter(|(a, b)| a != b).count();
    if previous.is_some() && added == 0 && updated == 0 && !options.rebuild {
        return Ok(Update::Unchanged {
            papers: merged.len(),
        });
    }
    let model = ModelInfo::of(embedder, DEFAULT_RECIPE);
    let (vectors, embedded) = match previous.as_ref().filter(|_| !options.rebuild) {
        Some(store) => {
            let mut index = store.vectors(embedder)?;
            let changed: Vec<u32> = (0..merged.len())
                .filter(|&i| existing.get(i) != Some(&merged[i]))
                .map(|i| i as u32)
                .collect();
            let fresh = embed_papers(embedder, &merged, &changed, progress);
            let count = fresh.len();
            progress.start("graph", count);
            index.upsert(changed.into_iter().zip(fresh).collect(), || progress.inc());
            progress.finish();
            (index, count)
        }
        None => {
            let all: Vec<u32> = (0..merged.len() as u32).collect();
            let fresh = embed_papers(embedder, &merged, &all, progress);
            progress.start("graph", merged.len());
            let index = VectorIndex::build(embedder.dims(), fresh, options.vector_params, || {
                progress.inc()
            });
            progress.finish();
            (index, merged.len())
        }
    };
    let generation = previous.as_ref().map_or(1, |s| s.manifest.generation + 1);
    let old_dir = previous.map(|s| s.manifest.generation_dir);
    write_generation(dir, generation, &merged, &vectors, model, progress)?;
    if let Some(old) = old_dir {
        // The old generation is no longer referenced; a failure to delete it costs only disk.
        let _ = fs::remove_dir_all(dir.join(old));
    }
    Ok(Update::Written {
        generation,
        papers: merged.len(),
        added,
        updated,
        embedded,
    })
}

fn embed_papers(
    embedder: &Embedder,
    papers: &[Paper],
    numbers: &[u32],
    progress: &dyn Progress,
) -> Vec<Vec<f32>> {
    use rayon::prelude::*;
    progress.start("embedding", numbers.len());
    let vectors = numbers
        .par_iter()
        .map(|&n| {
            let v = embedder.paper_vector(&papers[n as usize], DEFAULT_RECIPE);
            progress.inc();
            v
        })
        .collect();
    progress.finish();
    vectors
}

fn write_generation(
    dir: &Path,
    generation: u64,
    papers: &[Paper],
    vectors: &VectorIndex,
    model: ModelInfo,
    progress: &dyn Progress,
) -> Result<()> {
    let name = format!("gen-{generation:06}");
    let staging = dir.join(format!("{name}.tmp"));
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
    }
    let text_dir = staging.join("text");
    fs::create_dir_all(&text_dir).map_err(|e| Error::io(&text_dir, e))?;
    progress.start("indexing", papers.len());
    let built = fulltext::build(&text_dir, papers, || progress.inc())
        .and_then(|()| vectors.save(&staging.join("vectors")));
    progress.finish();
    if let Err(e) = built {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    let final_dir = dir.join(&name);
    if final_dir.exists() {
        fs::remove_dir_all(&final_dir).map_err(|e| Error::io(&final_dir, e))?;
    }
    fs::rename(&staging, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        generation,
        paper_count: papers.len(),
        generation_dir: name,
        model,
    };
    write_atomically(&dir.join(MANIFEST), &manifest)
}

/// Temp file, fsync, rename, fsync the directory: the file is either old or new, never half.
pub fn write_atomically<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let json = serde_json::to_vec_pretty(value).map_err(|e| Error::IndexCorrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    // One temp name per process: two processes saving the same file never share a temp file.
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = File::create(&tmp)?;
        file.write_all(&json)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(parent) = path.parent() {
            File::open(parent)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|e| Error::io(path, e))
}
