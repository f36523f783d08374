//! Tantivy's errors as the library's: one short line naming the file of the index it is about.

use std::path::Path;

use crate::error::Error;
use crate::text::truncate_chars;

/// A Tantivy error about the index in `dir` (a generation's `text/`), as one short line naming
/// the file it is about where Tantivy's message names one (else the directory). Tantivy's
/// messages can hold debug dumps and whole files (`meta.json`): only the first sentence is kept.
pub(super) fn tantivy_error(dir: &Path, e: tantivy::TantivyError) -> Error {
    let message = e.to_string();
    let file = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| message.contains(name.as_str()))
        .max_by_key(String::len);
    let path = file.map_or_else(|| dir.to_path_buf(), |name| dir.join(name));
    Error::damaged(index_of(dir), path, short_reason(&message))
}

/// The index directory of a generation's text directory (`index/gen-N/text`).
pub(super) fn index_of(text_dir: &Path) -> &Path {
    text_dir.parent().and_then(Path::parent).unwrap_or(text_dir)
}

/// The first line of `message`, without what Tantivy appends after it (a file's content, a
/// debug dump), at most 160 characters.
pub(super) fn short_reason(message: &str) -> String {
    let first = message.lines().next().unwrap_or_default();
    let cut = [" Content:", ". Content", "{", " Error(", " Os {"]
        .iter()
        .filter_map(|marker| first.find(marker))
        .min()
        .unwrap_or(first.len());
    let reason = first[..cut].trim_end_matches([' ', '.', ':', '(']).trim();
    truncate_chars(if reason.is_empty() { first } else { reason }, 160)
}
