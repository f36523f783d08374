//! Everything the CLI prints: results, papers, topics, measurements; colours only on a terminal.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;

use anyhow::Result;
use paperscope::digest::Skipped;
use paperscope::eval::{self, Report};
use paperscope::search::SearchResponse;
use paperscope::text::truncate_chars;
use paperscope::topics::{Topic, TopicModel};
use paperscope::update::{IndexReport, Update};
use paperscope::vectors::VectorParams;
use paperscope::{Engine, Paper};
use serde::Serialize;

/// Prints `value` as one pretty JSON document.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `topics --json`: the topics without their centroids, and every paper's assignment.
#[derive(Serialize)]
pub struct TopicsJson<'a> {
    topics: Vec<TopicJson<'a>>,
    assignments: &'a [paperscope::topics::Assignment],
}

#[derive(Serialize)]
struct TopicJson<'a> {
    id: usize,
    size: usize,
    label_en: &'a [String],
    label_zh: &'a [String],
    representative: &'a [String],
}

impl<'a> TopicsJson<'a> {
    /// The JSON view of `model`.
    pub fn of(model: &'a TopicModel) -> Self {
        TopicsJson {
            topics: model
                .topics
                .iter()
                .map(|t| TopicJson {
                    id: t.id,
                    size: t.size,
                    label_en: &t.label_en,
                    label_zh: &t.label_zh,
                    representative: &t.representative,
                })
                .collect(),
            assignments: &model.assignments,
        }
    }
}

/// The two lines `index` prints: what was read, and what the write did.
pub fn index_summary(report: &IndexReport) -> String {
    let read = format!(
        "Read {} entries from {} files: {} papers ({} duplicate entries merged, {} warnings).",
        report.entries,
        report.files,
        report.papers_read,
        report.duplicates,
        report.warnings.len()
    );
    let read = match report.skipped.iter().filter(|s| !s.not_a_digest).count() {
        0 => read,
        bad => format!(
            "{read}\nSkipped {bad} bad file{} (see the warnings above).",
            if bad == 1 { "" } else { "s" }
        ),
    };
    let read = match report.skipped.iter().filter(|s| s.not_a_digest).count() {
        0 => read,
        notes => format!(
            "{read}\nPassed over {notes} Markdown file{} that {} not digests.",
            if notes == 1 { "" } else { "s" },
            if notes == 1 { "is" } else { "are" }
        ),
    };
    let index = report.index.display();
    let result = match report.update {
        Update::Unchanged { papers } => format!("Index {index} unchanged: {papers} papers."),
        Update::Written {
            generation,
            papers,
            added,
            updated,
            embedded,
            ..
        } => format!(
            "Index {index} generation {generation}: {papers} papers ({added} added, {updated} updated, {embedded} embedded) in {:.1} s.",
            report.seconds
        ),
    };
    format!("{read}\n{result}")
}

/// The line for a file left out of an index run: a warning for a bad file, a note for a
/// Markdown file that is not a digest.
pub fn skipped(skipped: &Skipped) -> String {
    if skipped.not_a_digest {
        format!(
            "note: {}: not a digest (no `[^N]:` entries); skipped",
            skipped.file.display()
        )
    } else {
        format!("warning: {}; file skipped", skipped.error)
    }
}

/// One topic and its papers.
pub fn topic(topic: &Topic, papers: &[Paper]) {
    println!(
        "Topic {} ({} papers): {} / {}",
        topic.id,
        topic.size,
        topic.label_en[..topic.label_en.len().min(5)].join(" · "),
        topic.label_zh[..topic.label_zh.len().min(5)].join(" · ")
    );
    for p in papers {
        println!(
            "  {}  {}\n              {}",
            p.arxiv_id, p.title_en, p.title_zh
        );
    }
}

/// The HNSW recall curve.
pub fn ann(report: &eval::AnnReport, params: VectorParams) {
    println!(
        "HNSW over {} papers (M={}, ef_construction={}): built in {:.2} s; {} queries",
        report.papers, params.m, params.ef_construction, report.build_seconds, report.queries
    );
    println!("exact search: {:.0} µs/query", report.exact_latency_us);
    println!("{:>6} {:>10} {:>12}", "ef", "recall@10", "µs/query");
    for p in &report.curve {
        println!("{:>6} {:>10.4} {:>12.0}", p.ef, p.recall10, p.latency_us);
    }
}

pub fn describe_why(why: &paperscope::hybrid::Why) -> String {
    let bm25 = match (why.bm25_rank, why.bm25_score) {
        (Some(rank), Some(score)) => format!("bm25 #{rank} ({score:.2})"),
        _ => "bm25 -".to_string(),
    };
    let vector = match (why.vector_rank, why.cosine) {
        (Some(rank), Some(cosine)) => format!("vector #{rank} (cos {cosine:.3})"),
        (None, Some(cosine)) => format!("vector - (cos {cosine:.3})"),
        _ => "vector -".to_string(),
    };
    format!("why: {bm25}, {vector}, fused {:.3}", why.fused)
}

