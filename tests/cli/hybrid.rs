//! Hybrid search (the default), `related`, and the evaluation harness, on all of `data/`.

use std::path::Path;

use crate::support::*;

fn count_mentioning(results: &[serde_json::Value], words: &[&str]) -> usize {
    results
        .iter()
        .filter(|r| words.iter().any(|w| text_of(r).contains(w)))
        .count()
}

#[test]
fn hybrid_is_the_default_and_explains_each_result() {
    let response = search(&["hallucination benchmark"]);
    assert_eq!(response["mode"], "hybrid");
    let results = response["results"].as_array().expect("results");
    assert_eq!(
        count_mentioning(&results[..5], &["hallucinat", "幻觉"]),
        5,
        "{results:?}"
    );
    assert!(ids(&response)[..10].contains(&"2403.05266".to_string()));
    for r in results {
        let why = &r["why"];
        for key in ["bm25_rank", "bm25_score", "vector_rank", "cosine", "fused"] {
            assert!(why.get(key).is_some(), "why lacks {key}: {why}");
        }
        assert!(
            why["cosine"].is_number(),
            "every fused candidate has its cosine: {why}"
        );
    }
    let output = run(&[
        "--index",
        shared_index(),
        "search",
        "--explain",
        "-n",
        "2",
        "hallucination benchmark",
    ]);
    assert!(
        stdout(&output).contains("why: bm25 #"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn a_chinese_question_finds_papers_on_reducing_hallucination() {
    let response = search(&["-n", "5", "如何减少大模型的幻觉"]);
    let results = response["results"].as_array().expect("results");
    assert!(
        count_mentioning(results, &["hallucinat", "幻觉"]) >= 4,
        "{results:?}"
    );
    assert!(
        count_mentioning(
            results,
            &["mitigat", "reduc", "减少", "缓解", "减轻", "降低"]
        ) >= 3,
        "{results:?}"
    );
}

#[test]
fn an_english_question_without_title_words_finds_unlearning_papers() {
    let response = search(&[
        "-n",
        "5",
        "how can a language model forget private training data",
    ]);
    let results = response["results"].as_array().expect("results");
    assert!(
        count_mentioning(results, &["unlearn", "遗忘", "forget"]) >= 3,
        "{results:?}"
    );
}

#[test]
fn hybrid_matches_or_beats_each_side_on_the_judged_queries() {
    let queries = repo().join("tests/queries.tsv");
    let reports = run_json(&[
        "--json",
        "--index",
        shared_index(),
        "eval",
        "search",
        "--queries",
        &queries.to_string_lossy(),
    ]);
    let by_name = |name: &str| {
        reports
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["method"] == name))
            .cloned()
            .unwrap_or_default()
    };
    let (bm25, vector, hybrid) = (by_name("bm25"), by_name("vector"), by_name("hybrid"));
    let ndcg = |r: &serde_json::Value, group: Option<&str>| match group {
        None => r["overall"]["ndcg10"].as_f64().unwrap_or(0.0),
        Some(g) => r["by_group"][g]["ndcg10"].as_f64().unwrap_or(0.0),
    };
    for group in [None, Some("en"), Some("zh"), Some("q")] {
        let best_side = ndcg(&bm25, group).max(ndcg(&vector, group));
        assert!(
            ndcg(&hybrid, group) >= best_side - 1e-9,
            "{group:?}: hybrid {} < {best_side}",
            ndcg(&hybrid, group)
        );
    }
    assert!(
        ndcg(&by_name("rrf"), None) < ndcg(&hybrid, None),
        "RRF is reported and loses, as measured"
    );
}

#[test]
fn related_lists_similar_papers_never_the_paper_itself() {
    let response = run_json(&["--json", "--index", shared_index(), "related", "2403.05266"]);
    let results = response["results"].as_array().expect("results");
    assert_eq!(results.len(), 10);
    assert!(!ids(&response).contains(&"2403.05266".to_string()));
    let on_topic = count_mentioning(
        results,
        &[
            "hallucinat",
            "factual",
            "benchmark",
            "evaluat",
            "verif",
            "citation",
            "幻觉",
            "基准",
            "评估",
            "事实",
        ],
    );
    assert!(
        on_topic >= 7,
        "{on_topic} of 10 on hallucination/factuality/benchmarks: {results:?}"
    );
}

#[test]
fn related_accepts_several_ids_and_free_text() {
    let response = run_json(&[
        "--json",
        "--index",
        shared_index(),
        "related",
        "-n",
        "5",
        "2404.02115",
        "2401.15351",
    ]);
    let found = ids(&response);
    assert!(
        !found.contains(&"2404.02115".to_string()) && !found.contains(&"2401.15351".to_string())
    );
    assert!(
        count_mentioning(
            response["results"].as_array().expect("results"),
            &["topic", "主题"]
        ) >= 4
    );
    let response = run_json(&[
        "--json",
        "--index",
        shared_index(),
        "related",
        "-n",
        "5",
        "--text",
        "Large language models memorize parts of their training data, including private and copyrighted \
         text. We propose a method that makes a trained model forget a chosen subset of its training \
         examples without retraining from scratch, and we measure how much of the removed data can \
         still be extracted.",
    ]);
    assert!(
        count_mentioning(
            response["results"].as_array().expect("results"),
            &["unlearn", "遗忘"]
        ) >= 3,
        "{response}"
    );
}

#[test]
fn bad_arguments_are_clear_errors() {
    let output = run(&["--index", shared_index(), "related", "9999.00001"]);
    assert_fails_naming(&output, "9999.00001");
    let output = run(&["--index", shared_index(), "search", "--alpha", "1.5", "x"]);
    assert_fails_naming(&output, "--alpha");
    let output = run(&["--index", shared_index(), "related"]);
    assert_fails_naming(&output, "--text");
}

#[test]
fn hybrid_answers_with_bm25_when_the_vectors_are_damaged() {
    let (_tmp, index) = small_index();
    let vectors = Path::new(&index).join("gen-000001/vectors/vectors.json");
    std::fs::write(&vectors, b"{").expect("damage");
    let output = run(&["--json", "--index", &index, "search", "unlearning"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("warning:") && stderr(&output).contains("vectors.json"),
        "{}",
        stderr(&output)
    );
    let response: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(response["mode"], "bm25");
}
