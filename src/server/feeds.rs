//! Atom 1.0 feeds a feed reader subscribes to: `/feeds/search.atom?q=...` (a saved search) and
//! `/feeds/topics/{id}.atom` (a topic).
//!
//! A feed lists papers newest first, and only papers that match: for a search, the papers that
//! contain the query's words (the BM25 side; in `mode=vector`, the nearest by meaning, as
//! there are no words to match), out of the [`FEED_DEPTH`] most relevant, so a feed of a rare
//! query is short rather than padded with the newest unrelated papers. "Newest" is the day of
//! the digest file a paper was read from (`2024-03-14_cs.CL_....md`), else the first day of its
//! month (from the arXiv id): the same date is the entry's `updated`, so a reader's order and
//! the feed's agree.
//!
//! Entry ids are the paper's versionless arXiv URL (`https://arxiv.org/abs/2403.05266`), as
//! arXiv's own Atom feeds use: stable across versions and across index generations, so a
//! reader never shows a paper twice. Each entry carries both titles, the Chinese summary, the
//! month, the category and links to arXiv and to the paper on this server's page.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::api::{filters, fusion, with_engine};
use super::error::ApiError;
use super::params::Params;
use crate::paper::{Paper, abs_url};
use crate::search::{Engine, MAX_PAGE_LIMIT, Mode, Page, SearchRequest, Sort, TopicLevel};

/// Entries in a feed when the URL does not say (`limit`).
pub const DEFAULT_FEED_ENTRIES: usize = 50;

/// How many of the most relevant papers a search feed orders by date: deep enough that a
/// month's matching papers are all in it, bounded so a feed costs one page of the API.
pub const FEED_DEPTH: usize = MAX_PAGE_LIMIT;

/// The media type of an Atom document.
const ATOM: &str = "application/atom+xml; charset=utf-8";

/// One entry, before it is written.
struct Entry {
    paper: Paper,
    /// `YYYY-MM-DD`, the entry's `updated` day.
    day: Option<String>,
    /// `YYYY-MM`.
    month: Option<String>,
}

impl Entry {
    fn of(paper: Paper) -> Entry {
        let month = paper
            .year_month()
            .map(|(year, month)| format!("{year}-{month:02}"));
        let day =
            digest_day(&paper.source_file).or_else(|| month.as_ref().map(|m| format!("{m}-01")));
        Entry { paper, day, month }
    }
}

/// The `YYYY-MM-DD` a digest file's name starts with (`2024-03-14_cs.CL_....md`), if it does.
fn digest_day(path: &str) -> Option<String> {
    let name = path.rsplit(['/', '\\']).next()?;
    let day = name.get(..10)?;
    let bytes = day.as_bytes();
    let shaped = bytes.iter().enumerate().all(|(i, b)| match i {
        4 | 7 => *b == b'-',
        _ => b.is_ascii_digit(),
    });
    let month: u32 = day.get(5..7)?.parse().ok()?;
    let date: u32 = day.get(8..10)?.parse().ok()?;
    (shaped && (1..=12).contains(&month) && (1..=31).contains(&date)).then(|| day.to_string())
}

/// `YYYY-MM-DD` as an RFC 3339 time (midnight UTC), as Atom's dates are written.
fn timestamp(day: &str) -> String {
    format!("{day}T00:00:00Z")
}

/// Text as XML character data or an attribute value: the five markup characters escaped, and
/// the characters XML 1.0 forbids (C0 controls other than tab and line breaks) dropped, so a
/// stray byte in a digest never makes the whole feed unreadable.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// What a feed is about: its title, its own URL and the page showing the same papers.
struct Head {
    title: String,
    self_url: String,
    page_url: String,
}

/// The Atom document. The feed's `updated` is its newest entry's, or, when nothing matches yet,
/// the newest digest the index was built from (`fallback_day`).
fn atom(head: &Head, entries: &[Entry], base: &str, fallback_day: Option<String>) -> String {
    let updated = entries
        .iter()
        .filter_map(|e| e.day.clone())
        .max()
        .or(fallback_day)
        .unwrap_or_else(|| "1970-01-01".to_string());
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\">\n");
    out.push_str(&format!("  <id>{}</id>\n", xml(&head.self_url)));
    out.push_str(&format!("  <title>{}</title>\n", xml(&head.title)));
    out.push_str(&format!("  <updated>{}</updated>\n", timestamp(&updated)));
    out.push_str("  <author><name>paperscope</name></author>\n");
    out.push_str("  <generator>paperscope</generator>\n");
    out.push_str(&format!(
        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n",
        xml(&head.self_url)
    ));
    out.push_str(&format!(
        "  <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
        xml(&head.page_url)
    ));
    for entry in entries {
        write_entry(&mut out, entry, base);
    }
    out.push_str("</feed>\n");
    out
}

