//! The digest format: reading Markdown digests (`parse`) and, across files, gathering one record
//! per paper; writing papers back as Markdown (`render`), one HTML page (`html`) or JSON.

mod html;
pub mod parse;
pub mod render;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::paper::Paper;
use parse::NoPapersKind;
pub use parse::{ParsedFile, Warning, parse_file, parse_str};
pub(crate) use render::{RelatedOf, Section};

/// How a written digest is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The input's Markdown format (reads back with `parse`).
    Markdown,
    /// One self-contained HTML page.
    Html,
    /// `{"title", "sections": [{"title", "papers": [paper fields + "related"]}]}`.
    Json,
}

impl std::str::FromStr for Format {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "markdown" | "md" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            "json" => Ok(Format::Json),
            _ => Err(Error::invalid(
                "format",
                format!("unknown value {value:?} (markdown, html, json)"),
            )),
        }
    }
}

#[derive(Serialize)]
struct JsonSection<'a> {
    title: Option<&'a str>,
    papers: Vec<JsonPaper<'a>>,
}

#[derive(Serialize)]
struct JsonPaper<'a> {
    #[serde(flatten)]
    paper: &'a Paper,
    related: Vec<(String, String)>,
}

/// The sections written in `format`, each entry followed by its related papers. `title` says
/// what the digest holds; the HTML page and the JSON carry it, the Markdown does not (it keeps
/// exactly the format digests are read from).
pub(crate) fn write(
    sections: &[Section],
    related: &RelatedOf,
    format: Format,
    title: &str,
) -> Result<String> {
    Ok(match format {
        Format::Markdown => render::render_sections(sections, related),
        Format::Html => html::render_html(sections, related, title),
        Format::Json => {
            let json: Vec<JsonSection> = sections
                .iter()
                .map(|s| JsonSection {
                    title: s.title.as_deref(),
                    papers: s
                        .papers
                        .iter()
                        .map(|p| JsonPaper {
                            paper: p,
                            related: related(p),
                        })
                        .collect(),
                })
                .collect();
            serde_json::to_string_pretty(&serde_json::json!({ "title": title, "sections": json }))
                .map_err(|e| Error::invalid("format", e.to_string()))?
        }
    })
}

/// Papers read from a set of digest files, one per arXiv id.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The papers, one per arXiv id.
    pub papers: Vec<Paper>,
    /// Entries that could not be read whole, each naming its file and line.
    pub warnings: Vec<Warning>,
    /// Files that gave papers.
    pub files: usize,
    /// `[^N]:` entries seen.
    pub entries: usize,
    /// Entries that named a paper already read (same arXiv id).
    pub duplicates: usize,
    /// Files and directories that gave no papers and were left out, in input order.
    pub skipped: Vec<Skipped>,
}

/// A file (or directory) that gave no papers and was left out of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// The file or directory.
    pub file: PathBuf,
    /// Why, naming the file (and the line when known). Shared so that reports stay `Clone`.
    #[serde(serialize_with = "as_display")]
    pub error: Arc<Error>,
    /// Plainly not a digest (a README, notes with no digest structure) found in a directory:
    /// worth a note, not a warning, and `--strict` does not fail on it.
    #[serde(skip)]
    pub not_a_digest: bool,
}

impl Skipped {
    fn bad(file: &Path, error: Error) -> Self {
        Skipped {
            file: file.to_path_buf(),
            error: Arc::new(error),
            not_a_digest: false,
        }
    }
}

fn as_display<S: serde::Serializer>(
    error: &Arc<Error>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(error)
}

/// What to do with a file that gives no papers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnBadFile {
    /// Leave it out and report it in `Loaded::skipped`; fail only when no file gives a paper.
    /// The default: one damaged file in a directory of hundreds should not stop the rest.
    #[default]
    Skip,
    /// Fail on the first bad file (in input order), before anything is written.
    Fail,
}

/// The digest files named by a set of inputs, and what was passed over on the way.
#[derive(Debug, Default)]
pub struct Found {
    /// Files to parse, in input order (each directory's files sorted by path, so later
    /// dates come later).
    pub files: Vec<PathBuf>,
    /// Inputs that cannot be read, directories without digests, and Markdown files in
    /// directories that are documentation (README.md), not digests.
    pub skipped: Vec<Skipped>,
    /// The files found by walking a directory rather than named.
    walked: HashSet<PathBuf>,
}

