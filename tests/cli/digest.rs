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
    // What is checked is the digest read back; the static model embeds 8,320 papers in seconds
    // where e5 would take minutes (the digest's texts are not in the shipped cache's form).
    let summary = run_json(&[
        "--json",
        "--model",
        "static",
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
    // Read back field for field, not just counted: a sample across every section compared with
    // what the index holds (`show --json`).
    let parsed = paperscope::digest::parse_str(&text, "week.md", None);
    assert_eq!(parsed.papers.len(), 8320);
    for paper in parsed.papers.iter().step_by(397) {
        let shown = run_json(&["--json", "--index", shared_index(), "show", &paper.arxiv_id]);
        let back = serde_json::to_value(paper).expect("paper as json");
        for field in [
            "arxiv_id",
            "version",
            "title_en",
            "title_zh",
            "summary_zh",
            "summary_en",
            "abstract_zh",
            "abstract_en",
            "category",
            "announce_type",
            "listing_note",
            "url",
            "variant",
        ] {
            assert_eq!(
                back[field], shown[field],
                "{} field {field}: digest vs show --json",
                paper.arxiv_id
            );
        }
    }
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

/// Runs headless Chromium on `url` with `mode` (`--dump-dom`, `--screenshot=...`); returns its
/// stdout and the console lines of its log (messages and uncaught errors).
fn chromium(profile: &Path, mode: &str, url: &str) -> (String, Vec<String>) {
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
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(mode)
        .arg(url)
        .output()
        .expect("chromium runs (.ci/run installs Debian's chromium)");
    let log = String::from_utf8_lossy(&browser.stderr);
    let console = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .map(str::to_string)
        .collect();
    (
        String::from_utf8_lossy(&browser.stdout).into_owned(),
        console,
    )
}

/// The value of `name="..."` on the document's `<html>` element in a dumped DOM.
fn root_attribute<'a>(dom: &'a str, name: &str) -> Option<&'a str> {
    let root = &dom[dom.find("<html")?..];
    let root = &root[..root.find('>')?];
    let value = &root[root.find(&format!("{name}=\""))? + name.len() + 2..];
    value.split('"').next()
}

#[test]
fn the_html_page_opens_in_headless_chromium_and_its_script_runs() {
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
    // The title and heading say what the page holds.
    let articles = html.matches("<article ").count();
    let title = format!("<title>Digest: 2024-03 · {articles} papers</title>");
    assert!(html.contains(&title), "{title} in {}", &html[..300]);
    assert!(html.contains("<h1>Digest: 2024-03 · "));
    // Related papers are links: to arXiv, and to their entry when it is on the page.
    assert!(html.contains("(<a href=\"https://arxiv.org/abs/"));
    let in_page = html.matches("<a href=\"#p-").count();
    assert!(
        in_page > 0,
        "related papers in the page link to their entries"
    );
    for target in html.split("<a href=\"#").skip(1) {
        let id = target.split('"').next().unwrap_or_default();
        assert!(
            html.contains(&format!(" id=\"{id}\"")),
            "#{id} has no target"
        );
    }
    // Abstracts' LaTeX is rendered, not shown raw.
    assert!(
        html.contains("<span class=\"m\">"),
        "some math was rendered"
    );
    for raw in ["\\textbf{", "\\emph{", "\\mathcal{"] {
        assert!(!html.contains(raw), "raw {raw} left in the page");
    }

    let profile = tmp.path().join("profile");
    let url = format!("file://{}", page.display());
    // The page's script ran to its end and its filter works: `?q=` fills the filter box.
    let (dom, console) = chromium(&profile, "--dump-dom", &url);
    assert!(console.is_empty(), "{console:?}");
    assert_eq!(root_attribute(&dom, "data-ready"), Some("1"), "script ran");
    assert_eq!(
        root_attribute(&dom, "data-shown"),
        Some(articles.to_string().as_str()),
        "an empty filter shows every paper"
    );
    let (dom, console) = chromium(
        &profile,
        "--dump-dom",
        &format!("{url}?q=hallucination+benchmark"),
    );
    assert!(console.is_empty(), "{console:?}");
    let shown: usize = root_attribute(&dom, "data-shown")
        .and_then(|n| n.parse().ok())
        .expect("data-shown");
    assert!(
        shown > 0 && shown < articles,
        "the filter keeps {shown} of {articles} papers"
    );

    let shot = tmp.path().join("digest.png");
    let (_, console) = chromium(&profile, &format!("--screenshot={}", shot.display()), &url);
    assert!(console.is_empty(), "{console:?}");
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );

    // Chinese text draws with real glyphs, in the page's fonts: two different characters drawn
    // alike are both the missing-glyph box. (Needs a CJK font, e.g. Debian's fonts-noto-cjk.)
    let probe = tmp.path().join("probe.html");
    std::fs::write(
        &probe,
        "<!DOCTYPE html><html><body><canvas id=\"c\" width=\"64\" height=\"32\"></canvas><script>\
         var c=document.getElementById('c').getContext('2d');\
         c.font=\"24px system-ui,'Noto Sans CJK SC',sans-serif\";\
         function px(ch){c.clearRect(0,0,64,32);c.fillText(ch,2,26);\
         return Array.prototype.join.call(c.getImageData(0,0,64,32).data,'');}\
         var a=px('幻'),b=px('觉'),none=px('\\u{10FFFD}');\
         document.documentElement.dataset.cjk=(a!==b&&a!==none)?'rendered':'missing';\
         </script></body></html>",
    )
    .expect("probe");
    let (dom, _) = chromium(
        &profile,
        "--dump-dom",
        &format!("file://{}", probe.display()),
    );
    assert_eq!(
        root_attribute(&dom, "data-cjk"),
        Some("rendered"),
        "Chinese text shows as boxes: install a CJK font (Debian: fonts-noto-cjk)"
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
