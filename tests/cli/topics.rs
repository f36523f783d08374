//! `paperscope topics`, `topic` and `eval topics` on all of `data/`.

use crate::support::*;

fn topics_json(extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--json", "--index", shared_index(), "topics"];
    args.extend_from_slice(extra);
    run_json(&args)
}

#[test]
fn topics_are_deterministic_readable_and_balanced() {
    let first = topics_json(&["--refit"]);
    let second = topics_json(&["--refit"]);
    assert_eq!(first, second, "the same input must give the same topics");
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
