//! What a researcher meets first: pasted ids and URLs, dates and links in results, paging,
//! sorting and export formats, terminal width and colour, help and exit codes.

use crate::support::*;

#[test]
fn show_and_related_accept_every_pasted_form_of_an_id() {
    for pasted in [
        "arXiv:2403.05266",
        "https://arxiv.org/abs/2403.05266",
        "https://arxiv.org/pdf/2403.05266v1",
        "https://arxiv.org/pdf/2403.05266v1.pdf",
        "arxiv.org/abs/2403.05266",
    ] {
        assert_eq!(show(pasted)["arxiv_id"], "2403.05266", "{pasted}");
    }
    let related = run_json(&[
        "--json",
        "--index",
        shared_index(),
        "related",
        "https://arxiv.org/abs/2403.05266",
        "-n",
        "3",
    ]);
    assert!(!ids(&related).contains(&"2403.05266".to_string()));
    // A version the index does not hold stays an error, whatever form it came in.
    let output = run(&[
        "--index",
        shared_index(),
        "show",
        "https://arxiv.org/pdf/2403.05266v9.pdf",
    ]);
    assert_fails_naming(&output, "2403.05266");
}

/// Display columns of a line (CJK characters take two).
fn columns(line: &str) -> usize {
    line.chars()
        .map(|c| match u32::from(c) {
            0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF => 2,
            0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD => 2,
            _ => 1,
        })
        .sum()
}

fn text_run(args: &[&str]) -> String {
    let mut all = vec!["--index", shared_index()];
    all.extend_from_slice(args);
    let output = paperscope()
        .args(&all)
        .env_remove("COLUMNS")
        .env_remove("NO_COLOR")
        .output()
        .expect("binary runs");
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    stdout(&output)
}

#[test]
fn results_carry_their_month_and_arxiv_url() {
    let response = search(&["-n", "3", "hallucination benchmark"]);
    for r in response["results"].as_array().expect("results") {
        let id = r["arxiv_id"].as_str().expect("id");
        assert_eq!(r["url"], format!("https://arxiv.org/abs/{id}"));
        let month = format!("20{}-{}", &id[..2], &id[2..4]);
        assert_eq!(r["month"], month.as_str());
    }
    let text = text_run(&["search", "-n", "1", "--mode", "bm25", "ERBench"]);
    assert!(text.contains("https://arxiv.org/abs/2403.05266"), "{text}");
    assert!(text.contains("2024-03"), "{text}");
}

#[test]
fn pages_follow_each_other_and_rank_from_the_offset() {
    let all = ids(&search(&["-n", "10", "--mode", "bm25", "hallucination"]));
    let second = search(&[
        "-n",
        "5",
        "--offset",
        "5",
        "--mode",
        "bm25",
        "hallucination",
    ]);
    assert_eq!(ids(&second), all[5..10].to_vec());
    assert_eq!(second["results"][0]["rank"], 6);
    assert_eq!(second["offset"], 5);
}

