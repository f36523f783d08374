//! The web page in a real browser: Debian's chromium, driven over WebDriver by chromedriver,
//! against the server on the shared index of `data/`. What the page shows is checked against
//! what the API answers for the same request, never against written-down results.
//!
//! Screenshots land in `target/screenshots/` at 1280x800 and 390x844.
//!
//! Skipped (with a message) only when chromium or chromedriver is missing outside CI; `.ci/run`
//! installs both, and with `CI` set a missing browser fails the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long to wait for something the page should do in milliseconds: only a guard against a
/// hang, never a measurement.
const PATIENCE: Duration = Duration::from_secs(60);
const ERBENCH: &str = "2403.05266";
/// The page shows the results of `hallucination benchmark`, not of a prefix typed on the way.
const FULL_QUERY_SHOWN: &str = "return document.querySelector('#results').dataset.query === 'hallucination benchmark' && document.querySelectorAll('#results li').length > 0";

#[test]
fn the_page_in_a_real_browser() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let base = support::shared_server().url("");
    let api = |path: &str| support::get_json(path);

    browser.viewport(1280, 800);
    browser.go(&format!("{base}/"));
    browser.wait_for(
        "the page to load",
        "return document.body.dataset.ready === 'true'",
    );
    assert_eq!(browser.eval("return document.documentElement.lang"), "en");

    search_shows_erbench(&browser, &api);
    let related = paper_view_shows_related(&browser, &api);
    reading_list_gives_papers_like_it(&browser, &api, &related);
    topic_map_has_every_paper(&browser, &api);
    topics_over_time_is_drawn(&browser);
    digest_button_downloads(&browser, &base);
    topic_feed_is_offered(&browser, &base);
    chinese_interface(&browser);
    browser.assert_no_errors("after the mouse flow");

    keyboard_only(&browser, &base);
    new_since_last_visit(&browser, &base, &api);
    phone_size(&browser, &base);
    browser.assert_no_errors("at the end");
    digest_contents_do_not_overlap(&browser, &base, "at 390x844");
    browser.viewport(1280, 800);
    digest_contents_do_not_overlap(&browser, &base, "at 1280x800");
    browser.screenshot("digest-1280x800");
    browser.assert_no_console_errors();
}

fn search_shows_erbench(browser: &Browser, api: &dyn Fn(&str) -> Value) {
    browser.click("#q");
    browser.type_into("#q", "hallucination benchmark");
    let row = format!("#results li[data-id='{ERBENCH}']");
    browser.wait_for("the results of the whole query", FULL_QUERY_SHOWN);
    assert_eq!(
        browser.eval(&format!("return !!document.querySelector(\"{row}\")")),
        true,
        "ERBench is in the results"
    );
    let expected = api("/api/search?q=hallucination%20benchmark&limit=20");
    let first = expected["results"][0]["arxiv_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        browser.eval("return document.querySelector('#results li').dataset.id"),
        first,
        "the page's first result is the API's first result"
    );
    let paper = api(&format!("/api/papers/{ERBENCH}"));
    let text = browser.eval(&format!(
        "return document.querySelector(\"{row}\").innerText"
    ));
    let text = text.as_str().unwrap_or_default();
    for key in ["title_en", "title_zh", "summary_zh"] {
        let want = paper[key].as_str().unwrap_or_default();
        assert!(
            !want.is_empty() && text.contains(want),
            "ERBench's {key} is shown: {text}"
        );
    }
    let marks = browser.eval(&format!(
        "return [...document.querySelectorAll(\"{row} .snippet mark\")].map(m => m.textContent.toLowerCase())"
    ));
    let marks: Vec<String> = serde_json::from_value(marks).unwrap_or_default();
    assert!(
        marks
            .iter()
            .any(|m| m.starts_with("hallucinat") || m.starts_with("benchmark")),
        "the snippet highlights the query's words: {marks:?}"
    );
    browser.click(&format!("{row} details.why summary"));
    let why = browser.eval(&format!(
        "return document.querySelector(\"{row} details.why\").open && document.querySelector(\"{row} details.why dl\").innerText"
    ));
    assert!(
        why.as_str().is_some_and(|w| w.contains("#")),
        "the why of a result opens: {why}"
    );
    // The status line says how the list was ranked in a reader's words; the fusion's detail
    // (the vector side's weight) is under "why?".
    let summary = browser.eval("return document.querySelector('#summary').textContent");
    let summary = summary.as_str().unwrap_or_default();
    assert!(
        summary.contains("words + meaning") && !summary.contains("convex"),
        "the status line: {summary}"
    );
    let fusion = expected["fusion"].as_str().unwrap_or_default().to_owned();
    if let Some(alpha) = fusion.strip_prefix("convex ") {
        let alpha: f64 = alpha.parse().unwrap_or(-1.0);
        assert!(
            why.as_str()
                .is_some_and(|w| w.contains(&format!("meaning weighs {alpha:.2}"))),
            "the fusion's weight under why?: {why}"
        );
    }
    search_feed_is_offered(browser);
    browser.screenshot("search-1280x800");
}

