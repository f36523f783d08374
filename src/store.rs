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
use crate::error::{Error, Result};
use crate::fulltext::{self, TextIndex};
use crate::paper::Paper;

pub const FORMAT_VERSION: u32 = 1;
const MANIFEST: &str = "manifest.json";
const LOCK: &str = "write.lock";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub generation: u64,
    pub paper_count: usize,
    /// Directory of the live generation, relative to the index directory.
    pub generation_dir: String,
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
    },
}

/// Adds or updates `incoming` papers: existing papers keep their numbers, new ones are appended.
pub fn update(dir: &Path, incoming: Vec<Paper>, on_paper: impl Fn(usize)) -> Result<Update> {
    let _lock = WriteLock::acquire(dir)?;
    let (previous, existing) = if Store::exists(dir) {
        let store = Store::open(dir)?;
        let papers = store.papers()?;
        (Some(store.manifest), papers)
    } else {
        (None, Vec::new())
    };
    let merged = merge_duplicates(existing.clone(), incoming);
    let added = merged.len() - existing.len();
    let updated = existing.iter().zip(&merged).filter(|(a, b)| a != b).count();
    if previous.is_some() && added == 0 && updated == 0 {
        return Ok(Update::Unchanged {
            papers: merged.len(),
        });
    }
    let generation = previous.as_ref().map_or(1, |m| m.generation + 1);
    write_generation(dir, generation, &merged, on_paper)?;
    if let Some(old) = previous {
        // The old generation is no longer referenced; a failure to delete it costs only disk.
        let _ = fs::remove_dir_all(dir.join(old.generation_dir));
    }
    Ok(Update::Written {
        generation,
        papers: merged.len(),
        added,
        updated,
    })
}

fn write_generation(
    dir: &Path,
    generation: u64,
    papers: &[Paper],
    on_paper: impl Fn(usize),
) -> Result<()> {
    let name = format!("gen-{generation:06}");
    let staging = dir.join(format!("{name}.tmp"));
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
    }
    let text_dir = staging.join("text");
    fs::create_dir_all(&text_dir).map_err(|e| Error::io(&text_dir, e))?;
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let built = fulltext::build(&text_dir, papers, || {
        on_paper(counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1)
    });
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
    };
    write_atomically(&dir.join(MANIFEST), &manifest)
}

/// Temp file, fsync, rename, fsync the directory: the file is either old or new, never half.
pub fn write_atomically<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let json = serde_json::to_vec_pretty(value).map_err(|e| Error::IndexCorrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let tmp = path.with_extension("json.tmp");
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
