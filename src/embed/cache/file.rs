//! The cache file: a header naming the model, then fixed-size records (key, f16 values, CRC-32),
//! appended under an OS lock and read back whole.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fs2::FileExt;
use half::f16;
use sha2::{Digest, Sha256};

use crate::embed::Embedder;
use crate::error::{Error, Result};
pub(super) const MAGIC: &[u8; 4] = b"PSEC";
pub(super) const VERSION: u32 = 1;
const KEY_BYTES: usize = 16;

/// The cache key of a text for one model's weights.
pub type TextKey = [u8; KEY_BYTES];

/// Vectors of texts one model has embedded, loaded from (and appended to) one file.
pub struct EmbeddingCache {
    path: PathBuf,
    checksum: String,
    dims: usize,
    vectors: HashMap<TextKey, Box<[f32]>>,
    /// Keys appended by this process: their vectors went back to the caller that embedded them
    /// and are read from the file by the next open, not kept twice (200k texts of 256 dims are
    /// 200 MB).
    appended: HashSet<TextKey>,
    /// Records dropped on load (bad CRC), reported by [`EmbeddingCache::dropped`].
    dropped: usize,
}

/// The key of `text` embedded by the model whose weights have `checksum`.
pub fn text_key(checksum: &str, text: &str) -> TextKey {
    let mut hasher = Sha256::new();
    hasher.update(checksum.as_bytes());
    hasher.update([0u8]);
    hasher.update(text.as_bytes());
    let digest = hasher.finalize();
    let mut key = [0u8; KEY_BYTES];
    key.copy_from_slice(&digest[..KEY_BYTES]);
    key
}

/// The file name of `embedder`'s cache in a cache directory: the model id for people, then its
/// cache key (the weights' checksum and the kernel's suffix, 24 characters at most) so that two
/// builds of one model, or two kernel versions, never share a file.
pub fn cache_file_name(embedder: &Embedder) -> String {
    let portable = |s: &str| -> String {
        s.chars()
            .map(|c| match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' => c,
                _ => '_',
            })
            .collect()
    };
    let checksum: String = portable(embedder.cache_key()).chars().take(24).collect();
    format!("{}-{checksum}.vecache", portable(embedder.model_id()))
}

pub(super) fn record_bytes(dims: usize) -> usize {
    KEY_BYTES + dims * 2 + 4
}