/// "Subscribe" on a search is the Atom feed of the same words and filters, announced to feed
/// readers in the head, and it answers Atom.
fn search_feed_is_offered(browser: &Browser) {
    let href = browser
        .eval("const a = document.querySelector('#subscribe'); return a.hidden ? '' : a.href");
    let href = href.as_str().unwrap_or_default().to_owned();
    assert!(
        href.contains("/feeds/search.atom?q=hallucination+benchmark"),
        "subscribe: {href}"
    );
    assert_eq!(
        browser.eval("const l = document.querySelector('link[rel=alternate][type=\"application/atom+xml\"]'); return l ? l.href : ''"),
        href,
        "the feed is announced in the head"
    );
    let answer = support::get(&href);
    assert_eq!(answer.status, 200, "{href}: {}", answer.body);
    assert!(answer.content_type.starts_with("application/atom+xml"));
    assert!(answer.body.contains("<entry>"), "{}", answer.body);
}

fn paper_view_shows_related(browser: &Browser, api: &dyn Fn(&str) -> Value) -> Vec<String> {
    browser.click(&format!("#results li[data-id='{ERBENCH}'] .snippet"));
    browser.wait_for(
        "ERBench's page and its related papers",
        &format!(
            "return document.querySelector('#paper').dataset.id === '{ERBENCH}' && document.querySelectorAll('#related li').length > 0"
        ),
    );
    let paper = api(&format!("/api/papers/{ERBENCH}"));
    let shown = browser.eval("return document.querySelector('#paper').innerText");
    let shown = shown.as_str().unwrap_or_default();
    for key in ["title_en", "title_zh", "summary_zh"] {
        let want = paper[key].as_str().unwrap_or_default();
        assert!(
            shown.contains(want.trim()),
            "the paper view shows its {key}"
        );
    }
    // ERBench's abstract was cut by its source digest mid-word ("multimodal qu"), its Chinese
    // one mid-character: both are shown whole up to the cut, ending in "…".
    let abstracts: Vec<String> = serde_json::from_value(browser.eval(
        "return [...document.querySelectorAll('#paper p.abstract')].map(p => p.textContent)",
    ))
    .unwrap_or_default();
    assert_eq!(abstracts.len(), 2, "{abstracts:?}");
    let raw_en = paper["abstract_en"].as_str().unwrap_or_default().trim();
    assert!(
        raw_en.ends_with("multimodal qu"),
        "the sample's cut: {raw_en}"
    );
    let kept = raw_en.trim_end_matches("qu").trim_end();
    assert_eq!(abstracts[0], format!("{kept}…"));
    let raw_zh = paper["abstract_zh"].as_str().unwrap_or_default().trim();
    let kept_zh = raw_zh.trim_end_matches('\u{FFFD}');
    assert!(
        abstracts[1].ends_with('…')
            && abstracts[1].starts_with(kept_zh.trim_end_matches(['，', '、']))
    );
    let expected = api(&format!("/api/related?ids={ERBENCH}&limit=10"));
    let expected: Vec<String> = ids(&expected["results"]);
    let related: Vec<String> = serde_json::from_value(
        browser
            .eval("return [...document.querySelectorAll('#related li')].map(li => li.dataset.id)"),
    )
    .unwrap_or_default();
    assert_eq!(
        related, expected,
        "the related papers are the API's, in order"
    );
    browser.screenshot("paper-1280x800");
    related
}

