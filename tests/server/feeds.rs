//! The Atom feeds, read by a real feed library (Python's `feedparser`, from PyPI in a
//! virtualenv: `support::python`) from the real server: valid Atom 1.0, entry ids the
//! arXiv URLs, newest first by the digest day, only papers that match, and links to arXiv and
//! to the page. What the feed holds is checked against what the API answers.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{get, get_json, ids, read_back, shared_server};

const ERBENCH: &str = "2403.05266";

/// What feedparser understood of the feed at `path` on the shared server (`None`: no Python).
fn feed(path: &str) -> Option<Value> {
    let url = shared_server().url(path);
    let read = read_back("atom", &url)?;
    assert_eq!(read["status"], 200, "{path}: {read:#}");
    assert_eq!(read["version"], "atom10", "{path}: {read:#}");
    assert_eq!(read["bozo"], false, "{path}: {read:#}");
    assert!(
        read["content_type"]
            .as_str()
            .is_some_and(|t| t.starts_with("application/atom+xml")),
        "{read:#}"
    );
    let self_link = read["feed"]["links"]
        .as_array()
        .and_then(|links| links.iter().find(|l| l["rel"] == "self"))
        .and_then(|l| l["href"].as_str())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(self_link, url, "the feed's self link is its URL");
    assert!(read["feed"]["updated"].is_string(), "{read:#}");
    Some(read)
}

/// HTML content as text: the entities an HTML writer escapes, unescaped.
fn unescape(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The `YYYY-MM-DD` a digest file's name starts with.
fn digest_day(source_file: &str) -> String {
    let name = source_file.rsplit('/').next().unwrap_or_default();
    name.chars().take(10).collect()
}

/// Every entry: id and links are the paper's, titles and summary its own, the updated day its
/// digest's; entries newest first. Returns the entries' arXiv ids in feed order.
fn check_entries(read: &Value) -> Vec<String> {
    let base = shared_server().url("");
    let entries = read["entries"].as_array().expect("entries");
    let mut ids = Vec::new();
    let mut previous: Option<String> = None;
    for entry in entries {
        let id = entry["id"]
            .as_str()
            .and_then(|u| u.strip_prefix("https://arxiv.org/abs/"))
            .unwrap_or_else(|| panic!("an entry id is an arXiv URL: {entry:#}"))
            .to_owned();
        assert_eq!(entry["link"], format!("https://arxiv.org/abs/{id}"));
        let links = entry["links"].as_array().expect("links");
        assert!(
            links
                .iter()
                .any(|l| l["rel"] == "related" && l["href"] == format!("{base}/#/paper/{id}")),
            "a link to the paper on the page: {links:?}"
        );
        let paper = get_json(&format!("/api/papers/{id}"));
        assert_eq!(entry["title"], paper["title_en"]);
        let content = unescape(entry["content"][0].as_str().unwrap_or_default());
        for key in ["title_en", "title_zh", "summary_zh"] {
            let text = paper[key].as_str().unwrap_or_default();
            assert!(content.contains(text), "{key} of {id} in {content}");
        }
        let summary = entry["summary"].as_str().unwrap_or_default();
        assert!(summary.contains(paper["summary_zh"].as_str().unwrap_or_default()));
        let day = digest_day(paper["source_file"].as_str().unwrap_or_default());
        let updated = entry["updated"].as_str().unwrap_or_default().to_owned();
        assert_eq!(updated, format!("{day}T00:00:00Z"), "{id}'s digest day");
        if let Some(previous) = &previous {
            assert!(
                previous >= &updated,
                "newest first: {previous} then {updated}"
            );
        }
        previous = Some(updated);
        ids.push(id);
    }
    ids
}

#[test]
fn a_search_feed_holds_the_matching_papers_newest_first() {
    let Some(read) = feed("/feeds/search.atom?q=hallucination+benchmark&limit=30") else {
        return;
    };
    let in_feed = check_entries(&read);
    assert_eq!(in_feed.len(), 30, "{in_feed:?}");
    assert!(
        read["feed"]["title"]
            .as_str()
            .is_some_and(|t| t.contains("hallucination benchmark"))
    );
    // Only papers that contain the query's words: all of them are BM25 hits.
    let matching: BTreeSet<String> = ids(&get_json(
        "/api/search?q=hallucination+benchmark&mode=bm25&limit=1000",
    ))
    .into_iter()
    .collect();
    for id in &in_feed {
        assert!(matching.contains(id), "{id} does not match the words");
    }
    // A month's feed: ERBench, a March 2024 paper about a hallucination benchmark, is in the
    // feed of March 2024, and nothing from another month is.
    let Some(march) =
        feed("/feeds/search.atom?q=hallucination+benchmark&since=2024-03&until=2024-03")
    else {
        return;
    };
    let march = check_entries(&march);
    assert!(march.contains(&ERBENCH.to_string()), "{march:?}");
    for id in &march {
        assert!(id.starts_with("2403."), "{id} is not from March 2024");
    }
}

#[test]
fn a_search_with_no_match_is_an_empty_valid_feed() {
    let Some(read) = feed("/feeds/search.atom?q=zzqxjvw&mode=bm25") else {
        return;
    };
    assert_eq!(
        read["entries"].as_array().map(Vec::len),
        Some(0),
        "{read:#}"
    );
}

#[test]
fn a_topic_feed_holds_the_topics_papers_newest_first() {
    let topic = get_json("/api/topics/0?limit=1000");
    let members: BTreeSet<String> = topic["papers"]
        .as_array()
        .expect("papers")
        .iter()
        .filter_map(|p| p["arxiv_id"].as_str().map(str::to_owned))
        .collect();
    let Some(read) = feed("/feeds/topics/0.atom?limit=10") else {
        return;
    };
    let in_feed = check_entries(&read);
    assert_eq!(in_feed.len(), members.len().min(10));
    for id in &in_feed {
        assert!(members.contains(id), "{id} is not in topic 0");
    }
    // The feed's first entry is from the topic's newest digest day.
    let newest = topic["papers"]
        .as_array()
        .expect("papers")
        .iter()
        .map(|p| digest_day(p["source_file"].as_str().unwrap_or_default()))
        .max()
        .expect("a paper");
    assert_eq!(read["entries"][0]["updated"], format!("{newest}T00:00:00Z"));
}

#[test]
fn feeds_refuse_bad_parameters_naming_them() {
    let server = shared_server();
    for (path, status, parameter) in [
        ("/feeds/search.atom", 400, Some("q")),
        ("/feeds/search.atom?q=x&limit=0", 400, Some("limit")),
        ("/feeds/search.atom?q=x&mode=fast", 400, Some("mode")),
        ("/feeds/search.atom?q=x&since=2024-13", 400, Some("since")),
        ("/feeds/search.atom?q=x&sort=date", 400, Some("sort")),
        ("/feeds/search.atom?q=ab%00cd", 400, Some("q")),
        ("/feeds/topics/0.atom?level=middle", 400, Some("level")),
        ("/feeds/topics/99999.atom", 404, Some("id")),
        ("/feeds/topics/seven.atom", 404, Some("id")),
        ("/feeds/topics/0", 404, None),
    ] {
        let answer = get(&server.url(path));
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
        assert_eq!(answer.json()["parameter"].as_str(), parameter, "{path}");
    }
}
