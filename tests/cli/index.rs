//! `paperscope index` and bad input: every failure is one clear line, a non-zero exit, and the
//! previous index still answers exactly as before.

use std::path::Path;
use std::process::Command;

use crate::support::*;

/// The same query's results, to compare an index before and after a failed write.
fn answers(index: &str) -> serde_json::Value {
    let mut response = run_json(&[
        "--json",
        "--index",
        index,
        "search",
        "-n",
        "20",
        "benchmark unlearning 模型",
    ]);
    response["took_ms"] = serde_json::Value::Null;
    response
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write test file");
    path.to_string_lossy().into_owned()
}

/// Runs a failing `index --strict` against a small index and checks nothing changed. (Without
/// `--strict` the bad file is skipped and the good one indexed: tests/cli/inputs.rs.)
fn assert_failed_write_keeps_index(extra_file: &str, needle: &str) {
    let (tmp, index) = small_index();
    let before = answers(&index);
    let manifest_before = std::fs::read(Path::new(&index).join("manifest.json")).expect("manifest");
    let good = digest("2024-04-03_cs.IR_59fc0cb9.md");
    let output = run(&[
        "index",
        "--strict",
        "--index",
        &index,
        &good.to_string_lossy(),
        extra_file,
    ]);
    assert_fails_naming(&output, needle);
    assert_eq!(answers(&index), before);
    let manifest_after = std::fs::read(Path::new(&index).join("manifest.json")).expect("manifest");
    assert_eq!(manifest_before, manifest_after);
    drop(tmp);
}

#[test]
fn non_utf8_file_is_refused_with_its_name_and_line() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut bytes = std::fs::read(digest("2024-03-06_cs.CL_0a55959e.md")).expect("sample");
    bytes.extend_from_slice(b"\n[^99]: \xff\xfe broken\n");
    let file = write(tmp.path(), "latin1.md", &bytes);
    assert_failed_write_keeps_index(&file, "latin1.md:");
    let output = run(&[
        "index",
        "--index",
        &tmp.path().join("i").to_string_lossy(),
        &file,
    ]);
    assert!(
        stderr(&output).contains("not valid UTF-8"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn file_without_entries_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let file = write(
        tmp.path(),
        "empty.md",
        "# 摘要\n\n| Ref | Title | Summary |\n| --- | --- | --- |\n\n# 详细\n".as_bytes(),
    );
    assert_failed_write_keeps_index(&file, "empty.md");
}

#[test]
fn huge_file_is_refused_without_reading_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("huge.md");
    let file = std::fs::File::create(&path).expect("create");
    file.set_len(paperscope::digest::parse::MAX_FILE_BYTES + 1)
        .expect("sparse file");
    assert_failed_write_keeps_index(&path.to_string_lossy(), "over the 67108864-byte limit");
}

#[test]
fn missing_input_is_refused() {
    assert_failed_write_keeps_index("/no/such/digest.md", "/no/such/digest.md");
}

#[test]
fn truncated_entry_is_skipped_with_a_warning_and_the_rest_indexed() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut text = std::fs::read_to_string(digest("2024-03-06_cs.CL_0a55959e.md")).expect("sample");
    let entries_before = text.lines().filter(|l| l.starts_with("[^")).count();
    let line = text.lines().count() + 2;
    text.push_str("\n[^999]: 被截断的条目\n\n    A Truncated Entry With No URL\n");
    let digests = tmp.path().join("digests");
    std::fs::create_dir(&digests).expect("digests dir");
    link_seed(tmp.path());
    let file = write(&digests, "truncated.md", text.as_bytes());
    let index = tmp.path().join("index");
    let output = run(&[
        "--json",
        "index",
        "--index",
        &index.to_string_lossy(),
        &file,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!("truncated.md:{line}: ")),
        "{}",
        stderr(&output)
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(summary["papers"], entries_before);
}

#[test]
fn search_on_a_missing_index_names_it() {
    let output = run(&["--index", "/no/such/index", "search", "anything"]);
    assert_fails_naming(&output, "/no/such/index");
    assert!(
        !Path::new("/no/such/index").exists(),
        "search must not create an index"
    );
}

#[test]
fn corrupt_manifest_is_a_clear_error_and_index_refuses_to_overwrite() {
    let (_tmp, index) = small_index();
    let manifest = Path::new(&index).join("manifest.json");
    std::fs::write(&manifest, b"{ not json").expect("corrupt it");
    let output = run(&["--index", &index, "search", "anything"]);
    assert_fails_naming(&output, "manifest.json");
    let good = digest("2024-04-03_cs.IR_59fc0cb9.md");
    let output = run(&["index", "--index", &index, &good.to_string_lossy()]);
    assert_fails_naming(&output, "manifest.json");
    assert_eq!(std::fs::read(&manifest).expect("manifest"), b"{ not json");
}

