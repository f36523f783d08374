//! Digest Markdown -> `Paper`s.
//!
//! Every non-blank indented line of a `[^N]:` entry is one field, in a fixed order: English title,
//! `[url](url)`, Chinese summary, (English summary in 2023 digests), Chinese abstract, English
//! abstract. Fields are therefore read by position around the URL line, which also tolerates
//! missing blank lines. The `# 摘要` table fills fields an entry lacks.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use crate::error::{Error, Result};
use crate::paper::{Paper, Variant};

/// Written by `render` after an entry's fields: a list of related papers, not a field.
pub(crate) const RELATED_PREFIX: &str = "相关论文：";

/// A digest larger than this is refused rather than read into memory.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// An entry skipped or read incompletely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file.
    pub file: String,
    /// The entry's line.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// What one digest file gave.
#[derive(Debug, Default)]
pub struct ParsedFile {
    /// The papers read.
    pub papers: Vec<Paper>,
    /// Entries skipped or incomplete.
    pub warnings: Vec<Warning>,
    /// Number of `[^N]:` entries seen, read or not.
    pub entries: usize,
}

static ENTRY_START: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[\^(\d+)\]:\s?(.*)$").expect("static regex"));
static TABLE_ROW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\|\s*\[\^(\d+)\]\s*\|\s*\[(.*)\]\((\S+)\)\s*\|(.*)\|\s*$").expect("static regex")
});
/// `[url](url)`: the same http(s) URL as text and target. A title or abstract may hold a Markdown
/// link (`[code](https://github.com/...)`, `[x](y)`), which is text, not the entry's URL line:
/// every URL line of the sample digests repeats its URL, so the repetition is what tells them apart.
static URL_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[(https?://\S+)\]\((\S+)\)$").expect("static regex"));
static ID_IN_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5})(?:v(\d+))?").expect("static regex")
});
static TITLE_SUFFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\s*\(arXiv:(\d{4}\.\d{4,5})(?:v(\d+))?\s*\[([^\]]+)\]\s*([^)]*?)\s*\)\s*$")
        .expect("static regex")
});
static EN_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^arXiv:(\d{4}\.\d{4,5})(?:v(\d+))?\s+Announce Type:\s*(\S+)\s+Abstract:\s*")
        .expect("static regex")
});
/// Machine-translated forms of the announce prefix: `arXiv:2402.11855v1 公告类型：新 摘要：`,
/// `宣布类型:cross 摘要:`, `通知类型: 新 提要:` ... or the bare id.
static ZH_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^arXiv[:：]?\s*\d{4}\.\d{4,5}(?:v\d+)?\s*(?:[^\n]{0,16}?类型[^\n]{0,12}?(?:摘要|提要)\s*[:：]\s*)?",
    )
    .expect("static regex")
});

/// File names of the sample digests are `YYYY-MM-DD_<listing>_<hash>.md`.
pub(crate) fn listing_of_file_name(path: &Path) -> Option<String> {
    let name = path.file_stem()?.to_str()?;
    let mut parts = name.split('_');
    let date = parts.next()?;
    let listing = parts.next()?;
    let looks_dated = date.len() == 10 && date.as_bytes()[4] == b'-';
    (looks_dated && !listing.is_empty()).then(|| listing.to_string())
}

/// Reads and parses one digest file: size, UTF-8 and "has papers" are checked here.
pub fn parse_file(path: &Path) -> Result<ParsedFile> {
    read_digest(path).map_err(|(error, _, _)| error)
}

/// Why a file gave no papers: a broken digest, or plainly not a digest at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoPapersKind {
    /// Unreadable, too large, not UTF-8, empty, or digest-shaped (a table, a `# 详细` heading,
    /// `[^N]:` entries) but with no readable paper: something the user would want to know.
    Broken,
    /// Text with no digest structure at all (notes, a README): passed over with a note.
    NotADigest,
}

