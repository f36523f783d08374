//! The text an assistant reads of each answer: short Markdown with what it needs to cite a
//! paper (arXiv id and URL, both titles, the Chinese summary, the month), and a plain sentence
//! when nothing matched. The full answer travels beside it as structured content.

use std::fmt::Write;

use crate::paper::{Paper, abs_url};
use crate::search::{SearchResponse, SearchResult};
use crate::stats::Stats;
use crate::topics::{Topic, TopicSummary};

/// Label terms shown per language.
const LABEL_TERMS: usize = 6;

fn month_of(paper: &Paper) -> Option<String> {
    paper.year_month().map(|(y, m)| format!("{y:04}-{m:02}"))
}

/// `2403.05266 · 2024-03 · cs.CL · https://arxiv.org/abs/2403.05266`
fn facts(id: &str, month: Option<&str>, category: Option<&str>, url: &str) -> String {
    let mut parts = vec![id.to_string()];
    parts.extend(month.map(str::to_string));
    parts.extend(category.map(str::to_string));
    parts.push(url.to_string());
    parts.join(" · ")
}

fn result(out: &mut String, r: &SearchResult) {
    let _ = writeln!(out, "{}. {}", r.rank, r.title_en);
    if !r.title_zh.is_empty() {
        let _ = writeln!(out, "   {}", r.title_zh);
    }
    let _ = writeln!(
        out,
        "   {}",
        facts(
            &r.arxiv_id,
            r.month.as_deref(),
            r.category.as_deref(),
            &r.url
        )
    );
    if !r.summary_zh.is_empty() {
        let _ = writeln!(out, "   摘要: {}", r.summary_zh);
    }
}

fn results(out: &mut String, response: &SearchResponse) {
    for r in &response.results {
        result(out, r);
    }
    let shown = response.offset + response.results.len();
    if response.total > shown {
        let _ = writeln!(
            out,
            "\n{} more: call again with offset {shown}.",
            response.total - shown
        );
    }
    for warning in &response.warnings {
        let _ = writeln!(out, "Note: {warning}");
    }
}

fn range(response: &SearchResponse) -> String {
    let first = response.offset + 1;
    let last = response.offset + response.results.len();
    if first == last {
        format!("result {first}")
    } else {
        format!("results {first}-{last}")
    }
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A search's answer; "no paper matches" when nothing did (with the spelling suggestion).
pub fn search(response: &SearchResponse) -> String {
    let mut out = String::new();
    if let Some(typed) = &response.corrected_from {
        let _ = writeln!(
            out,
            "No paper matches \"{typed}\"; showing results for \"{}\" instead.",
            response.query
        );
    }
    if response.results.is_empty() {
        let _ = write!(out, "No paper matches \"{}\"", response.query);
        if response.offset > 0 && response.total > 0 {
            let _ = write!(
                out,
                " past offset {} ({} matched)",
                response.offset,
                plural(response.total, "paper")
            );
        }
        out.push('.');
        if let Some(suggestion) = &response.did_you_mean {
            let _ = write!(out, " Did you mean \"{suggestion}\"?");
        }
        out.push('\n');
        return out;
    }
    let _ = writeln!(
        out,
        "{} for \"{}\" ({} search), {}, {}:",
        plural(response.total, "paper"),
        response.query,
        response.mode.name(),
        range(response),
        match response.sort {
            crate::search::Sort::Relevance => "best first",
            crate::search::Sort::Date => "newest first",
        }
    );
    if let Some(suggestion) = &response.did_you_mean {
        let _ = writeln!(out, "(Did you mean \"{suggestion}\"?)");
    }
    out.push('\n');
    results(&mut out, response);
    out
}

/// A related search's answer.
pub fn related(response: &SearchResponse) -> String {
    let mut out = String::new();
    let like = if response.seeds.is_empty() {
        format!("the text \"{}\"", response.query)
    } else {
        response
            .seeds
            .iter()
            .map(|s| format!("{} ({})", s.arxiv_id, s.title_en))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if response.results.is_empty() {
        let _ = writeln!(out, "No paper found like {like} with these filters.");
        return out;
    }
    let _ = writeln!(out, "Papers like {like}, {}:\n", range(response));
    results(&mut out, response);
    out
}

/// One paper in full.
pub fn paper(paper: &Paper) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}", paper.title_en);
    if !paper.title_zh.is_empty() {
        let _ = writeln!(out, "{}", paper.title_zh);
    }
    let category = paper.categories().into_iter().next();
    let _ = writeln!(
        out,
        "\n{}",
        facts(
            &paper.versioned_id(),
            month_of(paper).as_deref(),
            category.as_deref(),
            &abs_url(&paper.arxiv_id)
        )
    );
    if !paper.summary_zh.is_empty() {
        let _ = writeln!(out, "\n摘要: {}", paper.summary_zh);
    }
    if let Some(summary) = paper.summary_en.as_deref().filter(|s| !s.is_empty()) {
        let _ = writeln!(out, "Summary: {summary}");
    }
    if !paper.abstract_en.is_empty() {
        let _ = writeln!(out, "\n## Abstract\n{}", paper.abstract_en);
    }
    if !paper.abstract_zh.is_empty() {
        let _ = writeln!(out, "\n## 中文摘要\n{}", paper.abstract_zh);
    }
    out
}

