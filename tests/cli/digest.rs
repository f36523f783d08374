//! `paperscope digest`: Markdown that reads back, topic sections, HTML that a browser opens,
//! and bad input.

use std::path::Path;
use std::process::Command;

use crate::support::*;

fn digest_cmd(args: &[&str]) -> std::process::Output {
    let mut all = vec!["--index", shared_index(), "digest"];
    all.extend_from_slice(args);
    run(&all)
}

#[test]
fn a_topic_digest_of_all_papers_reads_back_whole_and_clean() {
    let tmp = tempfile::tempdir().expect("tmp");
    let week = tmp.path().join("week.md");
    let output = digest_cmd(&["--by-topic", "-o", &week.to_string_lossy()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = std::fs::read_to_string(&week).expect("written");
    let sections = text.lines().filter(|l| l.starts_with("## ")).count();
    assert!(sections >= 10, "{sections} topic sections");
    assert!(
        text.contains("## ") && text.contains(" / "),
        "sections are titled with bilingual labels"
    );
    assert!(text.contains("相关论文："), "entries list related papers");
    let index = tmp.path().join("index");
    let summary = run_json(&[
        "--json",
        "index",
        "--index",
        &index.to_string_lossy(),
        &week.to_string_lossy(),
    ]);
    assert_eq!(summary["papers"], 8320);
    assert_eq!(
        summary["warnings"].as_array().map(Vec::len),
        Some(0),
        "{summary}"
    );
    // Footnote numbers run through the whole file.
    let last = text.lines().filter(|l| l.starts_with("[^")).count();
    assert_eq!(last, 8320);
    assert!(text.contains("[^8320]: "));
}

#[test]
fn a_plain_digest_keeps_the_input_order_and_filters_apply() {
    let output = digest_cmd(&[
        "--since",
        "2024-03",
        "--until",
        "2024-03",
        "--category",
        "cs.IR",
        "--related",
        "0",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        !text.contains("## "),
        "no topic sections without --by-topic"
    );
    assert!(!text.contains("相关论文"));
    let parsed = paperscope::digest::parse_str(&text, "plain.md", None);
    assert!(!parsed.papers.is_empty());
    assert!(parsed.papers.iter().all(|p| p.arxiv_id.starts_with("2403")));
}

#[test]
fn json_output_and_query_selection() {
    let output = digest_cmd(&[
        "--format",
        "json",
        "--query",
        "hallucination",
        "-n",
        "8",
        "--related",
        "1",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let papers = json["sections"][0]["papers"].as_array().expect("papers");
    assert_eq!(papers.len(), 8);
    assert!(
        papers[0]["title_en"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase()
            .contains("hallucinat")
    );
    assert_eq!(papers[0]["related"].as_array().map(Vec::len), Some(1));
}

#[test]
fn the_html_page_opens_in_headless_chromium_without_console_errors() {
    let tmp = tempfile::tempdir().expect("tmp");
    let page = tmp.path().join("digest.html");
    let output = digest_cmd(&[
        "--by-topic",
        "--since",
        "2024-03",
        "--until",
        "2024-03",
        "--related",
        "2",
        "--format",
        "html",
        "-o",
        &page.to_string_lossy(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let html = std::fs::read_to_string(&page).expect("html");
    assert!(html.contains("<nav>") && html.contains("<section id=\"s0\">"));
    assert!(
        !html.contains("http-equiv") && !html.contains("<script src") && !html.contains("<link "),
        "self-contained"
    );
    let shot = tmp.path().join("digest.png");
    let browser = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,1600",
        ])
        .arg(format!(
            "--user-data-dir={}",
            tmp.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs (.ci/run installs Debian's chromium)");
    let log = String::from_utf8_lossy(&browser.stderr);
    let console_errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console_errors.is_empty(), "{console_errors:?}");
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
}

#[test]
fn bad_input_is_refused_and_nothing_is_half_written() {
    let output = digest_cmd(&["--since", "2024-05", "--until", "2024-04"]);
    assert_fails_naming(&output, "--since");
    let output = digest_cmd(&["-o", "/no/such/dir/week.md"]);
    assert_fails_naming(&output, "/no/such/dir");
    assert!(!Path::new("/no/such/dir").exists());
    let tmp = tempfile::tempdir().expect("tmp");
    let ids = tmp.path().join("ids.txt");
    std::fs::write(
        &ids,
        // Neither ascending nor descending by id or by index position: only the file's own
        // order passes.
        "2404.02115v1\n2401.15351\n9999.99999  # not in the index\n2403.05266\n",
    )
    .expect("ids");
    let out = tmp.path().join("picked.md");
    let output = digest_cmd(&[
        "--ids",
        &ids.to_string_lossy(),
        "--related",
        "0",
        "-o",
        &out.to_string_lossy(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("9999.99999"),
        "{}",
        stderr(&output)
    );
    let parsed = paperscope::digest::parse_file(&out).expect("readable");
    let found: Vec<&str> = parsed.papers.iter().map(|p| p.arxiv_id.as_str()).collect();
    assert_eq!(found, vec!["2404.02115", "2401.15351", "2403.05266"]);
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary files left");
}