/// `parse_file`, but a file without papers also says whether it is a broken digest or no
/// digest at all, and keeps the warnings of its unreadable entries.
pub(crate) fn read_digest(
    path: &Path,
) -> std::result::Result<ParsedFile, (Error, NoPapersKind, Vec<Warning>)> {
    let broken = |error| (error, NoPapersKind::Broken, Vec::new());
    let bytes = read_bounded(path, MAX_FILE_BYTES).map_err(broken)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let byte_offset = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..byte_offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        broken(Error::NotUtf8 {
            path: path.to_path_buf(),
            line,
            byte_offset,
        })
    })?;
    let parsed = parse_str(
        &text,
        &path.display().to_string(),
        listing_of_file_name(path),
    );
    if parsed.papers.is_empty() {
        let kind = if parsed.entries == 0 && !text.trim().is_empty() && !looks_like_digest(&text) {
            NoPapersKind::NotADigest
        } else {
            NoPapersKind::Broken
        };
        let error = Error::NoPapers {
            path: path.to_path_buf(),
        };
        return Err((error, kind, parsed.warnings));
    }
    Ok(parsed)
}

/// A digest's headings or table rows: a file with these but no entries is a damaged digest.
fn looks_like_digest(text: &str) -> bool {
    text.lines().map(str::trim).any(|line| {
        line == "# 摘要" || line == "# 详细" || line.starts_with("| [^") || line.starts_with("|[^")
    })
}

/// Reads at most `limit` bytes of `path`; anything more is `TooLarge`. The bound is enforced
/// while reading, not from metadata, because pipes, `/dev/zero` and files that grow while being
/// read report a size of 0 (or an old size) and would otherwise be read until memory runs out.
/// For those, `TooLarge::size` is the `limit + 1` bytes actually read, a lower bound.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let too_large = |size| Error::TooLarge {
        path: path.to_path_buf(),
        size,
        limit,
    };
    // A regular file already known to be too large is refused without reading a byte.
    let known = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    if let Some(size) = known.filter(|&size| size > limit) {
        return Err(too_large(size));
    }
    let capacity = known.unwrap_or(0).min(limit);
    let mut bytes = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

struct TableRow {
    title_en: String,
    url: String,
    summary: String,
    /// The arXiv id of the row's link: what joins it to an entry.
    arxiv_id: Option<String>,
}

/// `# 摘要` rows by footnote number. A number can have several rows: two digests concatenated
/// into one file both number from `[^1]`, so a number alone does not say which paper a row is.
type Table = HashMap<u32, Vec<TableRow>>;

/// Parses digest text; never fails: unreadable entries become warnings.
pub fn parse_str(text: &str, file: &str, listing: Option<String>) -> ParsedFile {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let table = read_table(&lines);
    let mut parsed = ParsedFile::default();
    let starts: Vec<usize> = (0..lines.len())
        .filter(|&i| ENTRY_START.is_match(lines[i]))
        .collect();
    for (k, &start) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(lines.len());
        let end = (start + 1..end)
            .find(|&i| lines[i].starts_with('#'))
            .unwrap_or(end);
        parsed.entries += 1;
        let location = Location {
            file,
            line: start + 1,
        };
        match read_entry(&lines[start..end], &table, &location) {
            Ok((mut paper, incomplete)) => {
                paper.listings = listing.iter().cloned().collect();
                if let Some(message) = incomplete {
                    parsed.warnings.push(location.warning(message));
                }
                parsed.papers.push(paper);
            }
            Err(message) => parsed.warnings.push(location.warning(message)),
        }
    }
    parsed
}

struct Location<'a> {
    file: &'a str,
    line: usize,
}

impl Location<'_> {
    fn warning(&self, message: String) -> Warning {
        Warning {
            file: self.file.to_string(),
            line: self.line,
            message,
        }
    }
}

fn read_table(lines: &[&str]) -> Table {
    let mut table = Table::new();
    for c in lines.iter().filter_map(|line| TABLE_ROW.captures(line)) {
        let Ok(number) = c[1].parse() else { continue };
        let url = c[3].to_string();
        table.entry(number).or_default().push(TableRow {
            title_en: unescape_cell(c[2].trim()),
            arxiv_id: ID_IN_URL.captures(&url).map(|id| id[1].to_string()),
            url,
            summary: unescape_cell(c[4].trim()),
        });
    }
    table
}

