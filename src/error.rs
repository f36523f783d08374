//! The library's error type. Every variant names what it is about (file, line, id or argument)
//! so the CLI can print it as one line.

use std::path::PathBuf;

/// Everything that can go wrong in the library, each naming what it is about.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{}: cannot {action}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// `read` or `write`.
        action: &'static str,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A digest file is not UTF-8 text.
    #[error("{}:{line}: not valid UTF-8 (byte {byte_offset}); digests must be UTF-8 text", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line of the first bad byte.
        line: usize,
        /// Offset of the first bad byte in the file.
        byte_offset: usize,
    },
    /// A digest file is larger than one digest can be.
    #[error("{}: file is {size} bytes, over the {limit}-byte limit for one digest", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// A file has no digest entries.
    #[error("{}: no papers found (expected `[^N]:` entries under `# 详细`)", path.display())]
    NoPapers {
        /// The file.
        path: PathBuf,
    },
    /// A directory given as input holds no digest files.
    #[error("{}: no digest files (*.md) found", path.display())]
    NoDigestFiles {
        /// The directory.
        path: PathBuf,
    },
    /// There is no index where one was expected.
    #[error("index {} does not exist; build it with `paperscope index --index {} <digests>`", path.display(), path.display())]
    IndexMissing {
        /// The index directory.
        path: PathBuf,
    },
    /// Something about the index cannot be used as it is (a file of it that cannot be read, or
    /// a part it lacks); `reason` says what, and how to fix it where that is not a rebuild.
    /// Damage found while opening an index is [`Error::IndexDamaged`], which names the command
    /// that recovers.
    #[error("index {}: {reason}", path.display())]
    IndexCorrupt {
        /// The damaged file (or the index directory).
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Something that needs every paper's vector, asked of an index still being embedded (its
    /// words were committed first).
    #[error(
        "{needs} needs every paper's vector, and index {} has {covered} of {papers} so far: the \
         next write to it (`paperscope index`) or a server on it embeds the rest",
        path.display()
    )]
    VectorsIncomplete {
        /// The index directory.
        path: PathBuf,
        /// What was asked ("an export", "merging the coarse topics", "a topic refit").
        needs: &'static str,
        /// Papers with a vector.
        covered: usize,
        /// Papers in the index.
        papers: usize,
    },
    /// Another process holds the index's writer lock.
    #[error("index {} is locked by pid {pid} (another paperscope process is writing to it: an index run, a topic refit, or a server embedding its vectors)", path.display())]
    IndexLocked {
        /// The index directory.
        path: PathBuf,
        /// The process id of the lock holder (from /proc/locks; else as the holder recorded it,
        /// which the value then says).
        pid: String,
    },
    /// The embedding model cannot be loaded.
    #[error("embedding model {}: {reason}", path.display())]
    Model {
        /// The model file or directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The index's vectors were made by another model than the one loaded.
    #[error("index {} was built with embedding model `{built_with}`, but this paperscope uses `{current}`: use that model (`--model` names it), or re-index with `paperscope index --rebuild`", path.display())]
    ModelMismatch {
        /// The index directory.
        path: PathBuf,
        /// The model recorded in the manifest.
        built_with: String,
        /// The model loaded now.
        current: String,
    },
    /// An arXiv id that is not in the index.
    #[error("unknown arXiv id `{id}`: not in the index")]
    UnknownId {
        /// The id as given.
        id: String,
    },
    /// A parameter of a request (a CLI argument, an HTTP query parameter) has a value the
    /// library cannot use. Named by parameter, not by flag, so every front end can show it.
    #[error("{parameter}: {reason}")]
    InvalidParameter {
        /// The parameter's name (`mode`, `since`, `limit`, ...).
        parameter: String,
        /// What is wrong and what would be accepted.
        reason: String,
    },
    /// A line of an input file (other than a digest) is malformed.
    #[error("{}:{line}: {reason}", path.display())]
    BadLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// A version of a paper that the index does not hold.
    #[error(
        "{id}v{asked} is not in the index (it holds {id}v{held}); ask for `{id}` or `{id}v{held}`"
    )]
    UnknownVersion {
        /// The arXiv id without version.
        id: String,
        /// The version asked for.
        asked: u32,
        /// The version indexed.
        held: u32,
    },
    /// Tantivy failed where no file can be named.
    #[error("search engine error: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// A file of the index is damaged (a checksum, size or count that does not match, a file
    /// that does not parse): the message names the file and the one command that recovers.
    #[error("{}: {reason}; recover with `{}`", path.display(), recovery_command(index))]
    IndexDamaged {
        /// The index directory.
        index: PathBuf,
        /// The damaged file (or directory).
        path: PathBuf,
        /// What is wrong with it, in a few words.
        reason: String,
    },
    /// Embedding stopped on request (Ctrl-C, SIGTERM) after syncing the vectors it had made:
    /// the next run takes them from the cache and embeds only the rest.
    #[error("interrupted: {kept} of {total} texts kept; run `paperscope index` again to continue")]
    Interrupted {
        /// Texts whose vectors are in the cache (cached before, or embedded and synced now).
        kept: usize,
        /// Texts the write needed.
        total: usize,
    },
}

/// The one command that recovers a damaged index in `index`: a rebuild from the digests, which
/// works whatever state the live generation is in.
pub fn recovery_command(index: &std::path::Path) -> String {
    format!(
        "paperscope index --index {} --rebuild <digests>",
        index.display()
    )
}

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Reading `path` failed.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            action: "read",
            source,
        }
    }

    /// Writing `path` (or creating, renaming, removing it) failed.
    pub fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            action: "write",
            source,
        }
    }

    /// `path` of the index in `index` is damaged: `reason` says how.
    pub fn damaged(
        index: impl Into<PathBuf>,
        path: impl Into<PathBuf>,
        reason: impl Into<String>,
    ) -> Self {
        Error::IndexDamaged {
            index: index.into(),
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// A parameter's value cannot be used: `parameter` names it, `reason` says why.
    pub fn invalid(parameter: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            parameter: parameter.into(),
            reason: reason.into(),
        }
    }
}