fn reading_list_gives_papers_like_it(
    browser: &Browser,
    api: &dyn Fn(&str) -> Value,
    related: &[String],
) {
    browser.click("#paper .star");
    browser.click(&format!("#related li[data-id='{}'] .star", related[0]));
    assert_eq!(
        browser.eval("return document.querySelector('#list-count').textContent"),
        "2"
    );
    browser.click(".tabs a[data-view='list']");
    browser.wait_for(
        "the reading list",
        "return document.querySelectorAll('#list li').length === 2",
    );
    browser.click("#like-list");
    browser.wait_for(
        "papers like my list",
        "return document.querySelectorAll('#list-out li').length > 0",
    );
    let expected = api(&format!(
        "/api/related?ids={ERBENCH},{}&limit=20",
        related[0]
    ));
    let shown: Vec<String> = serde_json::from_value(
        browser
            .eval("return [...document.querySelectorAll('#list-out li')].map(li => li.dataset.id)"),
    )
    .unwrap_or_default();
    assert_eq!(
        shown,
        ids(&expected["results"]),
        "papers like my list are the API's related over both ids"
    );
    let stored =
        browser.eval("return JSON.parse(localStorage.getItem('paperscope.list')).map(p => p.id)");
    assert_eq!(
        stored,
        json!([ERBENCH, related[0]]),
        "the list is kept in localStorage"
    );
    export_my_list(browser, &related[0]);
    browser.screenshot("list-1280x800");
}

