//! `paperscope check`: every file of the live generation verified in full, and what is wrong
//! with it, as a report that never fails.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Store;
use super::manifest::{
    Depth, MANIFEST, Manifest, TEXT_DIR, TOPICS_FILE, read_manifest, verify_files,
};
use crate::error::{Error, recovery_command};

/// One thing `check` found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The damaged file (or directory).
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

/// What [`check`] found. In JSON: `index`, `healthy`, `format_version`, `generation`, `papers`,
/// `files_checked`, `problems` (`path`, `reason`), `notes`, and `recover` (the command that
/// recovers, when something is wrong).
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The index directory.
    pub index: PathBuf,
    /// Whether nothing is wrong.
    pub healthy: bool,
    /// The manifest's format, when it could be read.
    pub format_version: Option<u32>,
    /// The live generation, when the manifest could be read.
    pub generation: Option<u64>,
    /// Papers the manifest records, when it could be read.
    pub papers: Option<usize>,
    /// Files whose size and CRC-32 were compared with the manifest.
    pub files_checked: usize,
    /// Everything found wrong, one per file and reason.
    pub problems: Vec<Problem>,
    /// What could not be checked, and why.
    pub notes: Vec<String>,
    /// The one command that recovers, when something is wrong.
    pub recover: Option<String>,
}

/// Verifies the whole index in `dir`: the manifest, every recorded file's size and CRC-32,
/// Tantivy's own checksums, every stored paper, the vectors and the topics, and that they all
/// agree on the papers. Never fails: what cannot be read is a problem of the report.
pub fn check(dir: &Path) -> CheckReport {
    let mut report = CheckReport {
        index: dir.to_path_buf(),
        healthy: false,
        format_version: None,
        generation: None,
        papers: None,
        files_checked: 0,
        problems: Vec::new(),
        notes: Vec::new(),
        recover: None,
    };
    check_into(dir, &mut report);
    report.problems.dedup();
    report.healthy = report.problems.is_empty();
    if !report.healthy {
        report.recover = Some(recovery_command(dir));
    }
    report
}

fn check_into(dir: &Path, report: &mut CheckReport) {
    let problem = |report: &mut CheckReport, error: Error| {
        let (path, reason) = match error {
            Error::IndexDamaged { path, reason, .. } | Error::IndexCorrupt { path, reason } => {
                (path, reason)
            }
            Error::Io { path, source, .. } => (path, source.to_string()),
            other => (dir.to_path_buf(), other.to_string()),
        };
        report.problems.push(Problem { path, reason });
    };
    if !Store::exists(dir) {
        problem(
            report,
            Error::damaged(dir, dir.join(MANIFEST), "missing: this is not an index"),
        );
        return;
    }
    let manifest = match read_manifest(dir) {
        Ok(m) => m,
        Err(e) => return problem(report, e),
    };
    report.format_version = Some(manifest.format_version);
    report.generation = Some(manifest.generation);
    report.papers = Some(manifest.paper_count);
    let generation = dir.join(&manifest.generation_dir);
    if !manifest.vectors_complete() {
        report.notes.push(format!(
            "meaning covers {} of {} papers: the rest are still to be embedded (the next write \
             to the index, or a server on it, embeds them)",
            crate::text::thousands(manifest.papers_with_vectors()),
            crate::text::thousands(manifest.paper_count)
        ));
    }
    if manifest.files.is_empty() {
        report.notes.push(format!(
            "format {} records no checksums: files are checked from the next write on",
            manifest.format_version
        ));
    }
    for record in &manifest.files {
        let single = Manifest {
            files: vec![record.clone()],
            ..manifest.clone()
        };
        report.files_checked += 1;
        if let Err(e) = verify_files(dir, &single, "", Depth::Full) {
            problem(report, e);
        }
    }
    let text_dir = generation.join(TEXT_DIR);
    match crate::fulltext::damaged_files(&text_dir) {
        Ok(damaged) => {
            for path in damaged {
                problem(
                    report,
                    Error::damaged(dir, path, "Tantivy's checksum does not match"),
                );
            }
        }
        Err(e) => problem(report, e),
    }
    let store = match Store::open(dir) {
        Ok(store) => store,
        Err(e) => return problem(report, e),
    };
    let papers = match store.papers() {
        Ok(papers) => Some(papers),
        Err(e) => {
            problem(report, e);
            None
        }
    };
    if let Err(e) = store.load_vectors(Depth::Full) {
        problem(report, e);
    }
    match store.topics() {
        Ok(Some(model)) => {
            if let Some(papers) = &papers {
                let path = generation.join(TOPICS_FILE);
                let ids: HashSet<&str> = papers.iter().map(|p| p.arxiv_id.as_str()).collect();
                let stray = model
                    .assignments
                    .iter()
                    .map(|a| a.arxiv_id.as_str())
                    .chain(
                        model
                            .topics
                            .iter()
                            .flat_map(|t| t.representative.iter().map(String::as_str)),
                    )
                    .find(|id| !ids.contains(id));
                if let Some(id) = stray {
                    problem(
                        report,
                        Error::damaged(
                            dir,
                            path,
                            format!("names paper {id}, which is not in the index"),
                        ),
                    );
                }
            }
        }
        Ok(None) => report.notes.push("the index has no topic model".into()),
        Err(e) => problem(report, e),
    }
    match store.word_vectors() {
        Ok(Some(_)) => {}
        Ok(None) => report
            .notes
            .push("the index has no word vectors: `related` makes them on first use".into()),
        Err(e) => problem(report, e),
    }
}