struct Style {
    on: bool,
}

impl Style {
    fn stdout() -> Self {
        Style {
            on: std::io::stdout().is_terminal(),
        }
    }
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    /// Matched terms: bold yellow on a terminal, `[term]` elsewhere.
    fn highlight(&self, text: &str, ranges: &[(usize, usize)]) -> String {
        let mut out = String::new();
        let mut at = 0;
        for &(start, end) in ranges {
            if start < at
                || end > text.len()
                || !text.is_char_boundary(start)
                || !text.is_char_boundary(end)
            {
                continue;
            }
            out.push_str(&text[at..start]);
            let term = &text[start..end];
            out.push_str(&if self.on {
                self.paint("1;33", term)
            } else {
                format!("[{term}]")
            });
            at = end;
        }
        out.push_str(&text[at..]);
        out
    }
}

pub fn search(response: &SearchResponse, json: bool, explain: bool) -> Result<()> {
    for warning in &response.warnings {
        eprintln!("warning: {warning}");
    }
    if json {
        return self::json(response);
    }
    let style = Style::stdout();
    if let Some(typed) = &response.corrected_from {
        println!(
            "No papers match {typed:?}; showing results for {:?}.\n",
            response.query
        );
    }
    if response.results.is_empty() {
        println!("No papers match {:?}.", response.query);
        return Ok(());
    }
    for r in &response.results {
        let version = r.version.map(|v| format!("v{v}")).unwrap_or_default();
        println!(
            "{:>3}. {}{} {}  {}",
            r.rank,
            style.paint("36", &r.arxiv_id),
            version,
            style.paint("1", &r.title_en),
            style.paint("2", &format!("score {:.2}", r.score)),
        );
        println!("     {}", r.title_zh);
        if let Some(category) = &r.category {
            println!("     {}", style.paint("2", category));
        }
        println!("     {}", style.highlight(&r.snippet, &r.highlights));
        if explain {
            println!("     {}", style.paint("2", &describe_why(&r.why)));
        }
        println!();
    }
    let method = match &response.fusion {
        Some(fusion) => format!("{}, {fusion}", response.mode),
        None => response.mode.to_string(),
    };
    println!(
        "{} of {} matching papers, {:.1} ms ({method})",
        response.results.len(),
        response.total,
        response.took_ms,
    );
    if let Some(suggestion) = &response.did_you_mean {
        println!("Did you mean: {suggestion}?");
    }
    Ok(())
}

pub fn eval(reports: &[Report], query_count: usize) {
    println!("{query_count} judged queries");
    println!(
        "{:<10} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9}",
        "method", "nDCG@10", "MRR@10", "R@10", "R@100", "p50 ms", "p99 ms"
    );
    for r in reports {
        let m = &r.overall;
        println!(
            "{:<10} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>9.2} {:>9.2}",
            r.method,
            m.ndcg10,
            m.mrr10,
            m.recall10,
            m.recall100,
            r.latency_p50_ms,
            r.latency_p99_ms
        );
    }
    println!("\nnDCG@10 by group:");
    let groups: Vec<&String> = reports
        .first()
        .map(|r| r.by_group.keys().collect())
        .unwrap_or_default();
    print!("{:<10}", "method");
    for g in &groups {
        print!(" {g:>8}");
    }
    println!();
    for r in reports {
        print!("{:<10}", r.method);
        for g in &groups {
            print!(" {:>8.3}", r.by_group.get(*g).map_or(0.0, |m| m.ndcg10));
        }
        println!();
    }
}

pub fn crosslingual(r: &eval::CrossLingual, model: &str) {
    println!(
        "Cross-lingual known-item retrieval over {} papers ({model}, {:.1} s)",
        r.papers, r.seconds
    );
    println!(
        "{:<44} {:>7} {:>7} {:>7}",
        "query -> documents", "R@1", "R@10", "MRR"
    );
    for (name, k) in [
        (
            "zh one-line summary -> en title+abstract",
            &r.zh_summary_to_en,
        ),
        (
            "  same, Latin-script words removed",
            &r.zh_summary_no_latin_to_en,
        ),
        ("en title -> zh title+summary+abstract", &r.en_title_to_zh),
    ] {
        println!("{name:<44} {:>7.3} {:>7.3} {:>7.3}", k.r1, k.r10, k.mrr);
    }
}