/// "Export my list" downloads the list's papers, in order, in the format chosen.
fn export_my_list(browser: &Browser, second: &str) {
    let href = |browser: &Browser| {
        browser
            .eval("return document.querySelector('#export-list').href")
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let bibtex = href(browser);
    assert!(
        bibtex.contains(&format!("ids={ERBENCH}%2C{second}")) && bibtex.ends_with("format=bibtex"),
        "{bibtex}"
    );
    browser.eval("const s = document.querySelector('#export-format'); s.value = 'ris'; s.dispatchEvent(new Event('change')); return true");
    let ris = href(browser);
    assert!(ris.ends_with("format=ris"), "{ris}");
    assert_eq!(
        browser.eval("return document.querySelector('#export-list').getAttribute('download')"),
        "paperscope-references.ris"
    );
    let answer = support::get(&ris);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let ids: Vec<&str> = answer
        .body
        .lines()
        .filter_map(|l| l.strip_prefix("ID  - "))
        .collect();
    assert_eq!(ids, [ERBENCH, second], "{}", answer.body);
}

fn topic_map_has_every_paper(browser: &Browser, api: &dyn Fn(&str) -> Value) {
    let papers = api("/api/stats")["papers"].as_u64().unwrap_or_default();
    assert!(papers > 0);
    browser.click(".tabs a[data-view='map']");
    browser.wait_for(
        "the topic map",
        &format!("return document.querySelector('#map').dataset.points === '{papers}'"),
    );
    let highlighted =
        browser.eval("return Number(document.querySelector('#map').dataset.highlighted)");
    assert!(
        highlighted.as_u64().unwrap_or_default() > 0,
        "the current search results are highlighted on the map"
    );
    let topics = api("/api/map")["topics"]
        .as_array()
        .map(Vec::len)
        .unwrap_or_default();
    assert_eq!(
        browser.eval("return document.querySelector('#map').dataset.topics"),
        topics.to_string()
    );
    labels_are_all_there_and_apart(browser, topics, "at 1280x800");
    browser.screenshot("map-1280x800");

    // Hover shows the title of the paper under the pointer, the wheel zooms, a click opens it.
    let at = browser.eval(&format!(
        "return document.querySelector('#map').pointAt('{ERBENCH}')"
    ));
    let (x, y) = (at[0].as_f64().unwrap_or(0.0), at[1].as_f64().unwrap_or(0.0));
    browser.pointer_over("#map", x, y);
    browser.wait_for(
        "a title on hover",
        "const id = document.querySelector('#map').dataset.hover; return !!id && document.querySelector('#tip').innerText.includes(id) && !!document.querySelector('#tip .tip-en')",
    );
    let hovered = browser.eval("return document.querySelector('#map').dataset.hover");
    let hovered = hovered.as_str().unwrap_or_default().to_owned();
    let title = api(&format!("/api/papers/{hovered}"))["title_en"].clone();
    assert_eq!(
        browser.eval("return document.querySelector('#tip .tip-en').textContent"),
        title
    );
    browser.wheel("#map", x, y, -400);
    browser.wait_for(
        "the wheel to zoom in",
        "return Number(document.querySelector('#map').dataset.scale) > 1",
    );
    browser.screenshot("map-zoomed-1280x800");
    browser.click("#zoom-reset");
    let at = browser.eval(&format!(
        "return document.querySelector('#map').pointAt('{hovered}')"
    ));
    browser.pointer_click(
        "#map",
        at[0].as_f64().unwrap_or(0.0),
        at[1].as_f64().unwrap_or(0.0),
    );
    browser.wait_for(
        "a click on a point to open the paper under the pointer",
        "const hover = document.querySelector('#map').dataset.hover; return !!hover && document.querySelector('#paper').dataset.id === hover && !document.querySelector('#view-paper').hidden",
    );
    browser.eval("history.back(); return true");
    browser.wait_for(
        "back to the map",
        "return !document.querySelector('#view-map').hidden",
    );
}

/// Every topic has a label on the map, and no two labels' boxes meet, all inside the canvas.
fn labels_are_all_there_and_apart(browser: &Browser, topics: usize, when: &str) {
    browser.wait_for(
        "the map's labels",
        "return !!document.querySelector('#map').dataset.labels",
    );
    let labels = browser.eval("return JSON.parse(document.querySelector('#map').dataset.labels)");
    let size = browser
        .eval("const c = document.querySelector('#map'); return [c.clientWidth, c.clientHeight]");
    let (w, h) = (
        size[0].as_f64().unwrap_or(0.0),
        size[1].as_f64().unwrap_or(0.0),
    );
    let boxes: Vec<(u64, f64, f64, f64, f64)> = labels
        .as_array()
        .expect("labels")
        .iter()
        .map(|l| {
            let f = |k: &str| l[k].as_f64().unwrap_or(f64::NAN);
            (
                l["id"].as_u64().unwrap_or(u64::MAX),
                f("x0"),
                f("y0"),
                f("x1"),
                f("y1"),
            )
        })
        .collect();
    let mut ids: Vec<u64> = boxes.iter().map(|b| b.0).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), topics, "every topic labelled {when}: {labels}");
    for (i, a) in boxes.iter().enumerate() {
        assert!(
            a.1 >= 0.0 && a.2 >= 0.0 && a.3 <= w && a.4 <= h,
            "label {} inside the {w}x{h} canvas {when}: {a:?}",
            a.0
        );
        for b in &boxes[i + 1..] {
            let apart = a.3 <= b.1 || b.3 <= a.1 || a.4 <= b.2 || b.4 <= a.2;
            assert!(
                apart,
                "labels {} and {} overlap {when}: {a:?} {b:?}",
                a.0, b.0
            );
        }
    }
}