fn write_entry(out: &mut String, entry: &Entry, base: &str) {
    let p = &entry.paper;
    let arxiv = abs_url(&p.arxiv_id);
    let category = p.categories().into_iter().next();
    out.push_str("  <entry>\n");
    out.push_str(&format!("    <id>{}</id>\n", xml(&arxiv)));
    out.push_str(&format!("    <title>{}</title>\n", xml(&p.title_en)));
    if let Some(day) = &entry.day {
        out.push_str(&format!("    <updated>{}</updated>\n", timestamp(day)));
    }
    out.push_str(&format!(
        "    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
        xml(&arxiv)
    ));
    out.push_str(&format!(
        "    <link rel=\"related\" type=\"text/html\" title=\"paperscope\" href=\"{}\"/>\n",
        xml(&format!("{base}/#/paper/{}", p.arxiv_id))
    ));
    if let Some(category) = &category {
        out.push_str(&format!(
            "    <category term=\"{}\" scheme=\"https://arxiv.org/archive\"/>\n",
            xml(category)
        ));
    }
    // The summary a reader lists: the Chinese title and one-line summary; the content, both
    // titles, the summary and where the paper is.
    out.push_str(&format!(
        "    <summary xml:lang=\"zh-CN\">{}</summary>\n",
        xml(format!("{}\n{}", p.title_zh, p.summary_zh).trim())
    ));
    let mut html = format!("<p><strong>{}</strong></p>", xml(&p.title_en));
    if !p.title_zh.is_empty() {
        html.push_str(&format!(
            "<p lang=\"zh-CN\"><strong>{}</strong></p>",
            xml(&p.title_zh)
        ));
    }
    if !p.summary_zh.is_empty() {
        html.push_str(&format!("<p lang=\"zh-CN\">{}</p>", xml(&p.summary_zh)));
    }
    let facts: Vec<String> = [
        Some(format!("arXiv:{}", p.arxiv_id)),
        entry.month.clone(),
        category,
    ]
    .into_iter()
    .flatten()
    .collect();
    html.push_str(&format!(
        "<p>{} · <a href=\"{}\">arXiv</a></p>",
        xml(&facts.join(" · ")),
        xml(&arxiv)
    ));
    out.push_str(&format!(
        "    <content type=\"html\">{}</content>\n",
        xml(&html)
    ));
    out.push_str("  </entry>\n");
}

/// `http://HOST` as the client reached this server (the `Host` header), for the feed's own
/// links; a feed reader resolves nothing relative to the feed's URL by itself.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && !h.contains(['/', ' ', '"', '<', '>']))
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// Newest first (by the entry's day; no day last), ties in the order given (relevance, or
/// closeness to the topic's centre); then the first `limit`.
fn newest_first(mut entries: Vec<Entry>, limit: usize) -> Vec<Entry> {
    entries.sort_by(|a, b| b.day.cmp(&a.day));
    entries.truncate(limit);
    entries
}

/// The newest digest day among the files the index was built from.
fn newest_digest(engine: &Engine) -> Option<String> {
    engine
        .store()
        .manifest
        .files
        .iter()
        .filter_map(|f| digest_day(&f.path))
        .max()
}

fn atom_response(text: String) -> Response {
    ([(header::CONTENT_TYPE, ATOM)], text).into_response()
}

/// A saved search as a feed: the matching papers, newest first.
#[utoipa::path(get, path = "/feeds/search.atom", tag = "feeds",
    params(
        ("q" = String, Query, description = "The query, as for /api/search"),
        ("mode" = Option<String>, Query, description = "hybrid (default), bm25 or vector"),
        ("category" = Option<String>, Query, description = "Only these categories"),
        ("since" = Option<String>, Query, description = "First month, YYYY-MM"),
        ("until" = Option<String>, Query, description = "Last month, YYYY-MM"),
        ("limit" = Option<usize>, Query, description = "Entries, 1 to 1000 (default 50)"),
        ("alpha" = Option<f32>, Query, description = "Hybrid's vector weight, 0 to 1"),
    ),
    responses(
        (status = 200, description = "An Atom 1.0 feed", content_type = "application/atom+xml", body = String),
        (status = 400, body = super::ErrorBody, description = "A bad parameter, named"),
    ))]
