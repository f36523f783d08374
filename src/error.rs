//! The library's error type. Every variant names what it is about (file, line, id or argument)
//! so the CLI can print it as one line.

use std::path::PathBuf;

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
    #[error("{}:{line}: not valid UTF-8 (byte {byte_offset}); digests must be UTF-8 text", path.display())]
    NotUtf8 {
        path: PathBuf,
        line: usize,
        byte_offset: usize,
    },
    #[error("{}: file is {size} bytes, over the {limit}-byte limit for one digest", path.display())]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("{}: no papers found (expected `[^N]:` entries under `# 详细`)", path.display())]
    NoPapers { path: PathBuf },
    #[error("{}: no digest files (*.md) found", path.display())]
    NoDigestFiles { path: PathBuf },
    #[error("index {} does not exist; build it with `paperscope index --index {} <digests>`", path.display(), path.display())]
    IndexMissing { path: PathBuf },
    #[error("index {}: {reason}; rebuild it with `paperscope index`", path.display())]
    IndexCorrupt { path: PathBuf, reason: String },
    #[error("index {} is locked by pid {pid} (another `paperscope index` is running)", path.display())]
    IndexLocked { path: PathBuf, pid: String },
    #[error("embedding model {}: {reason}", path.display())]
    Model { path: PathBuf, reason: String },
    #[error("index {} was built with embedding model `{built_with}`, but this paperscope uses `{current}`: re-index with `paperscope index --rebuild`", path.display())]
    ModelMismatch {
        path: PathBuf,
        built_with: String,
        current: String,
    },
    #[error("unknown arXiv id `{id}`: not in the index")]
    UnknownId { id: String },
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
    #[error("search engine error: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
}

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

    /// A parameter's value cannot be used: `parameter` names it, `reason` says why.
    pub fn invalid(parameter: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            parameter: parameter.into(),
            reason: reason.into(),
        }
    }
}