/// The HTML digest's table of contents: no entry overlaps another, and each entry's number and
/// text stay inside its own box (a list marker hanging into the next column did not).
fn digest_contents_do_not_overlap(browser: &Browser, base: &str, when: &str) {
    browser.go(&format!(
        "{base}/api/digest?by_topic=true&format=html&related=0&since=2024-03&until=2024-03"
    ));
    browser.wait_for(
        "the HTML digest",
        "return document.documentElement.dataset.ready === '1'",
    );
    let report = browser.eval(
        "const lis = [...document.querySelectorAll('nav li')];
         const boxes = lis.map(li => li.getBoundingClientRect());
         const bad = [];
         for (let i = 0; i < boxes.length; i++) {
           for (let j = i + 1; j < boxes.length; j++) {
             const a = boxes[i], b = boxes[j];
             if (a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5)
               bad.push(`${lis[i].textContent} / ${lis[j].textContent}`);
           }
           const range = document.createRange();
           range.selectNodeContents(lis[i]);
           for (const r of range.getClientRects()) {
             const a = boxes[i];
             if (r.left < a.left - 0.5 || r.right > a.right + 0.5 || r.top < a.top - 0.5 || r.bottom > a.bottom + 0.5)
               bad.push(`${lis[i].textContent} sticks out`);
           }
         }
         return { entries: lis.length, bad };",
    );
    assert!(
        report["entries"].as_u64().unwrap_or(0) > 1,
        "a table of contents {when}: {report}"
    );
    assert_eq!(report["bad"], json!([]), "table of contents entries {when}");
}

fn topics_over_time_is_drawn(browser: &Browser) {
    browser.click(".tabs a[data-view='trends']");
    browser.wait_for(
        "topics over time",
        "return document.querySelectorAll('#trends svg rect').length > 0",
    );
    browser.screenshot("trends-1280x800");
}

fn digest_button_downloads(browser: &Browser, base: &str) {
    browser.go(&format!(
        "{base}/#/search?q=hallucination%20benchmark&since=2024-01"
    ));
    browser.wait_for(
        "the search from the address",
        "return document.querySelectorAll('#results li').length > 0",
    );
    let href = browser.eval("return document.querySelector('#digest').href");
    let href = href.as_str().unwrap_or_default();
    for part in ["by_topic=true", "since=2024-01", "q=hallucination"] {
        assert!(
            href.contains(part),
            "the digest link carries the filter ({part}): {href}"
        );
    }
    let answer = support::get(href);
    assert_eq!(answer.status, 200, "the digest downloads: {}", answer.body);
    assert!(
        answer.body.starts_with('#'),
        "the digest is Markdown: {}",
        answer.body.chars().take(80).collect::<String>()
    );
}

/// "Subscribe" on a topic is the topic's Atom feed.
fn topic_feed_is_offered(browser: &Browser, base: &str) {
    browser.go(&format!("{base}/#/topic/0"));
    browser.wait_for(
        "topic 0 and its subscribe link",
        "return !!document.querySelector('#topic-subscribe')",
    );
    let href = browser.eval("return document.querySelector('#topic-subscribe').href");
    assert_eq!(href, format!("{base}/feeds/topics/0.atom"));
    let answer = support::get(href.as_str().unwrap_or_default());
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.content_type.starts_with("application/atom+xml"));
    browser.screenshot("topic-1280x800");
}

fn chinese_interface(browser: &Browser) {
    browser.click("#lang");
    assert_eq!(
        browser.eval("return document.documentElement.lang"),
        "zh-CN"
    );
    assert_eq!(
        browser.eval("return document.querySelector(\".tabs a[data-view='map']\").textContent"),
        "主题地图"
    );
    assert_eq!(
        browser.eval("return document.querySelector('#q').placeholder"),
        "搜索论文（中文或英文）"
    );
    browser.screenshot("search-zh-1280x800");
    browser.click(".tabs a[data-view='map']");
    browser.wait_for(
        "the map in Chinese",
        "return document.querySelector('#map').dataset.points !== '0'",
    );
    browser.screenshot("map-zh-1280x800");
    browser.click("#lang");
    assert_eq!(browser.eval("return document.documentElement.lang"), "en");
}

