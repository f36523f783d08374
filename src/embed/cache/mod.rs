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
//! Records are appended and synced every 256 texts or 3 s, whichever comes first, so a crash
//! loses at most that; a stop request (Ctrl-C) syncs what is done and says how much was kept. The cache can never give a wrong vector: the key names the exact model
//! weights and text, a record whose CRC does not match is dropped, and a torn tail (a crash
//! mid-append) is cut off before the next append. A cache that cannot be read at all is started
//! afresh: it only ever costs time.
//!
//! Vectors are stored as f16 and every vector that goes through the cache, fresh or cached, is
//! rounded the same way, so an index built from the cache is the index built without it
//! (cosine to the f32 vector > 0.9999).

mod dir;
mod file;
mod fill;

pub use dir::{
    CacheFile, CacheUsage, Pruned, cache_usage, clear_cache, prune_cache, shared_cache_dir,
};
pub use file::{EmbeddingCache, TextKey, cache_file_name, text_key};
pub use fill::{
    CacheUse, Caches, OnSync, TextVectors, cached_or_embedded, cached_texts, embed_texts,
    embed_texts_with,
};
