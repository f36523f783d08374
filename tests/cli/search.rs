//! `paperscope search`, `show` and `stats` on an index of all of `data/`.

use crate::support::*;

fn is_about_hallucination(result: &serde_json::Value) -> bool {
    let text = text_of(result);
    text.contains("hallucinat") || text.contains("幻觉")
}

fn assert_hallucination_results(response: &serde_json::Value) {
    let results = response["results"].as_array().expect("results array");
    for result in &results[..5] {
        assert!(
            is_about_hallucination(result),
            "not about hallucination: {result}"
        );
    }
    let ids = ids(response);
    assert!(
        ids[..10].contains(&"2403.05266".to_string()),
        "ERBench not in top 10: {ids:?}"
    );
}

#[test]
fn english_query_finds_hallucination_benchmarks() {
    assert_hallucination_results(&search(&["hallucination benchmark"]));
}

#[test]
fn chinese_query_finds_hallucination_benchmarks() {
    assert_hallucination_results(&search(&["幻觉 基准"]));
}

#[test]
fn ginopic_is_in_the_top_three() {
    let ids = ids(&search(&["topic modeling graph neural network"]));
    assert!(ids[..3].contains(&"2404.02115".to_string()), "{ids:?}");
}

#[test]
fn json_output_has_the_documented_fields() {
    let response = search(&["-n", "3", "LLM unlearning"]);
    for key in ["query", "mode", "took_ms", "total", "results"] {
        assert!(response.get(key).is_some(), "missing {key}");
    }
    assert_eq!(response["query"], "LLM unlearning");
    let results = response["results"].as_array().expect("results");
    assert_eq!(results.len(), 3);
    for (i, r) in results.iter().enumerate() {
        for key in [
            "rank",
            "arxiv_id",
            "version",
            "title_en",
            "title_zh",
            "summary_zh",
            "category",
            "score",
            "snippet",
        ] {
            assert!(r.get(key).is_some(), "result missing {key}: {r}");
        }
        assert_eq!(r["rank"], i + 1);
    }
    let scores: Vec<f64> = results.iter().filter_map(|r| r["score"].as_f64()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
}

#[test]
fn latin_words_inside_chinese_text_match_case_insensitively() {
    // `LLMs` in Chinese summaries is indexed as `llms`; the query in any case finds it.
    let upper = ids(&search(&["--mode", "bm25", "LLMs 幻觉"]));
    let lower = ids(&search(&["--mode", "bm25", "llms 幻觉"]));
    assert_eq!(upper, lower);
    assert!(!upper.is_empty());
}

#[test]
fn category_and_date_filters_restrict_results() {
    let response = search(&[
        "-n",
        "20",
        "--category",
        "cs.IR",
        "--since",
        "2024-03",
        "--until",
        "2024-04",
        "recommendation",
    ]);
    let results = response["results"].as_array().expect("results");
    assert!(!results.is_empty());
    for r in results {
        let id = r["arxiv_id"].as_str().expect("id");
        assert!(
            ("2403".."2405").contains(&&id[..4]),
            "{id} outside 2024-03..04"
        );
        let shown = show(id);
        let categories = format!("{} {}", shown["category"], shown["listings"]);
        assert!(categories.contains("cs.IR"), "{id}: {categories}");
    }
}

#[test]
fn phrases_must_match_and_exclusions_must_not() {
    let response = search(&["-n", "20", "\"reinforcement learning\" -robot"]);
    let results = response["results"].as_array().expect("results");
    assert!(!results.is_empty());
    for r in results {
        let id = r["arxiv_id"].as_str().expect("id");
        let shown = show(id);
        let text = format!(
            "{} {} {} {}",
            shown["title_en"], shown["abstract_en"], shown["title_zh"], shown["abstract_zh"]
        )
        .to_lowercase();
        assert!(
            text.contains("reinforcement learning") || text.contains("强化学习"),
            "{id}"
        );
        assert!(!text.contains("robot"), "{id} mentions the excluded word");
    }
}

#[test]
fn terminal_output_lists_rank_id_titles_and_snippet() {
    let output = run(&[
        "--index",
        shared_index(),
        "search",
        "-n",
        "2",
        "hallucination",
        "benchmark",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("  1. "), "{text}");
    assert!(
        text.contains("[hallucination]") || text.contains("[Hallucination]"),
        "{text}"
    );
    assert!(text.contains("幻觉"), "{text}");
}

#[test]
fn show_prints_one_paper_in_full() {
    let paper = show("2404.02115v1");
    assert_eq!(paper["arxiv_id"], "2404.02115");
    assert_eq!(
        paper["title_en"],
        "GINopic: Topic Modeling with Graph Isomorphism Network"
    );
    let output = run(&["--index", shared_index(), "show", "2404.02115"]);
    assert!(stdout(&output).contains("GINopic：利用图同构网络进行主题建模"));
}

#[test]
fn stats_count_every_paper() {
    let stats = run_json(&["--json", "--index", shared_index(), "stats"]);
    assert_eq!(stats["papers"], 8320);
    let by_month: u64 = stats["by_month"]
        .as_object()
        .expect("by_month")
        .values()
        .filter_map(|v| v.as_u64())
        .sum();
    assert_eq!(by_month, 8320);
    assert!(stats["by_category"]["cs.CL"].as_u64().unwrap_or(0) > 100);
}

#[test]
fn unknown_id_is_a_clear_error() {
    let output = run(&["--index", shared_index(), "show", "9999.99999"]);
    assert_fails_naming(&output, "9999.99999");
}

#[test]
fn empty_query_is_a_clear_error() {
    for query in ["", "   ", "-excluded-only"] {
        // `--` lets a query start with `-`, as for any command-line tool.
        let output = run(&["--index", shared_index(), "search", "--", query]);
        assert_fails_naming(&output, "query");
    }
}

#[test]
fn bad_filter_values_are_clear_errors() {
    let output = run(&["--index", shared_index(), "search", "--since", "March", "x"]);
    assert_fails_naming(&output, "--since");
    let output = run(&[
        "--index",
        shared_index(),
        "search",
        "--since",
        "2024-05",
        "--until",
        "2024-04",
        "x",
    ]);
    assert_fails_naming(&output, "--since");
}

#[test]
fn eval_reports_quality_on_the_judged_queries() {
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
    let bm25 = &reports[0];
    assert_eq!(bm25["method"], "bm25");
    assert_eq!(bm25["queries"].as_array().map(Vec::len), Some(32));
    // A floor well under the measured 0.79: ranking regressions fail here.
    let ndcg = bm25["overall"]["ndcg10"].as_f64().unwrap_or(0.0);
    assert!(ndcg > 0.70, "nDCG@10 {ndcg}");
    for group in ["en", "zh", "q"] {
        assert!(
            bm25["by_group"][group]["ndcg10"].as_f64().unwrap_or(0.0) > 0.5,
            "{group}"
        );
    }
    // Hybrid with and without its meaning feedback, which runs for the questions only: they
    // gain (0.648 -> 0.684 measured), the named topics are ranked the same.
    let method = |name: &str| {
        reports
            .as_array()
            .and_then(|all| all.iter().find(|r| r["method"] == name))
            .unwrap_or_else(|| panic!("no {name} report: {reports}"))
    };
    let group = |name: &str, group: &str| {
        method(name)["by_group"][group]["ndcg10"]
            .as_f64()
            .unwrap_or(0.0)
    };
    assert!(
        group("hybrid", "q") > group("hybrid, no feedback", "q"),
        "{reports}"
    );
    for named in ["en", "zh"] {
        assert_eq!(group("hybrid", named), group("hybrid, no feedback", named));
    }
}

#[test]
fn malformed_query_file_names_its_line() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("bad.tsv");
    std::fs::write(&path, "q1\thallucination\t2403.05266\nq2\tno ids here\n").expect("write");
    let output = run(&[
        "--index",
        shared_index(),
        "eval",
        "search",
        "--queries",
        &path.to_string_lossy(),
    ]);
    assert_fails_naming(&output, "bad.tsv:2");
}
