//! What a write is told (`UpdateOptions`) and what it reports (`Update`, `IndexReport`).

use std::path::PathBuf;

use serde::Serialize;

use crate::digest::{Skipped, Warning};
use crate::topics::TopicParams;
use crate::vectors::VectorParams;

/// Choices for a write.
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    /// Re-embed every paper (after a model change) and refit the topics, instead of reusing the
    /// previous vectors and topics.
    pub rebuild: bool,
    /// Vector index parameters for a new vector index.
    pub vector_params: VectorParams,
    /// Parameters for a topic fit, when one is needed.
    pub topic_params: TopicParams,
    /// The directory of the per-user embedding cache shared by every index on the machine
    /// ([`crate::embed::cache::shared_cache_dir`] finds the usual one); `None` leaves it out.
    pub shared_cache: Option<PathBuf>,
    /// A new index whose texts to embed (those in no cache) are more than this is committed
    /// with its words first, then its vectors as they are made; `None` is
    /// [`WORDS_FIRST_ABOVE`].
    pub words_first_above: Option<usize>,
    /// After committing the words of a new index first, return instead of embedding the rest:
    /// the caller finishes with [`finish_embedding`] (a server that answers meanwhile).
    pub defer_embedding: bool,
}

/// Texts to embed above which a new index is searchable by words before it is embedded: ~256
/// texts are 10-20 s of e5 on two cores, about what committing twice saves no one.
pub const WORDS_FIRST_ABOVE: usize = 256;

/// What an update did. In JSON: `changed`, `papers`, and for a write `generation`, `added`,
/// `updated`, `embedded`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// Nothing new: the index was left as it was.
    Unchanged {
        /// Papers in the index.
        papers: usize,
    },
    /// A new generation was committed.
    Written {
        /// The new generation's number.
        generation: u64,
        /// Papers in the index now.
        papers: usize,
        /// Papers that were not in the index before.
        added: usize,
        /// Papers whose record changed (a newer version, another digest).
        updated: usize,
        /// Papers whose vector was computed by this write.
        embedded: usize,
        /// Texts of those papers whose vectors came from the embedding cache (not embedded again).
        texts_cached: usize,
        /// Texts the model embedded.
        texts_embedded: usize,
        /// When the papers were searchable by words before their vectors were done: the
        /// generation that made them so and the milliseconds it took.
        words_first: Option<(u64, u64)>,
        /// What the write had to work around, each one line (a damaged topic model refitted,
        /// an unreadable live generation left out of a rebuild).
        notices: Vec<String>,
    },
}

impl Serialize for Update {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        match self {
            Update::Unchanged { papers } => {
                map.serialize_entry("changed", &false)?;
                map.serialize_entry("papers", &papers)?;
                map.serialize_entry("embedded", &0)?;
            }
            Update::Written {
                generation,
                papers,
                added,
                updated,
                embedded,
                texts_cached,
                texts_embedded,
                words_first,
                notices,
            } => {
                map.serialize_entry("changed", &true)?;
                map.serialize_entry("generation", generation)?;
                map.serialize_entry("papers", papers)?;
                map.serialize_entry("added", added)?;
                map.serialize_entry("updated", updated)?;
                map.serialize_entry("embedded", embedded)?;
                map.serialize_entry("texts_cached", texts_cached)?;
                map.serialize_entry("texts_embedded", texts_embedded)?;
                if let Some((generation, ms)) = words_first {
                    map.serialize_entry("words_first_generation", generation)?;
                    map.serialize_entry("words_searchable_seconds", &(*ms as f64 / 1000.0))?;
                }
                if !notices.is_empty() {
                    map.serialize_entry("notices", notices)?;
                }
            }
        }
        map.end()
    }
}

impl Update {
    /// Papers in the index after the update.
    pub fn papers(&self) -> usize {
        match *self {
            Update::Unchanged { papers } | Update::Written { papers, .. } => papers,
        }
    }
}

/// What indexing a set of digest files did: what was read, and the update.
#[derive(Debug, Clone, Serialize)]
pub struct IndexReport {
    /// The index directory.
    pub index: PathBuf,
    /// Digest files that gave papers.
    pub files: usize,
    /// `[^N]:` entries read.
    pub entries: usize,
    /// Distinct papers read.
    pub papers_read: usize,
    /// Entries that named a paper already read.
    pub duplicates: usize,
    /// Entries skipped or incomplete, each naming its file and line.
    #[serde(serialize_with = "as_strings")]
    pub warnings: Vec<Warning>,
    /// Files that gave no papers and were left out (JSON: `[{"file", "error"}]`).
    pub skipped: Vec<Skipped>,
    /// What the write did.
    #[serde(flatten)]
    pub update: Update,
    /// Wall time of the whole run.
    pub seconds: f64,
}

pub(super) fn as_strings<S: serde::Serializer>(
    warnings: &[Warning],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(warnings.iter().map(ToString::to_string))
}