/// The `# 摘要` row of entry `number`: only a row linking to the same arXiv id (or, for an
/// entry without a URL of its own, a row with the same English title) is the same paper.
/// `Err` names the paper the numbered rows are about, when none is this one.
fn matching_row<'t>(
    table: &'t Table,
    number: Option<u32>,
    own_id: Option<&str>,
    own_title: &str,
) -> std::result::Result<Option<&'t TableRow>, String> {
    let rows = number
        .and_then(|n| table.get(&n))
        .map_or(&[][..], Vec::as_slice);
    let found = match own_id {
        Some(id) => rows.iter().find(|r| r.arxiv_id.as_deref() == Some(id)),
        None if own_title.is_empty() => None,
        None => rows.iter().find(|r| same_title(&r.title_en, own_title)),
    };
    match (found, rows.first()) {
        (Some(row), _) => Ok(Some(row)),
        (None, None) => Ok(None),
        (None, Some(other)) => Err(other.arxiv_id.clone().unwrap_or_else(|| other.url.clone())),
    }
}

/// Titles compared as written in a table cell and on an entry line (which may carry the 2023
/// `(arXiv:...)` suffix and its period).
fn same_title(a: &str, b: &str) -> bool {
    let norm = |t: &str| {
        strip_title_suffix(t)
            .trim_end_matches('.')
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let a = norm(a);
    !a.is_empty() && a == norm(b)
}

/// Table cells escape `|` as `\|` so the row still splits into three cells.
pub(crate) fn unescape_cell(cell: &str) -> String {
    cell.replace("\\|", "|")
}

/// Returns the paper and, when fields had to be left empty or the table could not be used, a
/// note for a warning.
fn read_entry(
    entry: &[&str],
    table: &Table,
    location: &Location,
) -> std::result::Result<(Paper, Option<String>), String> {
    let head = ENTRY_START
        .captures(entry[0])
        .ok_or_else(|| "not an entry".to_string())?;
    let number: Option<u32> = head[1].parse().ok();
    let fields: Vec<&str> = entry[1..]
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !l.starts_with(RELATED_PREFIX))
        .collect();
    let url_at = fields.iter().position(|f| is_url_line(f));
    let (title_lines, rest) = match url_at {
        Some(i) => (&fields[..i], &fields[i + 1..]),
        None => (&fields[..fields.len().min(1)], &[][..]),
    };
    let own_url = url_at
        .and_then(|i| URL_LINE.captures(fields[i]))
        .map(|c| c[2].to_string());
    let own_id = own_url
        .as_deref()
        .and_then(|u| ID_IN_URL.captures(u))
        .map(|c| c[1].to_string());
    let title = title_lines.join(" ");
    // The table is joined by arXiv id, never by footnote number alone: in a file of two
    // concatenated digests, row [^2] of the first digest is another paper than entry [^2] of
    // the second, and filling from it would index a wrong title without a word.
    let needs_table = own_url.is_none() || title.is_empty() || rest.is_empty();
    let (row, table_note) = match matching_row(table, number, own_id.as_deref(), &title) {
        Ok(row) => (row, None),
        Err(_) if !needs_table => (None, None),
        Err(other) => (
            None,
            Some(format!(
                "the `# 摘要` row [^{}] is another paper ({other}), so it was not used to fill this entry",
                &head[1]
            )),
        ),
    };
    let with_table_note = |message: String| match &table_note {
        Some(note) => format!("{message} ({note})"),
        None => message,
    };
    let url = own_url
        .or_else(|| row.map(|r| r.url.clone()))
        .ok_or_else(|| {
            with_table_note(format!("entry [^{}] has no arXiv URL; skipped", &head[1]))
        })?;
    let id_caps = ID_IN_URL.captures(&url).ok_or_else(|| {
        format!(
            "entry [^{}]: `{url}` is not an arXiv abstract URL; skipped",
            &head[1]
        )
    })?;

    let mut paper = Paper {
        arxiv_id: id_caps[1].to_string(),
        version: id_caps.get(2).and_then(|v| v.as_str().parse().ok()),
        title_zh: strip_title_suffix(head[2].trim()).to_string(),
        url,
        variant: Variant::Plain,
        source_file: location.file.to_string(),
        source_line: location.line,
        ..Paper::default()
    };
    read_title(
        &mut paper,
        if title.is_empty() {
            row.map_or("", |r| r.title_en.as_str())
        } else {
            &title
        },
    );
    read_body(&mut paper, rest);
    if paper.summary_zh.is_empty() {
        paper.summary_zh = row.map(|r| r.summary.clone()).unwrap_or_default();
    }
    if paper.title_en.is_empty() {
        return Err(with_table_note(format!(
            "entry [^{}] ({}) has no English title; skipped",
            &head[1], paper.arxiv_id
        )));
    }
    // Judged by structure: an entry with all its lines is complete even when a translation came
    // out empty (an untranslated prefix alone), which the source sometimes has.
    let missing: Vec<&str> = [
        ("Chinese summary", paper.summary_zh.is_empty()),
        (
            "Chinese abstract",
            rest.len() < 3 && paper.abstract_zh.is_empty(),
        ),
        ("English abstract", paper.abstract_en.is_empty()),
    ]
    .iter()
    .filter(|(_, empty)| *empty)
    .map(|(name, _)| *name)
    .collect();
    let note = match (missing.is_empty(), &table_note) {
        (true, None) => None,
        (true, Some(note)) => Some(format!(
            "entry [^{}] ({}): {note}",
            &head[1], paper.arxiv_id
        )),
        (false, _) => Some(with_table_note(format!(
            "entry [^{}] ({}) is incomplete: no {}; indexed with what it has",
            &head[1],
            paper.arxiv_id,
            missing.join(", no ")
        ))),
    };
    Ok((paper, note))
}

