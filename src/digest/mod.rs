//! The digest format: reading Markdown digests (`parse`) and, across files, gathering one record
//! per paper; writing papers back as Markdown (`render`), one HTML page (`html`) or JSON.

mod html;
pub mod parse;
pub mod render;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::paper::Paper;
pub use parse::{ParsedFile, Warning, parse_file, parse_str};
pub(crate) use render::{RelatedOf, Section};

/// How a written digest is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The input's Markdown format (reads back with `parse`).
    Markdown,
    /// One self-contained HTML page.
    Html,
    /// `{"sections": [{"title", "papers": [paper fields + "related"]}]}`.
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

/// The sections written in `format`, each entry followed by its related papers.
pub(crate) fn write(sections: &[Section], related: &RelatedOf, format: Format) -> Result<String> {
    Ok(match format {
        Format::Markdown => render::render_sections(sections, related),
        Format::Html => html::render_html(sections, related),
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
            serde_json::to_string_pretty(&serde_json::json!({ "sections": json }))
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
    /// Files read.
    pub files: usize,
    /// `[^N]:` entries seen.
    pub entries: usize,
    /// Entries that named a paper already read (same arXiv id).
    pub duplicates: usize,
}

/// Expands directories into their `*.md` digests (sorted, so later dates come later; README.md is
/// documentation, not a digest). Explicitly named files are taken as they are.
pub fn digest_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|e| Error::io(input, e))?;
        if !meta.is_dir() {
            files.push(input.clone());
            continue;
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir(input)
            .map_err(|e| Error::io(input, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| is_digest_name(p))
            .collect();
        if found.is_empty() {
            return Err(Error::NoDigestFiles {
                path: input.clone(),
            });
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

fn is_digest_name(path: &Path) -> bool {
    let is_md = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("md"));
    let is_readme = path
        .file_stem()
        .is_some_and(|s| s.eq_ignore_ascii_case("readme"));
    is_md && !is_readme && path.is_file()
}

/// Parses the files in parallel; the first bad file (in input order) is the error.
pub fn load(files: &[PathBuf], on_file_done: impl Fn() + Sync) -> Result<Loaded> {
    let parsed: Vec<Result<ParsedFile>> = files
        .par_iter()
        .map(|path| {
            let result = parse_file(path);
            on_file_done();
            result
        })
        .collect();
    let mut loaded = Loaded {
        files: files.len(),
        ..Loaded::default()
    };
    let mut papers = Vec::new();
    for file in parsed {
        let file = file?;
        loaded.entries += file.entries;
        loaded.warnings.extend(file.warnings);
        papers.extend(file.papers);
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
