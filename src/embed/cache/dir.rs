//! The per-user cache directory: where it is, what it holds, and pruning or clearing it.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fs2::FileExt;

use super::file::{MAGIC, VERSION, decode_record, record_bytes};
use crate::error::{Error, Result};

/// The per-user cache directory shared by every index on the machine: `$PAPERSCOPE_CACHE` when
/// set (`off`, `0` or empty turn the shared cache off: `None`), else `$XDG_CACHE_HOME/paperscope`,
/// else `~/.cache/paperscope`; `None` when there is no home to put it in.
pub fn shared_cache_dir() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(value) = std::env::var_os("PAPERSCOPE_CACHE") {
        return match value.to_str() {
            Some("" | "off" | "0" | "none") => None,
            _ => Some(PathBuf::from(value)),
        };
    }
    if let Some(xdg) = non_empty("XDG_CACHE_HOME") {
        return Some(PathBuf::from(xdg).join("paperscope"));
    }
    non_empty("HOME").map(|home| PathBuf::from(home).join(".cache").join("paperscope"))
}

/// One cache file in a cache directory, as [`cache_usage`] finds it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CacheFile {
    /// The file's name (the model id and a prefix of its checksum).
    pub name: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Whole records it holds (texts, unless the same text was appended twice).
    pub records: u64,
}

/// What a cache directory holds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CacheUsage {
    /// The directory.
    pub dir: PathBuf,
    /// Its cache files, by name.
    pub files: Vec<CacheFile>,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Their total of whole records.
    pub records: u64,
}

fn cache_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "vecache") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// The header of a cache file: its dimensions and header length, `None` when it is no cache.
fn read_header(file: &mut File) -> Option<(usize, u64)> {
    let mut fixed = [0u8; 16];
    file.read_exact(&mut fixed).ok()?;
    if &fixed[..4] != MAGIC || fixed[4..8] != VERSION.to_le_bytes() {
        return None;
    }
    let word = |i: usize| u32::from_le_bytes([fixed[i], fixed[i + 1], fixed[i + 2], fixed[i + 3]]);
    Some((word(8) as usize, 16 + u64::from(word(12))))
}

/// The cache files in `dir` with their sizes (an empty listing when `dir` does not exist).
pub fn cache_usage(dir: &Path) -> Result<CacheUsage> {
    let mut files = Vec::new();
    for path in cache_files(dir)? {
        let mut file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let bytes = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        let records = read_header(&mut file).map_or(0, |(dims, head)| {
            bytes.saturating_sub(head) / record_bytes(dims) as u64
        });
        files.push(CacheFile {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            bytes,
            records,
        });
    }
    Ok(CacheUsage {
        dir: dir.to_path_buf(),
        bytes: files.iter().map(|f| f.bytes).sum(),
        records: files.iter().map(|f| f.records).sum(),
        files,
    })
}

/// Removes every cache file in `dir`; what was there before.
pub fn clear_cache(dir: &Path) -> Result<CacheUsage> {
    let before = cache_usage(dir)?;
    for path in cache_files(dir)? {
        fs::remove_file(&path).map_err(|e| Error::write(&path, e))?;
    }
    Ok(before)
}

/// What [`prune_cache`] did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Pruned {
    /// The directory.
    pub dir: PathBuf,
    /// Bytes before and after.
    pub bytes_before: u64,
    /// Bytes after.
    pub bytes_after: u64,
    /// Records dropped: damaged (bad CRC), torn, or a second copy of a text's vector.
    pub records_dropped: u64,
    /// Files removed because they are not caches (or hold no record).
    pub files_removed: usize,
}

/// Rewrites every cache file in `dir` without its damaged records, torn tail and second copies,
/// and removes files that are no cache. Each file is rewritten in place under its lock, so a
/// process appending meanwhile waits and then appends after the kept records.
pub fn prune_cache(dir: &Path) -> Result<Pruned> {
    let before = cache_usage(dir)?;
    let mut dropped = 0;
    let mut removed = 0;
    for path in cache_files(dir)? {
        let write = |e| Error::write(&path, e);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(write)?;
        file.lock_exclusive().map_err(write)?;
        let Some((dims, head_len)) = read_header(&mut file) else {
            drop(file);
            fs::remove_file(&path).map_err(write)?;
            removed += 1;
            continue;
        };
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(0)).map_err(write)?;
        file.read_to_end(&mut bytes)
            .map_err(|e| Error::io(&path, e))?;
        let Some(head) = bytes.get(..head_len as usize) else {
            drop(file);
            fs::remove_file(&path).map_err(write)?;
            removed += 1;
            continue;
        };
        let mut kept = head.to_vec();
        let mut seen = HashSet::new();
        let body = &bytes[head_len as usize..];
        let rb = record_bytes(dims);
        let mut whole = 0u64;
        for record in body.chunks_exact(rb) {
            whole += 1;
            if let Some((key, _)) = decode_record(record, dims)
                && seen.insert(key)
            {
                kept.extend_from_slice(record);
            }
        }
        let torn = u64::from(body.len() % rb != 0);
        dropped += whole - seen.len() as u64 + torn;
        if seen.is_empty() {
            drop(file);
            fs::remove_file(&path).map_err(write)?;
            removed += 1;
            continue;
        }
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.write_all(&kept))
            .and_then(|()| file.set_len(kept.len() as u64))
            .and_then(|()| file.sync_data())
            .map_err(write)?;
    }
    Ok(Pruned {
        dir: dir.to_path_buf(),
        bytes_before: before.bytes,
        bytes_after: cache_usage(dir)?.bytes,
        records_dropped: dropped,
        files_removed: removed,
    })
}