/// Expands directories into their `*.md` digests and errors on the first input that cannot be
/// read or holds none. Explicitly named files are taken as they are. See [`find_digests`].
pub fn digest_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let found = find_digests(inputs);
    match found.skipped.into_iter().find(|s| !s.not_a_digest) {
        Some(skipped) => Err(take_error(skipped.error)),
        None => Ok(found.files),
    }
}

/// Finds the digest files in `inputs`. Directories are walked recursively (`data/` finds
/// `data/digests/`); hidden entries (`.git`, editor files) are passed over, and symlinked
/// directories met while walking are not followed, so a link loop cannot make the walk endless.
/// An input named explicitly is taken as it is, symlink or not.
pub fn find_digests(inputs: &[PathBuf]) -> Found {
    let mut found = Found::default();
    for input in inputs {
        match std::fs::metadata(input) {
            Err(e) => found.skipped.push(Skipped::bad(input, Error::io(input, e))),
            Ok(meta) if !meta.is_dir() => found.files.push(input.clone()),
            Ok(_) => {
                let before = found.files.len();
                walk(input, &mut found);
                if found.files.len() == before {
                    let error = Error::NoDigestFiles {
                        path: input.clone(),
                    };
                    found.skipped.push(Skipped::bad(input, error));
                }
            }
        }
    }
    found
}

/// Adds the `*.md` files under `dir` to `found`, sorted by path, depth first.
fn walk(dir: &Path, found: &mut Found) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return found.skipped.push(Skipped::bad(dir, Error::io(dir, e))),
    };
    let mut paths: Vec<(PathBuf, std::fs::FileType)> = Vec::new();
    for entry in entries {
        match entry {
            // `DirEntry::file_type` does not follow symlinks: a linked directory is a symlink
            // here and is passed over.
            Ok(entry) => match entry.file_type() {
                Ok(kind) => paths.push((entry.path(), kind)),
                Err(e) => found
                    .skipped
                    .push(Skipped::bad(&entry.path(), Error::io(entry.path(), e))),
            },
            Err(e) => found.skipped.push(Skipped::bad(dir, Error::io(dir, e))),
        }
    }
    paths.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, kind) in paths {
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if kind.is_dir() {
            walk(&path, found);
        } else if is_markdown(&path) && (kind.is_file() || kind.is_symlink() && !path.is_dir()) {
            // A link to a file is read; a dangling link is kept so that it is reported as
            // unreadable rather than silently missed. Fifos and devices are not digests.
            if is_readme(&path) {
                found.skipped.push(Skipped {
                    error: Arc::new(Error::NoPapers { path: path.clone() }),
                    file: path,
                    not_a_digest: true,
                });
            } else {
                found.walked.insert(path.clone());
                found.files.push(path);
            }
        }
    }
}

fn is_markdown(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("md"))
}

/// README.md is the documentation of a directory of digests, not a digest.
fn is_readme(path: &Path) -> bool {
    path.file_stem()
        .is_some_and(|s| s.eq_ignore_ascii_case("readme"))
}

/// The error itself when this is its only holder (always, for errors made by this module).
fn take_error(error: Arc<Error>) -> Error {
    Arc::try_unwrap(error).unwrap_or_else(|shared| Error::invalid("inputs", shared.to_string()))
}

/// Parses the files in parallel. Bad files are skipped and reported (see [`load_with`]).
pub fn load(files: &[PathBuf], on_file_done: impl Fn() + Sync) -> Result<Loaded> {
    let found = Found {
        files: files.to_vec(),
        ..Found::default()
    };
    load_with(found, OnBadFile::Skip, on_file_done)
}