/// The entry's URL line (see [`URL_LINE`]), not a field that merely looks like a link.
fn is_url_line(field: &str) -> bool {
    URL_LINE.captures(field).is_some_and(|c| c[1] == c[2])
}

fn read_title(paper: &mut Paper, line: &str) {
    match TITLE_SUFFIX.captures(line) {
        Some(c) => {
            // The old RSS titles always end `Title. (arXiv:...)`: the period belongs to the format.
            let title = &line[..c.get(0).map_or(line.len(), |m| m.start())];
            paper.title_en = title.strip_suffix('.').unwrap_or(title).to_string();
            paper.variant = Variant::TitleSuffix;
            if paper.version.is_none() {
                paper.version = c.get(2).and_then(|v| v.as_str().parse().ok());
            }
            paper.category = Some(c[3].to_string());
            let note = c[4].trim();
            paper.listing_note = (!note.is_empty()).then(|| note.to_string());
        }
        None => paper.title_en = line.to_string(),
    }
}

/// Fields after the URL line, by position: summary, [English summary], Chinese abstract, English abstract.
fn read_body(paper: &mut Paper, rest: &[&str]) {
    let (summary, zh, en): (Option<&str>, Option<&str>, Option<&str>) = match rest {
        [] => (None, None, None),
        [s] => (Some(s), None, None),
        [s, a] if is_english_abstract(a) => (Some(s), None, Some(a)),
        [s, a] => (Some(s), Some(a), None),
        [s, middle @ .., zh, en] => {
            if !middle.is_empty() {
                paper.summary_en = Some(middle.join(" "));
            }
            (Some(s), Some(zh), Some(en))
        }
    };
    paper.summary_zh = summary.unwrap_or_default().to_string();
    paper.abstract_zh = zh.map(strip_zh_prefix).unwrap_or_default().to_string();
    if let Some(en) = en {
        match EN_PREFIX.captures(en) {
            Some(c) => {
                paper.variant = Variant::Announce;
                paper.announce_type = Some(c[3].to_string());
                if paper.version.is_none() {
                    paper.version = c.get(2).and_then(|v| v.as_str().parse().ok());
                }
                paper.abstract_en = en[c.get(0).map_or(0, |m| m.end())..].to_string();
            }
            None => paper.abstract_en = en.to_string(),
        }
    }
}