fn label(en: &[String], zh: &[String]) -> String {
    let take = |terms: &[String]| {
        terms
            .iter()
            .take(LABEL_TERMS)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (en.is_empty(), zh.is_empty()) {
        (false, false) => format!("{} / {}", take(en), take(zh)),
        (false, true) => take(en),
        _ => take(zh),
    }
}

/// The list of topics.
pub fn topics(topics: &[TopicSummary], level: &str) -> String {
    let mut out = format!(
        "{} ({level}), largest first:\n\n",
        plural(topics.len(), "topic")
    );
    for t in topics {
        let _ = writeln!(
            out,
            "{}. {} — {}",
            t.id,
            label(&t.label_en, &t.label_zh),
            plural(t.size, "paper")
        );
    }
    out
}

/// One topic and its papers.
pub fn topic(topic: &Topic, papers: &[Paper]) -> String {
    let mut out = format!(
        "Topic {}: {} ({}); {} closest to its centre:\n\n",
        topic.id,
        label(&topic.label_en, &topic.label_zh),
        plural(topic.size, "paper"),
        papers.len()
    );
    for (i, p) in papers.iter().enumerate() {
        let _ = writeln!(out, "{}. {}", i + 1, p.title_en);
        if !p.title_zh.is_empty() {
            let _ = writeln!(out, "   {}", p.title_zh);
        }
        let category = p.categories().into_iter().next();
        let _ = writeln!(
            out,
            "   {}",
            facts(
                &p.arxiv_id,
                month_of(p).as_deref(),
                category.as_deref(),
                &abs_url(&p.arxiv_id)
            )
        );
        if !p.summary_zh.is_empty() {
            let _ = writeln!(out, "   摘要: {}", p.summary_zh);
        }
    }
    out
}

/// The collection's counts.
pub fn stats(stats: &Stats) -> String {
    let mut out = format!(
        "{} ({} with an English abstract, {} with a Chinese one).\n\nBy month:\n",
        plural(stats.papers, "paper"),
        stats.with_english_abstract,
        stats.with_chinese_abstract
    );
    for (month, n) in &stats.by_month {
        let _ = writeln!(out, "- {month}: {n}");
    }
    let mut categories: Vec<(&String, &usize)> = stats.by_category.iter().collect();
    categories.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    out.push_str("\nBy category, largest first:\n");
    for (category, n) in categories {
        let _ = writeln!(out, "- {category}: {n}");
    }
    out
}
