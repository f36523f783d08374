//! Vectors of texts already embedded, keyed by (model, text), so that no text is embedded twice:
//! not when a collection is re-indexed or rebuilt, not when the same digest is read from another
//! path, not after an interrupted `index` (it resumes where it stopped).
//!
//! A transformer encoder spends ~0.1 s of a core per paper side, hours for a large archive, while
//! reading a cached vector back costs microseconds. The cache is one append-only file per model:
//!
//! ```text
//! header   "PSEC" | version u32 | dims u32 | checksum length u32 | model checksum (UTF-8)
//! record   key [16] (SHA-256 of model checksum, 0, text) | dims x f16 | CRC-32 of key and values
//! ```
//!
//! Records are appended in chunks, each synced before the next chunk is embedded, so a stop loses
//! at most one chunk. The cache can never give a wrong vector: the key names the exact model
//! weights and text, a record whose CRC does not match is dropped, and a torn tail (a crash
//! mid-append) is cut off before the next append. A cache that cannot be read at all is started
//! afresh: it only ever costs time.
//!
//! Vectors are stored as f16 and every vector that goes through the cache, fresh or cached, is
//! rounded the same way, so an index built from the cache is the index built without it
//! (cosine to the f32 vector > 0.9999).

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use half::f16;
use sha2::{Digest, Sha256};

use super::Embedder;
use crate::error::{Error, Result};
use crate::progress::{Progress, stage};

const MAGIC: &[u8; 4] = b"PSEC";
const VERSION: u32 = 1;
const KEY_BYTES: usize = 16;
/// Texts embedded between two syncs of the cache: what an interruption can lose (~10 s of e5 on
/// two cores), against one fsync per chunk.
const CHUNK: usize = 256;

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
    /// Where the next record goes: the end of the last whole record.
    valid_len: u64,
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

/// The file name of `embedder`'s cache in a cache directory: the model id for people, a
/// prefix of the weights' checksum so that two builds of one model never share a file.
pub fn cache_file_name(embedder: &Embedder) -> String {
    let portable = |s: &str| -> String {
        s.chars()
            .map(|c| match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' => c,
                _ => '_',
            })
            .collect()
    };
    let checksum: String = portable(embedder.checksum()).chars().take(16).collect();
    format!("{}-{checksum}.vecache", portable(embedder.model_id()))
}

fn record_bytes(dims: usize) -> usize {
    KEY_BYTES + dims * 2 + 4
}

fn header(checksum: &str, dims: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(16 + checksum.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes.extend_from_slice(&(dims as u32).to_le_bytes());
    bytes.extend_from_slice(&(checksum.len() as u32).to_le_bytes());
    bytes.extend_from_slice(checksum.as_bytes());
    bytes
}

/// `vector` as stored: rounded to f16.
fn rounded(vector: &[f32]) -> Box<[f32]> {
    vector.iter().map(|&x| f16::from_f32(x).to_f32()).collect()
}

fn encode_record(key: &TextKey, vector: &[f32], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(key);
    for &x in vector {
        out.extend_from_slice(&f16::from_f32(x).to_le_bytes());
    }
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

fn decode_record(bytes: &[u8], dims: usize) -> Option<(TextKey, Box<[f32]>)> {
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
            valid_len: 0,
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
        let mut offset = expected.len() as u64;
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
            offset += record.len() as u64;
        }
        self.valid_len = offset;
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

    /// Appends `entries` (vectors already [`rounded`]) and syncs them to disk; a torn tail
    /// left by an earlier crash is cut off first.
    fn append(&mut self, entries: Vec<(TextKey, Box<[f32]>)>) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(&self.path)
            .map_err(|e| Error::write(&self.path, e))?;
        if self.valid_len == 0 {
            let head = header(&self.checksum, self.dims);
            file.set_len(0).map_err(|e| Error::write(&self.path, e))?;
            file.write_all(&head)
                .map_err(|e| Error::write(&self.path, e))?;
            self.valid_len = head.len() as u64;
        }
        file.set_len(self.valid_len)
            .and_then(|()| file.seek(SeekFrom::Start(self.valid_len)).map(|_| ()))
            .map_err(|e| Error::write(&self.path, e))?;
        let mut bytes = Vec::with_capacity(entries.len() * record_bytes(self.dims));
        for (key, vector) in &entries {
            encode_record(key, vector, &mut bytes);
        }
        let mut writer = BufWriter::new(&mut file);
        writer
            .write_all(&bytes)
            .and_then(|()| writer.flush())
            .map_err(|e| Error::write(&self.path, e))?;
        drop(writer);
        file.sync_data().map_err(|e| Error::write(&self.path, e))?;
        self.valid_len += bytes.len() as u64;
        self.appended.extend(
            entries
                .iter()
                .map(|(key, _)| *key)
                .filter(|key| !self.vectors.contains_key(key)),
        );
        Ok(())
    }
}