#[test]
fn date_sort_puts_the_newest_first() {
    let response = search(&[
        "-n",
        "20",
        "--sort",
        "date",
        "--mode",
        "bm25",
        "hallucination",
    ]);
    let months: Vec<String> = response["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["month"].as_str().unwrap_or("").to_string())
        .collect();
    let mut sorted = months.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(months, sorted);
    assert_eq!(response["sort"], "date");
}

#[test]
fn results_export_as_bibtex_and_csv() {
    let bib = text_run(&["search", "-n", "3", "--format", "bibtex", "hallucination"]);
    assert_eq!(bib.matches("@misc{").count(), 3, "{bib}");
    for field in ["title = {{", "eprint = {", "archivePrefix = {arXiv}"] {
        assert!(bib.contains(field), "{field}: {bib}");
    }
    assert!(bib.contains("url = {https://arxiv.org/abs/"), "{bib}");
    let csv = text_run(&["related", "2403.05266", "-n", "4", "--format", "csv"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "rank,arxiv_id,version,month,title_en,title_zh,category,score,url"
    );
    assert_eq!(lines.len(), 5, "{csv}");
    let topic = text_run(&["topic", "0", "-n", "2", "--format", "csv"]);
    assert_eq!(topic.lines().count(), 3, "{topic}");
}

#[test]
fn related_names_what_it_relates_to() {
    let text = text_run(&["related", "arXiv:2403.05266", "-n", "1"]);
    let head: Vec<&str> = text.lines().take(2).collect();
    assert_eq!(head[0], "Papers like:", "{text}");
    assert!(
        head[1].contains("2403.05266") && head[1].contains("ERBench"),
        "{text}"
    );
}

#[test]
fn every_related_result_says_why_in_both_languages() {
    let json = run_json(&[
        "--json",
        "--index",
        shared_index(),
        "related",
        "2403.05266",
        "-n",
        "5",
    ]);
    let results = json["results"].as_array().expect("results");
    assert_eq!(results.len(), 5, "{json}");
    for r in results {
        let why = &r["related"];
        let en = why["terms_en"].as_array().map_or(0, Vec::len);
        let zh = why["terms_zh"].as_array().map_or(0, Vec::len);
        // ERBench is a hallucination benchmark: its neighbours share terms in both languages.
        assert!(en > 0 && zh > 0, "{why}");
        assert!(why["meaning"].as_f64().is_some_and(|m| m > 0.5), "{why}");
        assert!(why["words"].as_f64().is_some_and(|w| w > 0.0), "{why}");
    }
    let terms = results[0]["related"]["terms_en"].to_string().to_lowercase();
    assert!(terms.contains("hallucination"), "{terms}");
    let text = text_run(&["related", "2403.05266", "-n", "2"]);
    assert_eq!(text.matches("shares: ").count(), 2, "{text}");
    // A Chinese text is compared with the papers' Chinese views and shares Chinese words.
    let by_text = run_json(&[
        "--json",
        "--index",
        shared_index(),
        "related",
        "--text",
        "大语言模型的幻觉检测基准",
        "-n",
        "3",
    ]);
    let first = &by_text["results"][0];
    assert!(
        first["related"]["terms_zh"].to_string().contains("幻觉"),
        "{by_text}"
    );
}

#[test]
fn text_output_fits_the_width() {
    for args in [
        &["topics"][..],
        &["topics", "--over-time"],
        &["search", "hallucination benchmark", "--mode", "bm25"],
        &["show", "2403.05266"],
    ] {
        let text = text_run(args);
        let long: Vec<&str> = text.lines().filter(|l| columns(l) > 100).collect();
        assert!(long.is_empty(), "{args:?}: {long:#?}");
    }
    let over_time = text_run(&["topics", "--over-time"]);
    let header = over_time.lines().next().unwrap_or_default();
    assert!(
        header.contains("earlier") && header.ends_with("total"),
        "{header}"
    );
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let args = ["search", "-n", "1", "--mode", "bm25", "hallucination"];
    assert!(!text_run(&args).contains('\x1b'), "no colour into a pipe");
    let mut always = vec!["--color", "always"];
    always.extend_from_slice(&args);
    assert!(text_run(&always).contains("\x1b["));
    let output = paperscope()
        .args(["--index", shared_index(), "--color", "auto"])
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("runs");
    assert!(!stdout(&output).contains('\x1b'));
}

#[test]
fn usage_errors_are_one_line_with_exit_code_2_and_failures_exit_1() {
    for args in [
        &["search"][..],
        &["search", "x", "--bogus"],
        &["search", "x", "--sort", "sideways"],
    ] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let err = stderr(&output);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{err}");
    }
    let output = run(&["--index", shared_index(), "show", "9999.99999"]);
    assert_eq!(output.status.code(), Some(1));
    assert_fails_naming(&output, "9999.99999");
    assert!(run(&["search", "--help"]).status.success());
}
