//! Writes that fail inside the build (a real build, stopped by `PAPERSCOPE_FAIL_AT` where a
//! full disk or a crash could stop it): the old index answers exactly as before, and the next
//! write succeeds and cleans up.

use std::path::Path;

use crate::support::*;

/// What the index answers, to compare before and after a failed write.
fn answers(index: &str) -> serde_json::Value {
    let stats = run_json(&["--json", "--index", index, "stats"]);
    let hybrid = run_json(&[
        "--json",
        "--index",
        index,
        "search",
        "-n",
        "5",
        "language model",
    ]);
    let topics = run_json(&["--json", "--index", index, "topics"]);
    serde_json::json!({
        "papers": stats["papers"],
        "hybrid": ids(&hybrid),
        "mode": hybrid["mode"],
        "topics": topics["topics"],
    })
}

fn fail_at(point: &str, args: &[&str]) -> std::process::Output {
    paperscope()
        .env("PAPERSCOPE_FAIL_AT", point)
        .args(args)
        .output()
        .expect("binary runs")
}

fn leftovers(index: &str) -> Vec<String> {
    std::fs::read_dir(index)
        .expect("index dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[test]
fn an_index_run_failing_at_any_stage_keeps_the_old_index() {
    let more = digest("2024-04-03_cs.IR_59fc0cb9.md");
    for point in [
        "staging",
        "embedding",
        "text",
        "vectors",
        "topics",
        "rename",
    ] {
        let (_tmp, index) = small_index();
        let before = answers(&index);
        let output = fail_at(
            point,
            &["index", "--index", &index, &more.to_string_lossy()],
        );
        assert_fails_naming(&output, &format!("injected failure at `{point}`"));
        assert_eq!(
            answers(&index),
            before,
            "failure at {point} changed the answers"
        );
        let check = run(&["--index", &index, "check"]);
        assert!(check.status.success(), "{point}: {}", stdout(&check));
        let retry = run_json(&[
            "--json",
            "index",
            "--index",
            &index,
            &more.to_string_lossy(),
        ]);
        assert_eq!(retry["changed"], true, "{point}: the retry writes");
        assert!(
            paper_count(&index) > before["papers"].as_u64().unwrap_or(0),
            "{point}: the retry adds the papers"
        );
        assert!(
            leftovers(&index).is_empty(),
            "{point}: {:?}",
            leftovers(&index)
        );
        let generations = std::fs::read_dir(&index)
            .expect("dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("gen-"))
            })
            .count();
        assert!(generations <= 2, "{point}: {generations} generations kept");
    }
}

#[test]
fn a_refit_failing_before_its_commit_keeps_the_old_topics() {
    let (_tmp, index) = small_index();
    let before = answers(&index);
    let output = fail_at(
        "topics",
        &["--index", &index, "topics", "--refit", "--topics", "3"],
    );
    assert_fails_naming(&output, "injected failure at `topics`");
    assert_eq!(answers(&index), before);
    assert!(Path::new(&index).join("manifest.json").is_file());
}
