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
    /// nDCG@10 of each method (`bm25`, `vector`, `hybrid`, `rrf`, ...) of `eval search` on
    /// one judged file, overall (`None`) or for one query group.
    fn ndcg_by_method(queries: &str) -> impl Fn(&str, Option<&str>) -> f64 {
        let queries = repo().join(queries);
        let reports = run_json(&[
            "--json",
            "--index",
            shared_index(),
            "eval",
            "search",
            "--queries",
            &queries.to_string_lossy(),
        ]);
        move |method: &str, group: Option<&str>| {
            let report = reports
                .as_array()
                .and_then(|rs| rs.iter().find(|r| r["method"] == method))
                .unwrap_or_else(|| panic!("no {method} report: {reports}"));
            match group {
                None => report["overall"]["ndcg10"].as_f64().unwrap_or(0.0),
                Some(g) => report["by_group"][g]["ndcg10"].as_f64().unwrap_or(0.0),
            }
        }
    }

    // The claim that matters is on tests/queries_heldout.tsv: 24 queries judged after the fusion
    // settings were chosen, from pools of bm25, vector and hybrid top 20, and never tuned on.
    // Measured 2026-11-26 (nDCG@10, bm25 / vector / hybrid): all 0.669 / 0.520 / 0.677,
    // en 0.837 / 0.581 / 0.835, zh 0.762 / 0.622 / 0.774, q 0.407 / 0.355 / 0.422.
    // So hybrid beats both sides overall and beats the vector side in every group, but is NOT
    // above BM25 on the English keyword queries: 0.002 below it (en-h05 0.85 against 0.89). That
    // group is checked as "within 0.005 of BM25", which is what was measured, not ">=".
    let heldout = ndcg_by_method("tests/queries_heldout.tsv");
    const EN_BELOW_BM25: f64 = 0.005;
    for group in [None, Some("en"), Some("zh"), Some("q")] {
        let (bm25, vector, hybrid) = (
            heldout("bm25", group),
            heldout("vector", group),
            heldout("hybrid", group),
        );
        assert!(
            hybrid >= vector - 1e-9,
            "held out {group:?}: hybrid {hybrid} < vector {vector}"
        );
        let allowed = if group == Some("en") {
            EN_BELOW_BM25
        } else {
            0.0
        };
        assert!(
            hybrid >= bm25 - allowed - 1e-9,
            "held out {group:?}: hybrid {hybrid} < bm25 {bm25} - {allowed}"
        );
    }
    assert!(
        heldout("rrf", None) < heldout("hybrid", None),
        "RRF is reported and loses on the held-out queries too, as measured"
    );

    // The queries the fusion was tuned on (so this part shows no more than the tuning itself):
    // hybrid >= each side overall and in every group.
    let tuned = ndcg_by_method("tests/queries.tsv");
    for group in [None, Some("en"), Some("zh"), Some("q")] {
        let best_side = tuned("bm25", group).max(tuned("vector", group));
        assert!(
            tuned("hybrid", group) >= best_side - 1e-9,
            "tuned {group:?}: hybrid {} < {best_side}",
            tuned("hybrid", group)
        );
    }
    assert!(
        tuned("rrf", None) < tuned("hybrid", None),
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