pub fn paper(p: &Paper) {
    let style = Style::stdout();
    println!(
        "{} {}",
        style.paint("36", &p.versioned_id()),
        style.paint("1", &p.title_en)
    );
    println!("{}", p.title_zh);
    println!("{}", p.url);
    let categories = p.categories().join(", ");
    let month = p
        .year_month()
        .map(|(y, m)| format!("{y}-{m:02}"))
        .unwrap_or_default();
    println!(
        "{} {} {}",
        style.paint("2", &categories),
        month,
        p.announce_type.as_deref().unwrap_or("")
    );
    println!();
    println!("{}", style.paint("1", "摘要 (一句话)"));
    println!("{}", p.summary_zh);
    if let Some(summary_en) = &p.summary_en {
        println!("{summary_en}");
    }
    println!();
    println!("{}", style.paint("1", "Abstract"));
    println!("{}", p.abstract_en);
    println!();
    println!("{}", style.paint("1", "摘要"));
    println!("{}", p.abstract_zh);
    println!();
    println!(
        "{}",
        style.paint("2", &format!("from {}:{}", p.source_file, p.source_line))
    );
}

pub fn stats(s: &paperscope::stats::Stats) {
    println!(
        "{} papers ({} with a Chinese abstract, {} with an English one)",
        s.papers, s.with_chinese_abstract, s.with_english_abstract
    );
    println!("\nBy category:");
    let mut categories: Vec<_> = s.by_category.iter().collect();
    categories.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (category, count) in categories {
        println!("  {category:<16} {count:>6}");
    }
    println!("\nBy month (first submission):");
    for (month, count) in &s.by_month {
        println!("  {month}  {count:>6}");
    }
}

pub fn topic_quality(q: &eval::TopicQuality) {
    println!(
        "{} topics over {} papers, fitted in {:.1} s",
        q.topics, q.papers, q.fit_seconds
    );
    println!(
        "NMI {:.3}, ARI {:.3} against arXiv categories ({} papers whose entry names one)",
        q.nmi, q.ari, q.labelled_papers
    );
    println!(
        "label coherence (NPMI of the top 10): English {:.3}, Chinese {:.3}",
        q.npmi_en, q.npmi_zh
    );
    println!(
        "label diversity (unique share of the top 25, both languages): {:.3}",
        q.diversity
    );
    println!(
        "outliers {:.1}%, largest topic {:.1}% of papers",
        100.0 * q.outlier_share,
        100.0 * q.largest_topic_share
    );
}

pub fn topics(engine: &Engine, model: &TopicModel) -> Result<()> {
    let outliers = model.assignments.iter().filter(|a| a.topic < 0).count();
    println!(
        "{} topics over {} papers ({} outliers, shown under their nearest topic)\n",
        model.topics.len(),
        model.assignments.len(),
        outliers
    );
    for t in &model.topics {
        let en = t
            .label_en
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join(" · ");
        let zh = t
            .label_zh
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join(" · ");
        println!("{:>3}  {:>5} papers  {en} / {zh}", t.id, t.size);
        for id in &t.representative {
            if let Some(p) = engine.store().text.paper_by_id(id)? {
                println!("       {}  {}", p.arxiv_id, truncate_chars(&p.title_en, 90));
            }
        }
    }
    Ok(())
}

pub fn over_time(model: &TopicModel, table: &BTreeMap<usize, BTreeMap<String, usize>>) {
    let months: BTreeSet<&String> = table.values().flat_map(|m| m.keys()).collect();
    let years: BTreeSet<&str> = months.iter().map(|m| &m[..4]).collect();
    print!("{:<44}", "topic");
    for y in &years {
        print!(" {y:>6}");
    }
    println!();
    for t in &model.topics {
        let label = truncate_chars(
            &t.label_en
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(" · "),
            38,
        );
        print!("{:>3} {label:<40}", t.id);
        for y in &years {
            let count: usize = table.get(&t.id).map_or(0, |m| {
                m.iter()
                    .filter(|(k, _)| k.starts_with(y))
                    .map(|(_, v)| v)
                    .sum()
            });
            print!(" {count:>6}");
        }
        println!();
    }
    println!("\n(per month: --json)");
}

/// `check`: one line per problem (the file, what is wrong), then the command that recovers.
pub fn check(report: &paperscope::store::CheckReport) {
    let index = report.index.display();
    for note in &report.notes {
        println!("note: {note}");
    }
    if report.healthy {
        println!(
            "Index {index} is healthy: generation {}, {} papers, {} files checked.",
            report.generation.unwrap_or_default(),
            report.papers.unwrap_or_default(),
            report.files_checked
        );
        return;
    }
    for problem in &report.problems {
        println!("damaged: {}: {}", problem.path.display(), problem.reason);
    }
    if let Some(command) = &report.recover {
        println!("Recover with: {command}");
    }
}