/// Search, move through the results and open one with keys alone.
fn keyboard_only(browser: &Browser, base: &str) {
    browser.reload(&format!("{base}/"));
    browser.keys("/");
    assert_eq!(
        browser.eval("return document.activeElement.id"),
        "q",
        "/ focuses the search box"
    );
    browser.keys("hallucination benchmark");
    browser.wait_for("results from typing", FULL_QUERY_SHOWN);
    browser.keys(ARROW_DOWN);
    assert_eq!(
        browser.eval("return document.activeElement === document.querySelector('#results li')"),
        true,
        "arrow down moves from the box to the first result"
    );
    let mut steps = 0;
    while browser.eval("return document.activeElement.dataset.id") != ERBENCH {
        browser.keys(ARROW_DOWN);
        steps += 1;
        assert!(steps < 20, "arrow keys reach ERBench");
    }
    browser.keys(ENTER);
    browser.wait_for(
        "Enter to open the paper",
        &format!("return document.querySelector('#paper').dataset.id === '{ERBENCH}' && !document.querySelector('#view-paper').hidden"),
    );
    browser.keys(ESCAPE);
    browser.wait_for(
        "Escape back to the results, focus on the paper left",
        &format!("return !document.querySelector('#view-search').hidden && document.activeElement.dataset.id === '{ERBENCH}'"),
    );
    browser.keys(TAB);
    let focused = browser.eval("return document.activeElement.className");
    assert_eq!(focused, "star", "Tab moves inside the result, to its star");
    browser.assert_no_errors("after the keyboard flow");
}

/// "New since my last visit" lists the papers from the month of the previous visit on.
fn new_since_last_visit(browser: &Browser, base: &str, api: &dyn Fn(&str) -> Value) {
    let months = api("/api/stats")["by_month"].clone();
    let mut months: Vec<String> = months
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    months.sort();
    let since = months[months.len().saturating_sub(3)].clone();
    browser.eval(&format!(
        "localStorage.setItem('paperscope.visit', JSON.stringify({{at: '2026-01-01T00:00:00Z', month: '{since}'}})); return true"
    ));
    browser.reload(&format!("{base}/#/list"));
    browser.click("#new-visit");
    browser.wait_for("new papers", "return Number(document.querySelector('#list-new').dataset.count) >= 0 && document.querySelectorAll('#list-new details').length > 0");
    let expected = api(&format!(
        "/api/digest?by_topic=true&format=json&since={since}"
    ));
    let expected: usize = expected["sections"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|x| x["papers"].as_array().map(Vec::len).unwrap_or(0))
                .sum()
        })
        .unwrap_or(0);
    assert!(expected > 0);
    assert_eq!(
        browser.eval("return document.querySelector('#list-new').dataset.count"),
        expected.to_string()
    );
}

fn phone_size(browser: &Browser, base: &str) {
    browser.viewport(390, 844);
    browser.go(&format!("{base}/#/search?q=hallucination%20benchmark"));
    browser.wait_for(
        "results on a phone",
        "return document.querySelectorAll('#results li').length > 0",
    );
    let overflow = browser.eval("return document.documentElement.scrollWidth - window.innerWidth");
    assert_eq!(overflow, 0, "nothing sticks out sideways at 390 px");
    browser.screenshot("search-390x844");
    browser.click(".tabs a[data-view='map']");
    browser.wait_for(
        "the map on a phone",
        "return document.querySelector('#map').dataset.points !== '0'",
    );
    let topics = browser.eval("return Number(document.querySelector('#map').dataset.topics)");
    labels_are_all_there_and_apart(browser, topics.as_u64().unwrap_or(0) as usize, "at 390x844");
    browser.screenshot("map-390x844");
    browser.click("#lang");
    browser.click(".tabs a[data-view='search']");
    browser.screenshot("search-zh-390x844");
    browser.go(&format!("{base}/#/paper/{ERBENCH}"));
    browser.wait_for(
        "the paper on a phone",
        "return document.querySelectorAll('#related li').length > 0",
    );
    browser.screenshot("paper-zh-390x844");
    browser.click("#lang");
}