/// What [`embed_texts`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheUse {
    /// Texts whose vectors came from a cache.
    pub cached: usize,
    /// Texts embedded by the model (and added to the cache).
    pub embedded: usize,
}

/// The vectors of texts `0..count` (`text(i)` makes text i), each taken from `cache` or
/// `seeds` when there and embedded by `embedder` otherwise; fresh vectors are appended to
/// `cache` a chunk at a time, so an interrupted run keeps what it finished. Vectors come back
/// f16-rounded, cached or not. The texts are made when they are needed and dropped after, not
/// held together: at 100k papers all of them took ~300 MB.
pub fn embed_texts(
    embedder: &Embedder,
    cache: &mut EmbeddingCache,
    seeds: &[EmbeddingCache],
    count: usize,
    text: &(dyn Fn(usize) -> String + Sync),
    progress: &dyn Progress,
) -> Result<(Vec<Box<[f32]>>, CacheUse)> {
    use rayon::prelude::*;
    let checksum = embedder.checksum();
    let keys: Vec<TextKey> = (0..count)
        .into_par_iter()
        .map(|i| text_key(checksum, &text(i)))
        .collect();
    let lookup = |key: &TextKey| {
        cache
            .get(key)
            .or_else(|| seeds.iter().find_map(|seed| seed.get(key)))
            .map(Box::<[f32]>::from)
    };
    let mut found: Vec<Option<Box<[f32]>>> = keys.iter().map(lookup).collect();
    // Seeded vectors join the index's own cache, so it stands alone afterwards.
    let seeded: Vec<(TextKey, Box<[f32]>)> = keys
        .iter()
        .zip(&found)
        .filter(|(key, v)| v.is_some() && !cache.contains(key))
        .filter_map(|(key, v)| v.clone().map(|v| (*key, v)))
        .collect();
    cache.append(dedup(seeded))?;
    let missing: Vec<usize> = (0..count).filter(|&i| found[i].is_none()).collect();
    let usage = CacheUse {
        cached: count - missing.len(),
        embedded: missing.len(),
    };
    if missing.is_empty() {
        // Nothing to embed: the injected stop comes after the seeded vectors were saved.
        crate::atomic::failpoint("embedding", cache.path())?;
    }
    stage(progress, "embedding", missing.len(), || {
        embed_missing(embedder, cache, text, &keys, &missing, &mut found, progress)
    })?;
    let vectors = found.into_iter().map(|v| v.unwrap_or_default()).collect();
    Ok((vectors, usage))
}

/// The vectors of `texts`, from `cache` where it holds them and embedded otherwise, without
/// writing anything (for readers and measurements). Vectors come back f16-rounded either way.
pub fn cached_or_embedded(
    embedder: &Embedder,
    cache: &EmbeddingCache,
    texts: &[String],
    on_done: impl Fn(usize) + Sync,
) -> Vec<Box<[f32]>> {
    let checksum = embedder.checksum();
    let keys: Vec<TextKey> = texts.iter().map(|t| text_key(checksum, t)).collect();
    let missing: Vec<&str> = texts
        .iter()
        .zip(&keys)
        .filter(|(_, key)| cache.get(key).is_none())
        .map(|(text, _)| text.as_str())
        .collect();
    on_done(texts.len() - missing.len());
    let mut fresh = embedder.embed_passages(&missing, on_done).into_iter();
    keys.iter()
        .map(|key| match cache.get(key) {
            Some(v) => Box::from(v),
            None => rounded(&fresh.next().unwrap_or_default()),
        })
        .collect()
}

