//! Shared by the CLI tests: what both test binaries share (`tests/support`), and helpers for
//! the CLI's own questions (searches, small indexes of their own).

use std::process::Output;

pub use crate::shared::*;

/// Expects failure with a one-line error that mentions `needle`.
pub fn assert_fails_naming(output: &Output, needle: &str) {
    assert!(
        !output.status.success(),
        "expected failure, got success: {}",
        stdout(output)
    );
    let err = stderr(output);
    let error_lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(error_lines.len(), 1, "one error line expected: {err}");
    assert!(
        error_lines[0].contains(needle),
        "error should name {needle}: {err}"
    );
}

/// `search` on the shared index with `--json`, expecting success.
pub fn search(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json", "--index", shared_index(), "search"];
    all.extend_from_slice(args);
    run_json(&all)
}

/// One paper of the shared index, from `show --json`.
pub fn show(id: &str) -> serde_json::Value {
    run_json(&["--json", "--index", shared_index(), "show", id])
}

/// A search result's titles and Chinese summary, lower-cased, to check what it is about.
pub fn text_of(result: &serde_json::Value) -> String {
    format!(
        "{} {} {}",
        result["title_en"], result["title_zh"], result["summary_zh"]
    )
    .to_lowercase()
}

/// A small index of two digests in a fresh temporary directory.
pub fn small_index() -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("index").to_string_lossy().into_owned();
    let a = digest("2024-03-06_cs.CL_0a55959e.md");
    let b = digest("2023-05-09_cs.CL_8ae271ac.md");
    let output = run(&[
        "index",
        "--index",
        &dir,
        &a.to_string_lossy(),
        &b.to_string_lossy(),
    ]);
    assert!(
        output.status.success(),
        "building a small index: {}",
        stderr(&output)
    );
    (tmp, dir)
}

/// Papers in an index, from `stats`.
pub fn paper_count(index: &str) -> u64 {
    run_json(&["--json", "--index", index, "stats"])["papers"]
        .as_u64()
        .unwrap_or(0)
}

/// Indexes one more sample digest into `index`; returns the `index --json` summary.
pub fn index_one_more(index: &str) -> serde_json::Value {
    let more = digest("2024-04-03_cs.IR_59fc0cb9.md");
    run_json(&["--json", "index", "--index", index, &more.to_string_lossy()])
}

/// Links `dir/embeddings` to the seed of `data/` (`data/embeddings`), so that digests written
/// into `dir/digests/` take the vectors of data/'s texts from it, as `data/digests` does: a
/// test of parsing or of the write path then embeds only the texts it made up, not the ~250 of
/// a copied digest (~15 CPU-s each on two cores).
pub fn link_seed(dir: &std::path::Path) {
    std::os::unix::fs::symlink(repo().join("data/embeddings"), dir.join("embeddings"))
        .expect("link the seed");
}
