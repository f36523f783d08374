//! `paperscope topics`, `topic` and `eval topics` on all of `data/`.

use crate::support::*;

fn topics_json(extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--json", "--index", shared_index(), "topics"];
    args.extend_from_slice(extra);
    run_json(&args)
}

/// A copy of the shared index, for tests that write (a refit is a write: a new generation).
fn copy_of_shared_index() -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().expect("tmp");
    let copy = tmp.path().join("index");
    copy_tree(std::path::Path::new(shared_index()), &copy);
    (tmp, copy.to_string_lossy().into_owned())
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("readable") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn topics_are_deterministic_readable_and_balanced() {
    let first = topics_json(&[]);
    let (_tmp, copy) = copy_of_shared_index();
    let second = run_json(&["--json", "--index", &copy, "topics", "--refit"]);
    assert_eq!(
        first, second,
        "a refit of the same papers gives the topics fitted at index time, with their ids"
    );
    let topics = first["topics"].as_array().expect("topics");
    assert!(topics.len() >= 10, "{}", topics.len());
    let assignments = first["assignments"].as_array().expect("assignments");
    assert_eq!(assignments.len(), 8320);
    let outliers = assignments.iter().filter(|a| a["topic"] == -1).count();
    assert!(outliers * 10 < 8320, "{outliers} outliers");
    let format_words = [
        "abstract", "arxiv", "paper", "propose", "提出", "本文", "论文", "我们",
    ];
    for t in topics {
        for key in ["id", "size", "label_en", "label_zh", "representative"] {
            assert!(t.get(key).is_some(), "{key} missing: {t}");
        }
        assert!(
            t["size"].as_u64().unwrap_or(0) * 3 < 8320,
            "a topic holds over a third: {t}"
        );
        let en: Vec<&str> = t["label_en"]
            .as_array()
            .expect("en")
            .iter()
            .filter_map(|w| w.as_str())
            .collect();
        let zh: Vec<&str> = t["label_zh"]
            .as_array()
            .expect("zh")
            .iter()
            .filter_map(|w| w.as_str())
            .collect();
        assert!(
            !en.is_empty() && !zh.is_empty(),
            "both languages labelled: {t}"
        );
        for w in en.iter().chain(&zh).take(10) {
            assert!(!format_words.contains(w), "format word {w} in {t}");
            assert!(w.chars().any(char::is_alphabetic), "not a word: {w}");
        }
        assert_eq!(t["representative"].as_array().map(Vec::len), Some(3));
    }
    let labels: Vec<String> = topics.iter().map(|t| t["label_en"].to_string()).collect();
    assert!(labels.iter().any(|l| l.contains("recommend")), "{labels:?}");
    assert!(
        labels.iter().any(|l| l.contains("reinforcement learning")),
        "{labels:?}"
    );
}

#[test]
fn one_topic_lists_its_papers() {
    topics_json(&[]);
    let topic = run_json(&["--json", "--index", shared_index(), "topic", "0", "-n", "5"]);
    assert_eq!(topic["papers"].as_array().map(Vec::len), Some(5));
    let output = run(&["--index", shared_index(), "topic", "999"]);
    assert_fails_naming(&output, "999");
}

#[test]
fn topic_quality_meets_the_targets() {
    let q = run_json(&["--json", "--index", shared_index(), "eval", "topics"]);
    assert!(q["nmi"].as_f64().unwrap_or(0.0) >= 0.32, "{q}");
    assert!(q["outlier_share"].as_f64().unwrap_or(1.0) < 0.10, "{q}");
    assert!(q["npmi_en"].as_f64().unwrap_or(-1.0) > 0.04, "{q}");
    assert!(q["npmi_zh"].as_f64().unwrap_or(-1.0) > 0.04, "{q}");
    assert!(q["diversity"].as_f64().unwrap_or(0.0) > 0.73, "{q}");
}

#[test]
fn over_time_counts_every_paper() {
    let table = topics_json(&["--over-time"]);
    let total: u64 = table
        .as_object()
        .expect("table")
        .values()
        .flat_map(|months| {
            months
                .as_object()
                .into_iter()
                .flat_map(|m| m.values().filter_map(|v| v.as_u64()))
        })
        .sum();
    assert_eq!(total, 8320);
}

#[test]
fn topics_on_a_missing_index_is_a_clear_error() {
    let output = run(&["--index", "/no/such/index", "topics"]);
    assert_fails_naming(&output, "/no/such/index");
}

#[test]
fn the_coarse_level_merges_topics_into_broader_ones() {
    let fine = topics_json(&[]);
    let coarse = topics_json(&["--level", "coarse"]);
    let (f, c) = (
        fine["topics"].as_array().map_or(0, Vec::len),
        coarse["topics"].as_array().map_or(0, Vec::len),
    );
    assert!(c < f && c >= 2, "{c} coarse topics from {f}");
    for t in coarse["topics"].as_array().expect("topics") {
        assert!(t["size"].as_u64().unwrap_or(0) * 3 < 8320, "{t}");
        assert!(t["label_en"].as_array().is_some_and(|l| !l.is_empty()));
    }
}

#[test]
fn papers_indexed_later_join_existing_topics_without_a_refit() {
    let (_tmp, index) = small_index();
    let before = run_json(&[
        "--json",
        "--index",
        &index,
        "topics",
        "--refit",
        "--topics",
        "3",
        "--min-size",
        "2",
    ]);
    index_one_more(&index);
    let after = run_json(&["--json", "--index", &index, "topics"]);
    assert_eq!(
        before["topics"].as_array().map(|ts| ts
            .iter()
            .map(|t| (t["id"].clone(), t["label_en"].clone()))
            .collect::<Vec<_>>()),
        after["topics"].as_array().map(|ts| ts
            .iter()
            .map(|t| (t["id"].clone(), t["label_en"].clone()))
            .collect::<Vec<_>>()),
        "ids and labels are kept"
    );
    let count = |m: &serde_json::Value| m["assignments"].as_array().map_or(0, Vec::len);
    assert!(count(&after) > count(&before));
    let stats = run_json(&["--json", "--index", &index, "stats"]);
    assert_eq!(count(&after) as u64, stats["papers"].as_u64().unwrap_or(0));
}

#[test]
fn a_refit_is_refused_while_another_writer_holds_the_lock() {
    let (_tmp, index) = small_index();
    let before = run_json(&["--json", "--index", &index, "topics"]);
    let _lock = paperscope::store::WriteLock::acquire(std::path::Path::new(&index)).expect("lock");
    let output = run(&["--index", &index, "topics", "--refit"]);
    assert_fails_naming(&output, &format!("locked by pid {}", std::process::id()));
    assert_eq!(run_json(&["--json", "--index", &index, "topics"]), before);
}

#[test]
fn fitting_options_without_refit_are_refused() {
    let output = run(&["--index", shared_index(), "topics", "--topics", "5"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("--refit"), "{}", stderr(&output));
}