/// Some translated titles kept the `(arXiv:... [cat])` suffix of the English line.
fn strip_title_suffix(title: &str) -> &str {
    match TITLE_SUFFIX.find(title) {
        Some(m) => title[..m.start()].trim_end(),
        None => title,
    }
}

fn is_english_abstract(text: &str) -> bool {
    EN_PREFIX.is_match(text) || !text.chars().any(crate::text::is_cjk)
}

fn strip_zh_prefix(text: &str) -> &str {
    match ZH_PREFIX.find(text) {
        Some(m) => &text[m.end()..],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANNOUNCE: &str = "# 摘要\n\n| Ref | Title | Summary |\n| --- | --- | --- |\n| [^1] | [The WMDP Benchmark](https://arxiv.org/abs/2403.03218) | 表格摘要 |\n\n# 详细\n\n[^1]: WMDP基准\n\n    The WMDP Benchmark: Measuring and Reducing Malicious Use With Unlearning\n\n    [https://arxiv.org/abs/2403.03218](https://arxiv.org/abs/2403.03218)\n\n    WMDP基准是一个公开发布的数据集。\n\n    \n\n    arXiv:2403.03218v1 公告类型：交叉领域 摘要：白宫关于人工智能的行政命令\n\n    arXiv:2403.03218v1 Announce Type: cross  Abstract: The White House Executive Order\n    \n";

    #[test]
    fn reads_the_announce_variant() {
        let parsed = parse_str(ANNOUNCE, "a.md", Some("cs.CL".into()));
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        let p = &parsed.papers[0];
        assert_eq!(p.arxiv_id, "2403.03218");
        assert_eq!(p.version, Some(1));
        assert_eq!(p.variant, Variant::Announce);
        assert_eq!(p.announce_type.as_deref(), Some("cross"));
        assert_eq!(p.abstract_en, "The White House Executive Order");
        assert_eq!(p.abstract_zh, "白宫关于人工智能的行政命令");
        assert_eq!(p.summary_zh, "WMDP基准是一个公开发布的数据集。");
        assert_eq!(p.title_zh, "WMDP基准");
        assert_eq!(p.source_line, 9);
        assert_eq!(p.listings, vec!["cs.CL".to_string()]);
    }

    #[test]
    fn tolerates_crlf_bom_and_missing_blank_lines() {
        let squeezed: String = ANNOUNCE.replace("\n\n", "\n").replace('\n', "\r\n");
        let parsed = parse_str(&format!("\u{feff}{squeezed}"), "a.md", None);
        let plain = parse_str(ANNOUNCE, "a.md", None);
        assert_eq!(parsed.papers[0].abstract_en, plain.papers[0].abstract_en);
        assert_eq!(parsed.papers[0].summary_zh, plain.papers[0].summary_zh);
    }

    #[test]
    fn reads_the_title_suffix_variant() {
        let text = "# 详细\n\n[^3]: 标题\n\n    Some Title. (arXiv:2301.05075v2 [astro-ph.EP] UPDATED)\n\n    [http://arxiv.org/abs/2301.05075](http://arxiv.org/abs/2301.05075)\n\n    中文摘要。\n\n    English summary.\n\n    中文长摘要\n\n    English abstract\n";
        let p = &parse_str(text, "b.md", None).papers[0];
        assert_eq!(p.title_en, "Some Title");
        assert_eq!(p.version, Some(2));
        assert_eq!(p.category.as_deref(), Some("astro-ph.EP"));
        assert_eq!(p.listing_note.as_deref(), Some("UPDATED"));
        assert_eq!(p.summary_en.as_deref(), Some("English summary."));
        assert_eq!(p.abstract_zh, "中文长摘要");
        assert_eq!(p.variant, Variant::TitleSuffix);
    }

    #[test]
    fn truncated_entry_warns_with_its_line_and_keeps_the_rest() {
        let text = format!("{ANNOUNCE}[^2]: 被截断的条目\n\n    A Truncated Title\n");
        let parsed = parse_str(&text, "c.md", None);
        assert_eq!(parsed.papers.len(), 1);
        assert_eq!(parsed.entries, 2);
        assert_eq!(parsed.warnings.len(), 1);
        let line = ANNOUNCE.lines().count() + 1;
        let warning = parsed.warnings[0].to_string();
        assert!(warning.starts_with(&format!("c.md:{line}: ")), "{warning}");
    }

    #[test]
    fn table_fills_gaps() {
        let text = "| [^1] | [A \\| B](https://arxiv.org/abs/2401.00001) | 表格里的摘要 |\n\n# 详细\n\n[^1]: 中文标题\n\n    A | B\n\n    [https://arxiv.org/abs/2401.00001](https://arxiv.org/abs/2401.00001)\n";
        let parsed = parse_str(text, "d.md", None);
        let p = &parsed.papers[0];
        assert_eq!(p.summary_zh, "表格里的摘要");
        assert_eq!(parsed.warnings.len(), 1, "abstracts missing is reported");
    }

    #[test]
    fn a_link_in_a_title_or_abstract_is_not_the_url_line() {
        let text = "# 详细\n\n[^1]: 标题\n\n    [x](y)\n\n    [https://arxiv.org/abs/2401.00001](https://arxiv.org/abs/2401.00001)\n\n    摘要\n\n    [代码](https://github.com/a/b)\n\n    [see](https://arxiv.org/abs/2312.00002)\n";
        let parsed = parse_str(text, "l.md", None);
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        let p = &parsed.papers[0];
        assert_eq!(p.arxiv_id, "2401.00001");
        assert_eq!(p.title_en, "[x](y)");
        assert_eq!(p.abstract_zh, "[代码](https://github.com/a/b)");
        assert_eq!(p.abstract_en, "[see](https://arxiv.org/abs/2312.00002)");
    }

    #[test]
    fn strips_translated_prefixes() {
        for (raw, want) in [
            ("arXiv:2402.11855v1 公告类型: 新摘要: 正文", "正文"),
            ("arXiv:2403.00044v1宣布类型:cross 摘要: 正文", "正文"),
            ("arXiv:2404.01037v1 通知类型: 新 提要: 正文", "正文"),
            ("arXiv:2403.08604v1宣布类型：新的摘要：正文", "正文"),
            ("没有前缀的正文", "没有前缀的正文"),
        ] {
            assert_eq!(strip_zh_prefix(raw), want, "{raw}");
        }
    }

    /// Two digests in one file, both numbered from `[^1]`; the second digest's entry `[^1]` lost
    /// its English title line. Joined by number, it took the first digest's title.
    const CONCATENATED: &str = "# 摘要\n\n| Ref | Title | Summary |\n| --- | --- | --- |\n| [^1] | [First Paper](https://arxiv.org/abs/2401.00001) | 第一篇 |\n\n# 详细\n\n[^1]: 第一篇\n\n    First Paper\n\n    [https://arxiv.org/abs/2401.00001](https://arxiv.org/abs/2401.00001)\n\n    第一篇摘要\n\n    中文\n\n    English\n\n# 摘要\n\n| Ref | Title | Summary |\n| --- | --- | --- |\n| [^1] | [Second Paper](https://arxiv.org/abs/2402.00002) | 第二篇 |\n\n# 详细\n\n[^1]: 第二篇\n\n    [https://arxiv.org/abs/2402.00002](https://arxiv.org/abs/2402.00002)\n\n    第二篇摘要\n\n    中文\n\n    English\n";

    #[test]
    fn table_rows_join_entries_by_arxiv_id_not_by_number() {
        let parsed = parse_str(CONCATENATED, "two.md", None);
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        let second = parsed
            .papers
            .iter()
            .find(|p| p.arxiv_id == "2402.00002")
            .expect("second paper");
        assert_eq!(second.title_en, "Second Paper");
    }

    #[test]
    fn a_row_for_another_paper_is_not_used_and_is_reported() {
        // The second digest's table is gone: only the first digest's row [^1] is left.
        let text = CONCATENATED.replace(
            "| [^1] | [Second Paper](https://arxiv.org/abs/2402.00002) | 第二篇 |\n",
            "",
        );
        let parsed = parse_str(&text, "two.md", None);
        assert!(
            parsed
                .papers
                .iter()
                .all(|p| p.title_en != "First Paper" || p.arxiv_id == "2401.00001"),
            "{:?}",
            parsed.papers
        );
        assert_eq!(
            parsed.papers.len(),
            1,
            "the entry with no title of its own is skipped"
        );
        assert_eq!(parsed.warnings.len(), 1, "{:?}", parsed.warnings);
        let warning = parsed.warnings[0].to_string();
        let line = 1 + text
            .lines()
            .position(|l| l == "[^1]: 第二篇")
            .expect("entry");
        assert!(
            warning.starts_with(&format!("two.md:{line}: ")),
            "{warning}"
        );
        assert!(warning.contains("2401.00001"), "{warning}");
    }

    #[test]
    fn a_row_for_another_paper_does_not_fill_a_summary() {
        let text = "| [^1] | [Other](https://arxiv.org/abs/2401.00001) | 别的摘要 |\n\n# 详细\n\n[^1]: 标题\n\n    Own Title\n\n    [https://arxiv.org/abs/2402.00002](https://arxiv.org/abs/2402.00002)\n";
        let parsed = parse_str(text, "d.md", None);
        assert_eq!(parsed.papers[0].summary_zh, "");
        assert!(parsed.warnings[0].message.contains("another paper"));
    }

    #[test]
    fn an_entry_without_a_url_joins_only_a_row_with_its_title() {
        let text = "| [^1] | [Own Title](https://arxiv.org/abs/2401.00001) | 摘要 |\n| [^2] | [Other](https://arxiv.org/abs/2401.00002) | 摘要 |\n\n# 详细\n\n[^1]: 标题\n\n    Own Title\n\n[^2]: 标题\n\n    Not The Other\n";
        let parsed = parse_str(text, "d.md", None);
        let ids: Vec<&str> = parsed.papers.iter().map(|p| p.arxiv_id.as_str()).collect();
        assert_eq!(ids, vec!["2401.00001"]);
        assert!(
            parsed
                .warnings
                .iter()
                .any(|w| w.line == 10 && w.message.contains("another paper"))
        );
    }

    #[test]
    fn reading_is_bounded_for_pipes_and_devices() {
        // /dev/zero reports size 0 and never ends: only a bounded read stops.
        let zero = Path::new("/dev/zero");
        if zero.exists() {
            match read_bounded(zero, 1024) {
                Err(Error::TooLarge { path, limit, .. }) => {
                    assert_eq!((path.as_path(), limit), (zero, 1024));
                }
                other => panic!("expected TooLarge, got {other:?}"),
            }
        }
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("small.md");
        std::fs::write(&path, b"12345").expect("write");
        assert_eq!(read_bounded(&path, 5).expect("at the limit"), b"12345");
        assert!(matches!(
            read_bounded(&path, 4),
            Err(Error::TooLarge { size: 5, .. })
        ));
    }

    #[test]
    fn files_without_papers_are_told_apart() {
        let tmp = tempfile::tempdir().expect("tmp");
        let kind = |name: &str, text: &str| {
            let path = tmp.path().join(name);
            std::fs::write(&path, text).expect("write");
            read_digest(&path).err().map(|(_, kind, _)| kind)
        };
        assert_eq!(
            kind("notes.md", "# Notes\n\nsome text\n"),
            Some(NoPapersKind::NotADigest)
        );
        assert_eq!(kind("empty.md", ""), Some(NoPapersKind::Broken));
        assert_eq!(
            kind(
                "table.md",
                "# 摘要\n\n| [^1] | [T](https://arxiv.org/abs/2401.00001) | s |\n"
            ),
            Some(NoPapersKind::Broken)
        );
        assert_eq!(kind("ok.md", ANNOUNCE), None);
    }

    #[test]
    fn listing_from_file_name() {
        assert_eq!(
            listing_of_file_name(Path::new("data/2024-04-03_cs.IR_59fc0cb9.md")).as_deref(),
            Some("cs.IR")
        );
        assert_eq!(listing_of_file_name(Path::new("week.md")), None);
    }
}
