//! Shared by the CLI tests: the real binary, the sample data, and one index of all of `data/`
//! built once per run of the test binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn data_dir() -> PathBuf {
    repo().join("data/digests")
}

pub fn digest(name: &str) -> PathBuf {
    data_dir().join(name)
}

/// The binary under test, with no index from the environment.
pub fn paperscope() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_paperscope"));
    command.env_remove("PAPERSCOPE_INDEX");
    command
}

pub fn run(args: &[&str]) -> Output {
    paperscope().args(args).output().expect("binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs and expects success, returning stdout parsed as JSON.
pub fn run_json(args: &[&str]) -> serde_json::Value {
    let output = run(args);
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        stderr(&output)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is one JSON document")
}

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

/// An index of every digest in `data/`, built by the binary on first use and then shared by
/// every test of this run. Tests must not index into it or damage it; the only write is the
/// topic model (`topics`, `digest --by-topic`), which is deterministic and saved atomically.
pub fn shared_index() -> &'static str {
    static INDEX: OnceLock<String> = OnceLock::new();
    INDEX.get_or_init(|| {
        let exe = Path::new(env!("CARGO_BIN_EXE_paperscope"));
        let name = exe.file_name().map(|n| n.to_string_lossy().into_owned());
        let test_binary = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .or(name)
            .unwrap_or_default();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("index-{test_binary}"));
        let _ = std::fs::remove_dir_all(&dir);
        let dir = dir.to_string_lossy().into_owned();
        let data = data_dir();
        let output = run(&["index", "--index", &dir, &data.to_string_lossy()]);
        assert!(
            output.status.success(),
            "building the shared index: {}",
            stderr(&output)
        );
        dir
    })
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

/// Result ids of a JSON search.
pub fn ids(response: &serde_json::Value) -> Vec<String> {
    response["results"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter_map(|r| r["arxiv_id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
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
