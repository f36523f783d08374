//! Everything the CLI prints: results, papers, topics, measurements; colours only on a terminal
//! (or as `--color` says), lines fitted to the terminal's width.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::sync::OnceLock;

use anyhow::Result;
use paperscope::digest::Skipped;
use paperscope::eval::{self, Report};
use paperscope::references::{self, Reference, ReferenceFormat};
use paperscope::search::{SearchResponse, SearchResult};
use paperscope::text::truncate_chars;
use paperscope::topics::{Topic, TopicModel};
use paperscope::update::{IndexReport, Update};
use paperscope::vectors::VectorParams;
use paperscope::{Engine, Paper};
use serde::Serialize;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::args::{ColorArg, ResultFormat};

static COLOR: OnceLock<ColorArg> = OnceLock::new();

/// Sets `--color` for everything printed after (once, before any output).
pub fn set_color(color: ColorArg) {
    let _ = COLOR.set(color);
}

/// Whether to colour stdout: `--color always|never` decide; `auto` colours a terminal unless
/// `NO_COLOR` is set to anything non-empty (https://no-color.org).
fn color_on() -> bool {
    match COLOR.get().copied().unwrap_or(ColorArg::Auto) {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// The width lines are fitted to when it cannot be known (not a terminal, no `COLUMNS`).
pub const DEFAULT_WIDTH: usize = 100;

/// The width of the output: the terminal's, else `$COLUMNS`, else [`DEFAULT_WIDTH`]. Never
/// below 40, where nothing useful fits any more.
pub fn width() -> usize {
    static WIDTH: OnceLock<usize> = OnceLock::new();
    *WIDTH.get_or_init(|| {
        console::Term::stdout()
            .size_checked()
            .map(|(_, columns)| usize::from(columns))
            .or_else(|| {
                std::env::var("COLUMNS")
                    .ok()
                    .and_then(|c| c.trim().parse().ok())
                    .filter(|&c: &usize| c > 0)
            })
            .unwrap_or(DEFAULT_WIDTH)
            .max(40)
    })
}

/// Columns a character takes in a terminal (two for CJK, none for a combining mark).
fn char_width(c: char) -> usize {
    UnicodeWidthChar::width(c).unwrap_or(0)
}

/// Columns `text` takes in a terminal.
pub fn display_width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// `text` cut to at most `columns` columns, with `…` when cut.
pub fn fit(text: &str, columns: usize) -> String {
    console::truncate_str(text, columns, "…").into_owned()
}

/// Byte ranges of the lines `text` wraps into at `columns` columns: at spaces where there are
/// some, anywhere in Chinese text (which has none).
pub fn wrap_ranges(text: &str, columns: usize) -> Vec<(usize, usize)> {
    let columns = columns.max(10);
    let mut lines = Vec::new();
    let mut start = 0;
    let mut used = 0;
    let mut last_space: Option<usize> = None;
    for (at, c) in text.char_indices() {
        if c == '\n' {
            lines.push((start, at));
            start = at + 1;
            used = 0;
            last_space = None;
            continue;
        }
        let w = char_width(c);
        if used + w > columns && at > start {
            let cut = last_space.filter(|&s| s > start).unwrap_or(at);
            lines.push((start, cut));
            start = if cut < at && text[cut..].starts_with(' ') {
                cut + 1
            } else {
                cut
            };
            used = display_width(&text[start..at]);
            last_space = None;
        }
        if c == ' ' {
            last_space = Some(at);
        }
        used += w;
    }
    if start < text.len() || lines.is_empty() {
        lines.push((start, text.len()));
    }
    lines
}

/// Prints `text` wrapped to the width, each line after `indent`.
fn print_wrapped(indent: &str, text: &str) {
    let columns = width().saturating_sub(display_width(indent));
    for (start, end) in wrap_ranges(text, columns) {
        println!("{indent}{}", &text[start..end]);
    }
}

/// A directory as a message names it: with one trailing `/`, however it was typed (`export/`
/// stays `export/`, not `export//`).
pub fn dir(path: &std::path::Path) -> String {
    let shown = path.display().to_string();
    if shown.ends_with('/') {
        shown
    } else {
        format!("{shown}/")
    }
}

/// A count with thousands separated (`8,320`), as the counts of a summary are read.
pub fn count(n: usize) -> String {
    paperscope::text::thousands(n)
}

/// Prints `value` as one pretty JSON document.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
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
    let index = dir(&report.index);
    let result = match report.update {
        Update::Unchanged { papers } => {
            format!("Index at {index} unchanged: {} papers.", count(papers))
        }
        Update::Written {
            generation,
            papers,
            added,
            updated,
            embedded,
            texts_cached,
            texts_embedded,
            words_first,
            ..
        } => {
            let words = match words_first {
                Some((first, ms)) => format!(
                    "\nSearchable by words after {:.1} s (generation {first}), by meaning when \
                     every vector was made.",
                    ms as f64 / 1000.0
                ),
                None => String::new(),
            };
            let vectors = if embedded == 0 {
                String::new()
            } else if texts_cached > 0 {
                format!(
                    "\nVectors of {} papers: {} texts embedded, {} from the cache.",
                    count(embedded),
                    count(texts_embedded),
                    count(texts_cached)
                )
            } else {
                format!(
                    "\nVectors of {} papers: {} texts embedded.",
                    count(embedded),
                    count(texts_embedded)
                )
            };
            format!(
                "Wrote generation {generation} of index {index}: {} papers ({} added, {} updated) in {:.1} s.{words}{vectors}",
                count(papers),
                count(added),
                count(updated),
                report.seconds
            )
        }
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
    let columns = width();
    let head = format!(
        "Topic {} ({} papers): {} / {}",
        topic.id,
        topic.size,
        topic.label_en[..topic.label_en.len().min(5)].join(" · "),
        topic.label_zh[..topic.label_zh.len().min(5)].join(" · ")
    );
    println!("{}", fit(&head, columns));
    for p in papers {
        let month = p
            .year_month()
            .map(|(y, m)| format!("{y}-{m:02}"))
            .unwrap_or_default();
        let head = format!("  {}  {month:<7}  ", p.arxiv_id);
        let room = columns.saturating_sub(display_width(&head));
        println!("{head}{}", fit(&p.title_en, room));
        println!(
            "{:w$}{}",
            "",
            fit(&p.title_zh, room),
            w = display_width(&head)
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
    // The feedback stage ran: say how near the first results' meaning the paper is, and
    // whether only that stage brought it.
    let feedback = match (why.feedback_cosine, why.feedback_rank) {
        (Some(cosine), _) if why.bm25_rank.is_none() && why.vector_rank.is_none() => {
            format!(", found by meaning feedback (cos {cosine:.3} to the first results)")
        }
        (Some(cosine), _) => format!(", feedback cos {cosine:.3}"),
        _ => String::new(),
    };
    format!("why: {bm25}, {vector}{feedback}, fused {:.3}", why.fused)
}

/// Why a related paper is shown, one line: the terms it shares with the seeds (English, then
/// Chinese) and its word and meaning similarity.
pub fn describe_related(why: &paperscope::search::RelatedWhy) -> String {
    let mut terms: Vec<&str> = why.terms_en.iter().map(String::as_str).collect();
    terms.extend(why.terms_zh.iter().map(String::as_str));
    let shared = if terms.is_empty() {
        "no shared key terms".to_string()
    } else {
        format!("shares: {}", terms.join(", "))
    };
    format!(
        "{shared}  (words {:.2}, meaning {:.2})",
        why.words, why.meaning
    )
}

struct Style {
    on: bool,
}

impl Style {
    fn stdout() -> Self {
        Style { on: color_on() }
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

/// A search or related answer in `format`; warnings go to stderr whatever the format.
pub fn search(response: &SearchResponse, format: ResultFormat, explain: bool) -> Result<()> {
    for warning in &response.warnings {
        eprintln!("warning: {warning}");
    }
    if let Some(references) = format.references() {
        let rows: Vec<Reference> = response.results.iter().map(Reference::of_result).collect();
        export(&rows, references);
        return Ok(());
    }
    if format == ResultFormat::Json {
        return self::json(response);
    }
    let style = Style::stdout();
    let columns = width();
    // A related search names what it relates to first: the results alone do not say.
    if !response.seeds.is_empty() {
        println!("Papers like:");
        for seed in &response.seeds {
            let line = format!("  {}  {}", seed.arxiv_id, seed.title_en);
            println!("{}", style.paint("1", &fit(&line, columns)));
        }
        println!();
    } else if response.query.starts_with("related to text:") {
        println!(
            "{}\n",
            style.paint("1", &fit(&format!("Papers {}", response.query), columns))
        );
    }
    if let Some(typed) = &response.corrected_from {
        println!(
            "No papers match {typed:?}; showing results for {:?}.\n",
            response.query
        );
    }
    if response.results.is_empty() {
        if response.offset > 0 {
            println!(
                "No results from --offset {} ({} matching papers).",
                response.offset, response.total
            );
        } else {
            println!("No papers match {:?}.", response.query);
        }
        return Ok(());
    }
    for r in &response.results {
        print_result(r, &style, columns, explain);
    }
    let method = match &response.fusion {
        Some(fusion) => format!("{}, {fusion}", response.mode),
        None => response.mode.to_string(),
    };
    let first = response.offset + 1;
    let last = response.offset + response.results.len();
    let sort = match response.sort {
        paperscope::search::Sort::Date => ", newest first",
        paperscope::search::Sort::Relevance => "",
    };
    let whole = super::STARTED
        .get()
        .map(|t| format!(", {:.2} s in all", t.elapsed().as_secs_f64()))
        .unwrap_or_default();
    println!(
        "{first}-{last} of {} matching papers{sort}, search {:.1} ms{whole} ({method})",
        response.total, response.took_ms,
    );
    if let Some(suggestion) = &response.did_you_mean {
        println!("Did you mean: {suggestion}?");
    }
    Ok(())
}

/// One result: rank, id, title and score on the first line (the title cut to fit), the Chinese
/// title, category, month and URL, then the snippet wrapped under them.
fn print_result(r: &SearchResult, style: &Style, columns: usize, explain: bool) {
    const INDENT: &str = "     ";
    let version = r.version.map(|v| format!("v{v}")).unwrap_or_default();
    let head = format!("{:>3}. {}{} ", r.rank, r.arxiv_id, version);
    let score = format!("score {:.2}", r.score);
    let room = columns.saturating_sub(display_width(&head) + 2 + score.len());
    println!(
        "{:>3}. {}{} {}  {}",
        r.rank,
        style.paint("36", &r.arxiv_id),
        version,
        style.paint("1", &fit(&r.title_en, room)),
        style.paint("2", &score),
    );
    println!("{INDENT}{}", fit(&r.title_zh, columns - INDENT.len()));
    let facts: Vec<&str> = [r.category.as_deref(), r.month.as_deref(), Some(&r.url)]
        .into_iter()
        .flatten()
        .collect();
    println!("{INDENT}{}", style.paint("2", &facts.join("  ")));
    // A related paper always says why: the reason a reader trusts it, not a debugging aid.
    if let Some(related) = &r.related {
        print_wrapped(INDENT, &describe_related(related));
    }
    if !style.on {
        // The `[...]` markers take columns: wrap the marked text, not the snippet.
        print_wrapped(INDENT, &style.highlight(&r.snippet, &r.highlights));
    }
    let lines = if style.on {
        wrap_ranges(&r.snippet, columns - INDENT.len())
    } else {
        Vec::new()
    };
    for (start, end) in lines {
        let highlights: Vec<(usize, usize)> = r
            .highlights
            .iter()
            .filter(|&&(s, e)| s < end && e > start)
            .map(|&(s, e)| (s.max(start) - start, e.min(end) - start))
            .collect();
        println!(
            "{INDENT}{}",
            style.highlight(&r.snippet[start..end], &highlights)
        );
    }
    if explain {
        println!("{INDENT}{}", style.paint("2", &describe_why(&r.why)));
    }
    println!();
}

/// Prints `references` in a reference manager's or a spreadsheet's format.
pub fn export(references: &[Reference], format: ReferenceFormat) {
    print!("{}", references::write(references, format));
}

pub fn eval(reports: &[Report], query_count: usize) {
    println!("{query_count} judged queries");
    println!(
        "{:<20} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9}",
        "method", "nDCG@10", "MRR@10", "R@10", "R@100", "p50 ms", "p99 ms"
    );
    for r in reports {
        let m = &r.overall;
        println!(
            "{:<20} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>9.2} {:>9.2}",
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
    print!("{:<20}", "method");
    for g in &groups {
        print!(" {g:>8}");
    }
    println!();
    for r in reports {
        print!("{:<20}", r.method);
        for g in &groups {
            print!(" {:>8.3}", r.by_group.get(*g).map_or(0.0, |m| m.ndcg10));
        }
        println!();
    }
}

/// `eval related`: one line per judgement file (the default scoring, and today's fusion beside
/// it), then its groups; then reading lists scored the other way (as a whole, or as the mean of
/// each seed's scores).
pub fn related_quality(
    reports: &[(String, eval::RelatedReport, eval::RelatedReport)],
    lists_by_mean: &[(String, eval::RelatedReport)],
) {
    println!(
        "{:<48} {:>6} {:>8} {:>8}",
        "judgements", "seeds", "P@10", "today"
    );
    for (name, r, today) in reports {
        println!(
            "{:<48} {:>6} {:>8.3} {:>8.3}",
            name, r.seeds, r.precision10, today.precision10
        );
        for (group, p) in &r.by_group {
            let t = today.by_group.get(group).copied().unwrap_or(0.0);
            println!("  {group:<46} {:>6} {p:>8.3} {t:>8.3}", "");
        }
    }
    for (name, r) in lists_by_mean {
        println!("{:<48} {:>6} {:>8.3}", name, r.seeds, r.precision10);
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
    // `show` is read in full: the title wraps under itself rather than being cut.
    let id = p.versioned_id();
    let indent = " ".repeat(id.len() + 1);
    let room = width().saturating_sub(indent.len());
    for (i, (start, end)) in wrap_ranges(&p.title_en, room).into_iter().enumerate() {
        let line = style.paint("1", &p.title_en[start..end]);
        if i == 0 {
            println!("{} {line}", style.paint("36", &id));
        } else {
            println!("{indent}{line}");
        }
    }
    print_wrapped("", &p.title_zh);
    println!("{}", paperscope::paper::abs_url(&p.arxiv_id));
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
    print_wrapped("", &p.summary_zh);
    if let Some(summary_en) = &p.summary_en {
        print_wrapped("", summary_en);
    }
    println!();
    println!("{}", style.paint("1", "Abstract"));
    print_wrapped("", &p.abstract_en);
    println!();
    println!("{}", style.paint("1", "摘要"));
    print_wrapped("", &p.abstract_zh);
    println!();
    println!(
        "{}",
        style.paint("2", &format!("from {}:{}", p.source_file, p.source_line))
    );
}

/// `stats --json`: the counts and the index generation they are of.
#[derive(Serialize)]
pub struct StatsView<'a> {
    /// The index's live generation (what `export --since-generation` counts from).
    pub generation: u64,
    /// Papers with a vector (fewer than `papers` while the index is still being embedded).
    pub papers_with_vectors: usize,
    /// The counts.
    #[serde(flatten)]
    pub stats: &'a paperscope::stats::Stats,
}

pub fn stats(s: &paperscope::stats::Stats, generation: u64, papers_with_vectors: usize) {
    println!(
        "{} papers ({} with a Chinese abstract, {} with an English one), index generation {generation}",
        count(s.papers),
        count(s.with_chinese_abstract),
        count(s.with_english_abstract)
    );
    if papers_with_vectors < s.papers {
        println!(
            "Meaning covers {} of {} papers: the rest are searchable by words while they are \
             embedded (`paperscope index` or `paperscope serve` finishes them)",
            count(papers_with_vectors),
            count(s.papers)
        );
    }
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
    let columns = width();
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
        // Labels and titles are cut to the width: a topic list is scanned, not read.
        let line = format!("{:>3}  {:>5} papers  {en} / {zh}", t.id, t.size);
        println!("{}", fit(&line, columns));
        for id in &t.representative {
            if let Some(p) = engine.store().text.paper_by_id(id)? {
                let head = format!("       {}  ", p.arxiv_id);
                let room = columns.saturating_sub(display_width(&head));
                println!("{head}{}", fit(&p.title_en, room));
            }
        }
    }
    Ok(())
}

/// Papers per topic and year: the most recent years that fit the width (at most six, a
/// collection's early years hold few papers), the years before them summed in `earlier`, and a
/// `total`; per month with `--json`.
pub fn over_time(model: &TopicModel, table: &BTreeMap<usize, BTreeMap<String, usize>>) {
    const LABEL: usize = 44;
    const COLUMN: usize = 7;
    let months: BTreeSet<&String> = table.values().flat_map(|m| m.keys()).collect();
    let years: Vec<&str> = months
        .iter()
        .map(|m| m.get(..4).unwrap_or(m))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // The label, ` earlier` (8) and ` total` take their columns first.
    let fit_years = (width().saturating_sub(LABEL + 8 + COLUMN) / COLUMN).clamp(1, 6);
    let split = years.len().saturating_sub(fit_years);
    let (earlier, recent) = years.split_at(split);
    print!("{:<LABEL$}", "topic");
    if !earlier.is_empty() {
        print!(" {:>7}", "earlier");
    }
    for y in recent {
        print!(" {y:>6}");
    }
    println!(" {:>6}", "total");
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
        let count = |years: &[&str]| -> usize {
            table.get(&t.id).map_or(0, |m| {
                m.iter()
                    .filter(|(k, _)| years.iter().any(|y| k.starts_with(y)))
                    .map(|(_, v)| v)
                    .sum()
            })
        };
        if !earlier.is_empty() {
            print!(" {:>7}", count(earlier));
        }
        for y in recent {
            print!(" {:>6}", count(&[y]));
        }
        println!(" {:>6}", count(&years));
    }
    match (earlier.first(), earlier.last()) {
        (Some(first), Some(last)) => {
            println!("\n(earlier: {first}-{last}; per month: --json)")
        }
        _ => println!("\n(per month: --json)"),
    }
}

/// `check`: one line per problem (the file, what is wrong), then the command that recovers.
pub fn check(report: &paperscope::store::CheckReport) {
    let index = dir(&report.index);
    for note in &report.notes {
        println!("note: {note}");
    }
    if report.healthy {
        println!(
            "Index at {index} is healthy: generation {}, {} papers, {} files checked.",
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

/// The line `serve` prints when it listens: where, and what it serves.
pub fn serving(json: bool, url: &str, engine: &Engine) -> Result<()> {
    let manifest = &engine.store().manifest;
    if json {
        // One line: a script reads the URL from the first line as soon as it is printed.
        println!(
            "{}",
            serde_json::json!({
                "url": url,
                "generation": manifest.generation,
                "papers": manifest.paper_count,
            })
        );
    } else {
        println!(
            "Serving {} papers (generation {}) at {url} (Ctrl-C stops).",
            manifest.paper_count, manifest.generation
        );
    }
    if let Some(why) = engine.meaning_error() {
        eprintln!("warning: {why}; searches answer with BM25 only");
    }
    std::io::Write::flush(&mut std::io::stdout())?;
    Ok(())
}

/// One step of a watched folder, as it happens: a JSON line on stdout with `--json`, else a
/// line on stderr.
pub fn watch_event(json: bool, event: &paperscope::watch::WatchEvent) {
    use paperscope::watch::WatchEvent;
    if json {
        let line = match event {
            WatchEvent::Watching(dir) => serde_json::json!({"event": "watching", "dir": dir}),
            WatchEvent::Indexed { files, report } => {
                serde_json::json!({"event": "indexed", "files": files, "report": report})
            }
            WatchEvent::Skipped(skipped) => serde_json::json!({
                "event": "skipped", "file": skipped.file, "error": skipped.error.to_string()
            }),
            WatchEvent::Failed { files, error } => {
                serde_json::json!({"event": "failed", "files": files, "error": error})
            }
        };
        println!("{line}");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        return;
    }
    match event {
        WatchEvent::Watching(path) => eprintln!("Watching {} for digests.", dir(path)),
        WatchEvent::Indexed { files, report } => {
            eprintln!("{} file(s) arrived: {}", files.len(), index_summary(report))
        }
        WatchEvent::Skipped(s) => eprintln!("{}", skipped(s)),
        WatchEvent::Failed { files, error } => {
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            eprintln!("warning: {} not indexed: {error}", names.join(", "))
        }
    }
}

/// `export`: what was written, and how to continue from it.
pub fn export_report(report: &paperscope::export::ExportReport) {
    let since = report
        .since_generation
        .map_or(String::new(), |n| format!(", changed after generation {n}"));
    println!(
        "Exported {} of {} papers{since} for {} into {} ({:.1} s): {}.",
        count(report.papers),
        count(report.papers_in_index),
        report.format.name(),
        dir(&report.out),
        report.seconds,
        report.files.join(", ")
    );
    for note in &report.notes {
        println!("note: {note}");
    }
    println!(
        "Next incremental export: --since-generation {}",
        report.generation
    );
}
