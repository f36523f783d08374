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
    // settings were chosen, never tuned on. Measured 2026-11-26 with e5 (nDCG@10, bm25 / vector /
    // hybrid): all 0.669 / 0.580 / 0.704, en 0.837 / 0.730 / 0.870, zh 0.762 / 0.600 / 0.782,
    // q 0.407 / 0.410 / 0.461: hybrid above both sides in every group.
    let heldout = ndcg_by_method("tests/queries_heldout.tsv");
    for group in [None, Some("en"), Some("zh"), Some("q")] {
        let (bm25, vector, hybrid) = (
            heldout("bm25", group),
            heldout("vector", group),
            heldout("hybrid", group),
        );
        assert!(
            hybrid >= bm25.max(vector) - 1e-9,
            "held out {group:?}: hybrid {hybrid} < bm25 {bm25} or vector {vector}"
        );
    }
    assert!(
        heldout("rrf", None) < heldout("hybrid", None),
        "RRF is reported and loses on the held-out queries, as measured"
    );

    // Paraphrases (needs described without the papers' words, held out): BM25 0.110, vector
    // 0.148, hybrid 0.160.
    let paraphrase = ndcg_by_method("tests/queries_paraphrase.tsv");
    let hybrid = paraphrase("hybrid", None);
    assert!(hybrid >= 0.15, "paraphrase hybrid {hybrid}");
    assert!(hybrid >= paraphrase("bm25", None).max(paraphrase("vector", None)) - 1e-9);

    // The queries BM25's settings were tuned on: e5's hybrid is at BM25's level overall (0.792
    // against 0.793) and in Chinese and questions, and 0.016 below it on the English keyword
    // queries (0.893 against 0.909), where BM25 was tuned. Checked as measured.
    let tuned = ndcg_by_method("tests/queries.tsv");
    for (group, allowed) in [
        (None, 0.005),
        (Some("en"), 0.02),
        (Some("zh"), 0.0),
        (Some("q"), 0.0),
    ] {
        let best_side = tuned("bm25", group).max(tuned("vector", group));
        assert!(
            tuned("hybrid", group) >= best_side - allowed - 1e-9,
            "tuned {group:?}: hybrid {} < {best_side} - {allowed}",
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
        "8",
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
        ) >= 4,
        "{response}"
    );
}

#[test]
fn a_question_is_ranked_again_by_the_meaning_of_its_first_results() {
    let question = "how can a language model forget private training data";
    let search = |extra: &[&str]| {
        let mut args = vec!["--json", "--index", shared_index(), "search", "-n", "10"];
        args.extend_from_slice(extra);
        args.push(question);
        run_json(&args)
    };
    let with = search(&[]);
    let without = search(&["--no-feedback"]);
    let results = |r: &serde_json::Value| r["results"].as_array().cloned().expect("results");
    assert!(
        results(&with)
            .iter()
            .all(|r| r["why"]["feedback_cosine"].is_number()),
        "{with}"
    );
    assert!(
        results(&without)
            .iter()
            .all(|r| r["why"].get("feedback_cosine").is_none()),
        "{without}"
    );
    // Papers only the feedback brings are said to be (BM25 and vector ranks both absent).
    assert!(results(&with).iter().all(|r| {
        let why = &r["why"];
        why["bm25_rank"].is_number()
            || why["vector_rank"].is_number()
            || why["feedback_rank"].is_number()
    }));
    // A named topic is answered by the first stage alone.
    let topic = run_json(&[
        "--json",
        "--index",
        shared_index(),
        "search",
        "LLM unlearning",
    ]);
    assert!(
        results(&topic)
            .iter()
            .all(|r| r["why"].get("feedback_cosine").is_none()),
        "{topic}"
    );
    let text = run(&["--index", shared_index(), "search", "--explain", question]);
    assert!(stdout(&text).contains("feedback cos"), "{}", stdout(&text));
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