pub async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut params = Params::parse(raw.as_deref())?;
    let text = params
        .one("q")?
        .ok_or_else(|| ApiError::bad("q", "required: the words the feed follows"))?;
    let mode = params.library::<Mode>("mode")?.unwrap_or_default();
    let limit = params.count("limit", DEFAULT_FEED_ENTRIES, MAX_PAGE_LIMIT)?;
    let request = SearchRequest::new(text.clone())
        .mode(mode)
        .filters(filters(&mut params)?)
        .page(Page {
            offset: 0,
            limit: FEED_DEPTH,
            sort: Sort::Relevance,
        })
        .fusion_if(fusion(&mut params)?);
    params.finish()?;
    let base = base_url(&headers);
    let head = Head {
        title: format!("paperscope: {text}"),
        self_url: format!("{base}/feeds/search.atom?{}", raw.unwrap_or_default()),
        page_url: format!(
            "{base}/#/search?q={}",
            percent_encoding::utf8_percent_encode(&text, percent_encoding::NON_ALPHANUMERIC)
        ),
    };
    let body = with_engine(state, move |_, engine| {
        let response = engine.search(&request)?;
        let mut entries = Vec::new();
        for r in response.results {
            // A hybrid result with no BM25 side contains none of the query's words.
            if response.mode != Mode::Vector && r.why.bm25_rank.is_none() {
                continue;
            }
            entries.push(Entry::of(engine.store().text.paper_by_number(r.number)?));
        }
        let entries = newest_first(entries, limit);
        Ok(atom(&head, &entries, &base, newest_digest(engine)))
    })
    .await?;
    Ok(atom_response(body))
}

/// A topic as a feed: its papers, newest first.
#[utoipa::path(get, path = "/feeds/topics/{id}.atom", tag = "feeds",
    params(
        ("id" = usize, Path, description = "Topic id, as /api/topics lists them"),
        ("level" = Option<String>, Query, description = "fine (default) or coarse"),
        ("limit" = Option<usize>, Query, description = "Entries, 1 to 1000 (default 50)"),
    ),
    responses(
        (status = 200, description = "An Atom 1.0 feed", content_type = "application/atom+xml", body = String),
        (status = 400, body = super::ErrorBody, description = "A bad parameter, named"),
        (status = 404, body = super::ErrorBody, description = "No such topic"),
    ))]
pub async fn topic(
    State(state): State<AppState>,
    headers: HeaderMap,
    file: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let file = file
        .map(|Path(v)| v)
        .map_err(|e| ApiError::bad("id", e.body_text()))?;
    let Some(id) = file.strip_suffix(".atom") else {
        return Err(ApiError::not_found(
            None,
            format!(
                "no such endpoint: /feeds/topics/{file} (a topic's feed is /feeds/topics/ID.atom)"
            ),
        ));
    };
    let mut params = Params::parse(raw.as_deref())?;
    let level = params.library::<TopicLevel>("level")?.unwrap_or_default();
    let limit = params.count("limit", DEFAULT_FEED_ENTRIES, MAX_PAGE_LIMIT)?;
    params.finish()?;
    let asked = id.to_string();
    let no_topic = move || {
        ApiError::not_found(
            Some("id"),
            format!("no topic {asked:?}: /api/topics lists them"),
        )
    };
    let number: usize = id.trim().parse().map_err(|_| no_topic())?;
    let base = base_url(&headers);
    let self_url = format!(
        "{base}/feeds/topics/{number}.atom{}",
        raw.map(|q| format!("?{q}")).unwrap_or_default()
    );
    let body = with_engine(state, move |_, engine| {
        let model = engine.topics(level)?;
        if !model.topics.iter().any(|t| t.id == number) {
            return Err(no_topic());
        }
        let (topic, papers) = engine.topic(&model, number, usize::MAX)?;
        let label: Vec<&str> = topic.label_en.iter().take(4).map(String::as_str).collect();
        let head = Head {
            title: format!("paperscope topic {number}: {}", label.join(", ")),
            self_url,
            page_url: format!("{base}/#/topic/{number}"),
        };
        let entries = newest_first(papers.into_iter().map(Entry::of).collect(), limit);
        Ok(atom(&head, &entries, &base, newest_digest(engine)))
    })
    .await?;
    Ok(atom_response(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_day_comes_from_the_file_name_only_when_it_is_a_date() {
        assert_eq!(
            digest_day("data/digests/2024-03-14_cs.CL_18881a92.md").as_deref(),
            Some("2024-03-14")
        );
        assert_eq!(digest_day("2024-13-14_cs.CL.md"), None);
        assert_eq!(digest_day("notes.md"), None);
        assert_eq!(digest_day("2024-03-1x.md"), None);
    }

    #[test]
    fn xml_escapes_markup_and_drops_forbidden_characters() {
        assert_eq!(
            xml("a<b & \"c\" 'd'\u{0}\u{1b}>\n"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;\n"
        );
    }
}