#[test]
fn corrupt_text_index_is_a_clear_error() {
    let (_tmp, index) = small_index();
    let generation = Path::new(&index).join("gen-000001/text");
    for entry in std::fs::read_dir(&generation).expect("text dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            std::fs::write(&path, b"garbage").expect("corrupt meta");
        }
    }
    let output = run(&["--index", &index, "search", "anything"]);
    assert_fails_naming(&output, "gen-000001");
}

#[test]
fn second_writer_is_told_the_index_is_locked() {
    let (_tmp, index) = small_index();
    let before = answers(&index);
    let _lock = paperscope::store::WriteLock::acquire(Path::new(&index)).expect("lock");
    let good = digest("2024-04-03_cs.IR_59fc0cb9.md");
    let output = run(&["index", "--index", &index, &good.to_string_lossy()]);
    assert_fails_naming(&output, &format!("locked by pid {}", std::process::id()));
    assert_eq!(answers(&index), before);
}

#[test]
fn indexing_the_same_files_twice_changes_nothing() {
    let (_tmp, index) = small_index();
    let manifest = std::fs::read(Path::new(&index).join("manifest.json")).expect("manifest");
    let a = digest("2024-03-06_cs.CL_0a55959e.md");
    let b = digest("2023-05-09_cs.CL_8ae271ac.md");
    let summary = run_json(&[
        "--json",
        "index",
        "--index",
        &index,
        &a.to_string_lossy(),
        &b.to_string_lossy(),
    ]);
    assert_eq!(summary["changed"], false);
    assert_eq!(
        std::fs::read(Path::new(&index).join("manifest.json")).expect("manifest"),
        manifest
    );
}

#[test]
fn adding_files_appends_papers_and_swaps_generations() {
    let (_tmp, index) = small_index();
    let before = paper_count(&index);
    let summary = index_one_more(&index);
    assert_eq!(summary["changed"], true);
    let after = paper_count(&index);
    assert!(after > before, "{after} <= {before}");
    let dir = Path::new(&index);
    assert!(dir.join("gen-000002").is_dir());
    assert!(
        dir.join("gen-000001").is_dir(),
        "the previous generation stays for readers that read the old manifest"
    );
    let output = run(&["--index", &index, "topics", "--refit"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        !dir.join("gen-000001").exists(),
        "generations older than the previous one are removed"
    );
}

#[test]
fn first_search_builds_the_default_index_from_data() {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::create_dir(tmp.path().join("data")).expect("data dir");
    #[cfg(unix)]
    std::os::unix::fs::symlink(data_dir(), tmp.path().join("data/digests")).expect("link data");
    // As a fresh checkout has it: the sample's embedding cache beside its digests.
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        repo().join("data/embeddings"),
        tmp.path().join("data/embeddings"),
    )
    .expect("link embeddings");
    let output = paperscope()
        .current_dir(tmp.path())
        .args(["--json", "search", "hallucination benchmark"])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("building it from data/digests"),
        "{}",
        stderr(&output)
    );
    let response: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("json on stdout only");
    assert!(ids(&response)[..10].contains(&"2403.05266".to_string()));
    assert!(tmp.path().join("index/manifest.json").is_file());
}

#[test]
fn an_installed_binary_finds_its_model_from_any_directory() {
    let tmp = tempfile::tempdir().expect("tmp");
    let bin_dir = tmp.path().join("bin");
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&bin_dir).expect("bin dir");
    std::fs::create_dir_all(&elsewhere).expect("work dir");
    let installed = bin_dir.join("paperscope");
    std::fs::copy(env!("CARGO_BIN_EXE_paperscope"), &installed).expect("install");
    let digest = digest("2024-03-06_cs.CL_0a55959e.md");
    let run_installed = |args: &[&str]| {
        Command::new(&installed)
            .current_dir(&elsewhere)
            .env_remove("PAPERSCOPE_INDEX")
            .env_remove("PAPERSCOPE_MODEL")
            .env("PAPERSCOPE_CACHE", "off")
            .args(args)
            .output()
            .expect("installed binary runs")
    };
    let built = run_installed(&["index", "--index", "idx", &digest.to_string_lossy()]);
    assert!(built.status.success(), "{}", stderr(&built));
    let found = run_installed(&["--json", "--index", "idx", "search", "hallucination"]);
    assert!(found.status.success(), "{}", stderr(&found));
    let response: serde_json::Value = serde_json::from_slice(&found.stdout).expect("json");
    assert_eq!(
        response["mode"], "hybrid",
        "the vectors were used: {response}"
    );
    assert!(!ids(&response).is_empty());
}

#[test]
fn completions_are_generated_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let output = run(&["completions", shell]);
        assert!(output.status.success(), "{shell}: {}", stderr(&output));
        let script = stdout(&output);
        for word in ["paperscope", "search", "related", "since"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
}