pub(super) fn header(checksum: &str, dims: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(16 + checksum.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes.extend_from_slice(&(dims as u32).to_le_bytes());
    bytes.extend_from_slice(&(checksum.len() as u32).to_le_bytes());
    bytes.extend_from_slice(checksum.as_bytes());
    bytes
}

/// `vector` as stored: rounded to f16.
pub(super) fn rounded(vector: &[f32]) -> Box<[f32]> {
    vector.iter().map(|&x| f16::from_f32(x).to_f32()).collect()
}

pub(super) fn encode_record(key: &TextKey, vector: &[f32], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(key);
    for &x in vector {
        out.extend_from_slice(&f16::from_f32(x).to_le_bytes());
    }
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

pub(super) fn decode_record(bytes: &[u8], dims: usize) -> Option<(TextKey, Box<[f32]>)> {
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32fast::hash(body).to_le_bytes() != crc {
        return None;
    }
    let (key_bytes, values) = body.split_at(KEY_BYTES);
    let mut key = [0u8; KEY_BYTES];
    key.copy_from_slice(key_bytes);
    let vector = values
        .chunks_exact(2)
        .take(dims)
        .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
        .collect();
    Some((key, vector))
}

impl EmbeddingCache {
    /// The cache of the model with weights `checksum` and `dims` dimensions in `path`; empty
    /// when the file does not exist yet or is not a cache of this model (it is then rewritten
    /// by the first [`EmbeddingCache::append`]).
    pub fn open(path: &Path, checksum: &str, dims: usize) -> Result<Self> {
        let mut cache = EmbeddingCache {
            path: path.to_path_buf(),
            checksum: checksum.to_string(),
            dims,
            vectors: HashMap::new(),
            appended: HashSet::new(),
            dropped: 0,
        };
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(cache),
            Err(e) => return Err(Error::io(path, e)),
        };
        cache.load(BufReader::with_capacity(1 << 20, file))?;
        Ok(cache)
    }

    fn load(&mut self, mut reader: impl Read) -> Result<()> {
        let expected = header(&self.checksum, self.dims);
        let mut found = vec![0u8; expected.len()];
        match reader.read_exact(&mut found) {
            Ok(()) if found == expected => {}
            // Another model's file under this name, or a torn header: start afresh.
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(Error::io(&self.path, e)),
        }
        let mut record = vec![0u8; record_bytes(self.dims)];
        loop {
            match reader.read_exact(&mut record) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(Error::io(&self.path, e)),
            }
            match decode_record(&record, self.dims) {
                Some((key, vector)) => {
                    self.vectors.insert(key, vector);
                }
                None => self.dropped += 1,
            }
        }
        Ok(())
    }

    /// The vector cached for `key` when the cache was opened (a text appended since is in the
    /// file, and [`EmbeddingCache::contains`] it, but its vector is read by the next open).
    pub fn get(&self, key: &TextKey) -> Option<&[f32]> {
        self.vectors.get(key).map(|v| &v[..])
    }

    /// Whether the file holds `key`'s vector.
    pub fn contains(&self, key: &TextKey) -> bool {
        self.vectors.contains_key(key) || self.appended.contains(key)
    }

    /// Texts cached.
    pub fn len(&self) -> usize {
        self.vectors.len() + self.appended.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records dropped on load because their checksum did not match (damage).
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// The file the cache lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `entries` (vectors already [`rounded`]) and syncs them to disk, under an OS lock
    /// on the file: several processes (indexes sharing the per-user cache) append to one file,
    /// each after the records the others appended. A torn tail left by a crashed writer (only a
    /// writer holding the lock writes, so only a crash tears) is cut off first; a file that is
    /// not this model's cache is started afresh.
    pub(super) fn append(&mut self, entries: Vec<(TextKey, Box<[f32]>)>) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let write = |e| Error::write(&self.path, e);
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(&self.path)
            .map_err(write)?;
        file.lock_exclusive().map_err(write)?;
        let head = header(&self.checksum, self.dims);
        let len = file.metadata().map_err(write)?.len();
        let mut found = vec![0u8; head.len()];
        let ours = len >= head.len() as u64 && file.read_exact(&mut found).is_ok() && found == head;
        let whole = if ours {
            let rb = record_bytes(self.dims) as u64;
            let head_len = head.len() as u64;
            head_len + (len - head_len) / rb * rb
        } else {
            file.set_len(0).map_err(write)?;
            file.seek(SeekFrom::Start(0)).map_err(write)?;
            file.write_all(&head).map_err(write)?;
            head.len() as u64
        };
        file.set_len(whole)
            .and_then(|()| file.seek(SeekFrom::Start(whole)).map(|_| ()))
            .map_err(write)?;
        let mut bytes = Vec::with_capacity(entries.len() * record_bytes(self.dims));
        for (key, vector) in &entries {
            encode_record(key, vector, &mut bytes);
        }
        let mut writer = BufWriter::new(&mut file);
        writer
            .write_all(&bytes)
            .and_then(|()| writer.flush())
            .map_err(write)?;
        drop(writer);
        file.sync_data().map_err(write)?;
        // The lock is released when the file is closed, here.
        drop(file);
        self.appended.extend(
            entries
                .iter()
                .map(|(key, _)| *key)
                .filter(|key| !self.vectors.contains_key(key)),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(seed: f32, dims: usize) -> Vec<f32> {
        (0..dims).map(|i| (seed + i as f32).sin()).collect()
    }

    fn entries(n: usize, dims: usize) -> Vec<(TextKey, Box<[f32]>)> {
        (0..n)
            .map(|i| {
                let key = text_key("sum", &format!("text {i}"));
                (key, rounded(&vector(i as f32, dims)))
            })
            .collect()
    }

    #[test]
    fn what_is_appended_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.vecache");
        let mut cache = EmbeddingCache::open(&path, "sum", 8).unwrap();
        cache.append(entries(5, 8)).unwrap();
        cache.append(entries(7, 8)[5..].to_vec()).unwrap();
        let again = EmbeddingCache::open(&path, "sum", 8).unwrap();
        assert_eq!(again.len(), 7);
        for (key, v) in entries(7, 8) {
            assert_eq!(again.get(&key), Some(&v[..]));
        }
    }

    #[test]
    fn a_torn_tail_is_cut_off_and_appending_goes_on_after_the_last_whole_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.vecache");
        let mut cache = EmbeddingCache::open(&path, "sum", 8).unwrap();
        cache.append(entries(3, 8)).unwrap();
        let whole = fs::metadata(&path).unwrap().len();
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&[7u8; 11]).unwrap();
        drop(file);
        let mut torn = EmbeddingCache::open(&path, "sum", 8).unwrap();
        assert_eq!(torn.len(), 3);
        torn.append(entries(4, 8)[3..].to_vec()).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            whole + record_bytes(8) as u64
        );
        assert_eq!(EmbeddingCache::open(&path, "sum", 8).unwrap().len(), 4);
    }

    #[test]
    fn a_damaged_record_is_dropped_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.vecache");
        let mut cache = EmbeddingCache::open(&path, "sum", 8).unwrap();
        cache.append(entries(3, 8)).unwrap();
        let mut bytes = fs::read(&path).unwrap();
        let second_record_value = header("sum", 8).len() + record_bytes(8) + KEY_BYTES + 1;
        bytes[second_record_value] ^= 0x40;
        fs::write(&path, bytes).unwrap();
        let damaged = EmbeddingCache::open(&path, "sum", 8).unwrap();
        assert_eq!((damaged.len(), damaged.dropped()), (2, 1));
        assert!(damaged.get(&entries(3, 8)[1].0).is_none());
    }

    #[test]
    fn another_models_file_is_never_read_and_is_started_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.vecache");
        let mut cache = EmbeddingCache::open(&path, "sum", 8).unwrap();
        cache.append(entries(3, 8)).unwrap();
        let mut other = EmbeddingCache::open(&path, "other weights", 8).unwrap();
        assert!(other.is_empty());
        other.append(entries(1, 8)).unwrap();
        assert_eq!(EmbeddingCache::open(&path, "sum", 8).unwrap().len(), 0);
        assert_eq!(
            EmbeddingCache::open(&path, "other weights", 8)
                .unwrap()
                .len(),
            1
        );
    }
}