fn ids(results: &Value) -> Vec<String> {
    results
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x["arxiv_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A loopback port nobody listens on now, for chromedriver (which takes a port, not a socket).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

const ARROW_DOWN: &str = "\u{E015}";
const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";
const TAB: &str = "\u{E004}";

/// chromedriver and one headless chromium session, ended when dropped.
struct Browser {
    driver: Child,
    endpoint: String,
    session: String,
    _profile: tempfile::TempDir,
    screenshots: PathBuf,
}

impl Browser {
    /// The browser, or None (after saying why) when it is missing outside CI.
    fn start() -> Option<Browser> {
        let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
            .into_iter()
            .filter(|p| !Path::new(p).exists())
            .collect();
        if !missing.is_empty() {
            assert!(
                std::env::var_os("CI").is_none(),
                "{missing:?} missing in CI: .ci/run installs chromium and chromium-driver"
            );
            eprintln!(
                "SKIPPED the_page_in_a_real_browser: {missing:?} not installed (apt-get install chromium chromium-driver fonts-noto-cjk)"
            );
            return None;
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let endpoint = format!("http://127.0.0.1:{port}");
        let profile = tempfile::tempdir().expect("a temporary browser profile");
        let screenshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&screenshots).expect("target/screenshots can be made");
        let mut browser = Browser {
            driver,
            endpoint,
            session: String::new(),
            _profile: profile,
            screenshots,
        };
        browser.wait_ready();
        browser.session = browser.new_session();
        Some(browser)
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let ready = ureq::get(&format!("{}/status", self.endpoint))
                .call()
                .ok()
                .and_then(|r| r.into_string().ok())
                .and_then(|s| serde_json::from_str::<Value>(&s).ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "chromedriver never became ready");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn new_session(&self) -> String {
        let profile = self._profile.path().display();
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--lang=en-US",
            "--window-size=1280,800",
        ];
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={profile}"));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": args,
                "prefs": {"intl.accept_languages": "en-US,en"},
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let answer = self.send("POST", "/session", caps);
        answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver gives no session: {answer}"))
            .to_owned()
    }

    /// One WebDriver command; its `value`, or a panic naming the command and chromedriver's error.
    fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let answer = self.send(method, &format!("/session/{}{path}", self.session), body);
        answer["value"].clone()
    }

    fn send(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.endpoint);
        let request = ureq::request(method, &url).timeout(Duration::from_secs(120));
        let result = if method == "GET" || method == "DELETE" {
            request.call()
        } else {
            request
                .set("Content-Type", "application/json")
                .send_string(&body.to_string())
        };
        let text = match result {
            Ok(r) => r.into_string().unwrap_or_default(),
            Err(ureq::Error::Status(code, r)) => {
                panic!(
                    "WebDriver {method} {path} -> {code}: {}",
                    r.into_string().unwrap_or_default()
                )
            }
            Err(e) => panic!("WebDriver {method} {path}: {e}"),
        };
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    fn go(&self, url: &str) {
        self.command("POST", "/url", json!({ "url": url }));
    }

    /// A fresh load of the page at `url` (a change of the hash alone would not reload it).
    fn reload(&self, url: &str) {
        self.go(url);
        self.command("POST", "/refresh", json!({}));
        self.wait_for(
            "the page to load",
            "return !!document.body && document.body.dataset.ready === 'true'",
        );
    }

    fn eval(&self, script: &str) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            json!({ "script": script, "args": [] }),
        )
    }

    fn wait_for(&self, what: &str, script: &str) {
        let deadline = Instant::now() + PATIENCE;
        while self.eval(script) != Value::Bool(true) {
            let errors = self.eval("return window.__errors || []");
            assert!(
                Instant::now() < deadline,
                "waited in vain for {what}; page errors: {errors}; status: {}",
                self.eval("return document.querySelector('#status') && document.querySelector('#status').textContent")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn element(&self, css: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let found = self.eval(&format!(
                "const e = document.querySelector({}); return !!e && e.getClientRects().length > 0",
                json!(css)
            ));
            if found == Value::Bool(true) {
                break;
            }
            assert!(Instant::now() < deadline, "no visible element {css}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let found = self.command(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned()
    }

    fn click(&self, css: &str) {
        let id = self.element(css);
        self.command("POST", &format!("/element/{id}/click"), json!({}));
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.command(
            "POST",
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        );
    }

    /// Keys pressed wherever the focus is, as a user would.
    fn keys(&self, text: &str) {
        let mut actions = Vec::new();
        for c in text.chars() {
            actions.push(json!({"type": "keyDown", "value": c.to_string()}));
            actions.push(json!({"type": "keyUp", "value": c.to_string()}));
        }
        self.command(
            "POST",
            "/actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}),
        );
    }

    /// Moves the mouse to (`x`, `y`) CSS pixels from the top left corner of the element `css`.
    fn pointer_over(&self, css: &str, x: f64, y: f64) {
        let (dx, dy) = self.offset_from_centre(css, x, y);
        let element = self.reference(css);
        self.command(
            "POST",
            "/actions",
            json!({"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                "actions": [{"type": "pointerMove", "duration": 0, "origin": element, "x": dx, "y": dy}]}]}),
        );
    }

    /// Clicks at (`x`, `y`) CSS pixels from the top left corner of the element `css`.
    fn pointer_click(&self, css: &str, x: f64, y: f64) {
        let (dx, dy) = self.offset_from_centre(css, x, y);
        let element = self.reference(css);
        self.command(
            "POST",
            "/actions",
            json!({"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                "actions": [
                    {"type": "pointerMove", "duration": 0, "origin": element, "x": dx, "y": dy},
                    {"type": "pointerDown", "button": 0},
                    {"type": "pointerUp", "button": 0},
                ]}]}),
        );
    }

    /// Turns the mouse wheel by `delta_y` over (`x`, `y`) of the element `css`.
    fn wheel(&self, css: &str, x: f64, y: f64, delta_y: i64) {
        let (dx, dy) = self.offset_from_centre(css, x, y);
        let element = self.reference(css);
        self.command(
            "POST",
            "/actions",
            json!({"actions": [{"type": "wheel", "id": "wheel", "actions": [
                {"type": "scroll", "origin": element, "x": dx, "y": dy, "deltaX": 0, "deltaY": delta_y}]}]}),
        );
    }

    /// An element reference (the W3C key), as an action's origin.
    fn reference(&self, css: &str) -> Value {
        json!({ "element-6066-11e4-a52e-4f735466cecf": self.element(css) })
    }

    /// WebDriver offsets count from an element's centre; the page's from its corner.
    fn offset_from_centre(&self, css: &str, x: f64, y: f64) -> (i64, i64) {
        let size = self.eval(&format!(
            "const r = document.querySelector({}).getBoundingClientRect(); return [r.width, r.height]",
            json!(css)
        ));
        let (w, h) = (
            size[0].as_f64().unwrap_or(0.0),
            size[1].as_f64().unwrap_or(0.0),
        );
        ((x - w / 2.0).round() as i64, (y - h / 2.0).round() as i64)
    }

    /// The page's layout size, set exactly (a headless window's outer size is not its viewport).
    fn viewport(&self, width: u32, height: u32) {
        self.command(
            "POST",
            "/goog/cdp/execute",
            json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600,
            }}),
        );
    }

    fn screenshot(&self, name: &str) {
        // Let the page finish drawing (fonts, canvas) before the picture.
        self.eval("return true");
        std::thread::sleep(Duration::from_millis(300));
        let png = self.command("GET", "/screenshot", Value::Null);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .expect("the screenshot is base64");
        let path = self.screenshots.join(format!("{name}.png"));
        std::fs::write(&path, bytes).expect("the screenshot is written");
        eprintln!("screenshot: {}", path.display());
    }

    fn assert_no_errors(&self, when: &str) {
        let errors = self.eval("return window.__errors || ['the error hook is missing']");
        assert_eq!(errors, json!([]), "page errors {when}");
    }

    /// chromedriver's own log of the browser console: errors the page's hook cannot see
    /// (failed loads, CSP, errors before the hook).
    fn assert_no_console_errors(&self) {
        let answer = self.send(
            "POST",
            &format!("/session/{}/se/log", self.session),
            json!({"type": "browser"}),
        );
        let severe: Vec<&Value> = answer["value"]
            .as_array()
            .map(|entries| entries.iter().filter(|e| e["level"] == "SEVERE").collect())
            .unwrap_or_default();
        assert!(severe.is_empty(), "console errors: {severe:?}");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = ureq::delete(&format!("{}/session/{}", self.endpoint, self.session)).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