/// Parses the files found in parallel, calling `on_file_done` once per file.
///
/// With [`OnBadFile::Skip`], a file that cannot be read or gives no papers is left out and
/// listed in `Loaded::skipped` (its unreadable entries stay in `warnings`); the result is an
/// error (the first bad file's, in input order) only when no file gives a paper. With
/// [`OnBadFile::Fail`], the first bad file is the error. Files that are plainly not digests
/// (README.md, notes) found in a directory are skipped under both.
pub fn load_with(
    found: Found,
    on_bad_file: OnBadFile,
    on_file_done: impl Fn() + Sync,
) -> Result<Loaded> {
    let Found {
        files,
        mut skipped,
        walked,
    } = found;
    if on_bad_file == OnBadFile::Fail
        && let Some(bad) = skipped.iter().position(|s| !s.not_a_digest)
    {
        return Err(take_error(skipped.swap_remove(bad).error));
    }
    let parsed: Vec<_> = files
        .par_iter()
        .map(|path| {
            let result = parse::read_digest(path);
            on_file_done();
            result
        })
        .collect();
    let mut loaded = Loaded {
        skipped,
        ..Loaded::default()
    };
    let mut papers = Vec::new();
    for (path, file) in files.iter().zip(parsed) {
        match file {
            Ok(file) => {
                loaded.files += 1;
                loaded.entries += file.entries;
                loaded.warnings.extend(file.warnings);
                papers.extend(file.papers);
            }
            Err((error, kind, warnings)) => {
                // A file named on purpose that is no digest is a mistake worth a warning; the
                // same file met in a directory is just not ours.
                let not_a_digest = kind == NoPapersKind::NotADigest && walked.contains(path);
                if on_bad_file == OnBadFile::Fail && !not_a_digest {
                    return Err(error);
                }
                loaded.warnings.extend(warnings);
                loaded.skipped.push(Skipped {
                    file: path.clone(),
                    error: Arc::new(error),
                    not_a_digest,
                });
            }
        }
    }
    if papers.is_empty() {
        let first = loaded
            .skipped
            .iter()
            .position(|s| !s.not_a_digest)
            .or((!loaded.skipped.is_empty()).then_some(0));
        return Err(match first {
            Some(at) => take_error(loaded.skipped.swap_remove(at).error),
            None => Error::invalid("inputs", "no digest files given"),
        });
    }
    let read = papers.len();
    loaded.papers = merge_duplicates(Vec::new(), papers);
    loaded.duplicates = read - loaded.papers.len();
    Ok(loaded)
}

/// Folds `incoming` into `existing`, one record per arXiv id, keeping the existing order (a paper's
/// position is its number in the index) and appending new ids. The higher version wins; on equal
/// versions the later record wins. Listings accumulate.
pub(crate) fn merge_duplicates(existing: Vec<Paper>, incoming: Vec<Paper>) -> Vec<Paper> {
    let mut position: HashMap<String, usize> = HashMap::new();
    let mut merged: Vec<Paper> = Vec::with_capacity(existing.len() + incoming.len());
    for paper in existing.into_iter().chain(incoming) {
        match position.get(&paper.arxiv_id) {
            None => {
                position.insert(paper.arxiv_id.clone(), merged.len());
                merged.push(paper);
            }
            Some(&at) => {
                let kept = &mut merged[at];
                let mut listings = std::mem::take(&mut kept.listings);
                for listing in &paper.listings {
                    if !listings.contains(listing) {
                        listings.push(listing.clone());
                    }
                }
                if paper.version.unwrap_or(0) >= kept.version.unwrap_or(0) {
                    *kept = paper;
                }
                kept.listings = listings;
            }
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paper(id: &str, version: Option<u32>, file: &str, listing: &str) -> Paper {
        Paper {
            arxiv_id: id.into(),
            version,
            source_file: file.into(),
            listings: vec![listing.into()],
            ..Paper::default()
        }
    }

    #[test]
    fn higher_version_wins_then_later_file() {
        let merged = merge_duplicates(
            vec![paper("2401.1", Some(2), "a", "cs.CL")],
            vec![
                paper("2401.1", Some(1), "b", "cs.AI"),
                paper("2401.2", None, "b", "cs.AI"),
                paper("2401.2", None, "c", "cs.AI"),
            ],
        );
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].source_file, "a");
        assert_eq!(merged[0].listings, vec!["cs.CL", "cs.AI"]);
        assert_eq!(merged[1].source_file, "c");
        assert_eq!(merged[1].listings, vec!["cs.AI"]);
    }
}