/// The same key twice (a text in two papers) is stored once.
fn dedup(mut entries: Vec<(TextKey, Box<[f32]>)>) -> Vec<(TextKey, Box<[f32]>)> {
    let mut seen = std::collections::HashSet::new();
    entries.retain(|(key, _)| seen.insert(*key));
    entries
}

fn embed_missing(
    embedder: &Embedder,
    cache: &mut EmbeddingCache,
    text: &(dyn Fn(usize) -> String + Sync),
    keys: &[TextKey],
    missing: &[usize],
    found: &mut [Option<Box<[f32]>>],
    progress: &dyn Progress,
) -> Result<()> {
    for chunk in missing.chunks(CHUNK) {
        let chunk_texts: Vec<String> = chunk.iter().map(|&i| text(i)).collect();
        let vectors = embedder.embed_passages(&chunk_texts, |_| progress.inc());
        let mut fresh = Vec::with_capacity(chunk.len());
        for (&i, vector) in chunk.iter().zip(vectors) {
            let vector = rounded(&vector);
            fresh.push((keys[i], vector.clone()));
            found[i] = Some(vector);
        }
        cache.append(dedup(fresh))?;
        crate::atomic::failpoint("embedding", cache.path())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Quiet;

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

    #[test]
    fn texts_come_from_the_cache_once_embedded_and_equal_fresh_vectors() {
        let embedder = Embedder::shipped().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.vecache");
        let texts: Vec<String> = [
            "graph neural networks",
            "幻觉 基准",
            "graph neural networks",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        let (checksum, dims) = (embedder.checksum(), embedder.dims());
        let mut cache = EmbeddingCache::open(&path, checksum, dims).unwrap();
        let (fresh, first) = embed_texts(
            &embedder,
            &mut cache,
            &[],
            texts.len(),
            &|i| texts[i].clone(),
            &Quiet,
        )
        .unwrap();
        assert_eq!(
            first,
            CacheUse {
                cached: 0,
                embedded: 3
            }
        );
        assert_eq!(cache.len(), 2, "one record per distinct text");
        let mut reopened = EmbeddingCache::open(&path, checksum, dims).unwrap();
        let (again, second) = embed_texts(
            &embedder,
            &mut reopened,
            &[],
            texts.len(),
            &|i| texts[i].clone(),
            &Quiet,
        )
        .unwrap();
        assert_eq!(
            second,
            CacheUse {
                cached: 3,
                embedded: 0
            }
        );
        assert_eq!(fresh, again);
        let exact = embedder.embed_passage(&texts[1]);
        let cosine: f32 = exact.iter().zip(fresh[1].iter()).map(|(a, b)| a * b).sum();
        assert!(cosine > 0.9999, "{cosine}");
    }

    #[test]
    fn a_seed_cache_fills_the_index_cache() {
        let embedder = Embedder::shipped().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (checksum, dims) = (embedder.checksum(), embedder.dims());
        let text = "retrieval augmented generation".to_string();
        let seed_path = dir.path().join("seed.vecache");
        let mut seed = EmbeddingCache::open(&seed_path, checksum, dims).unwrap();
        embed_texts(&embedder, &mut seed, &[], 1, &|_| text.clone(), &Quiet).unwrap();
        // A seed is a cache file shipped beside digests: read back from its file.
        let seed = EmbeddingCache::open(&seed_path, checksum, dims).unwrap();
        let own_path = dir.path().join("own.vecache");
        let mut own = EmbeddingCache::open(&own_path, checksum, dims).unwrap();
        let (_, used) =
            embed_texts(&embedder, &mut own, &[seed], 1, &|_| text.clone(), &Quiet).unwrap();
        assert_eq!(
            used,
            CacheUse {
                cached: 1,
                embedded: 0
            }
        );
        assert_eq!(
            EmbeddingCache::open(&own_path, checksum, dims)
                .unwrap()
                .len(),
            1
        );
    }
}
