//! Digest Markdown -> `Paper`s.
//!
//! Every non-blank indented line of a `[^N]:` entry is one field, in a fixed order: English title,
//! `[url](url)`, Chinese summary, (English summary in 2023 digests), Chinese abstract, English
//! abstract. Fields are therefore read by position around the URL line, which also tolerates
//! missing blank lines. The `# 摘要` table fills fields an entry lacks.

use std::collections::HashMap;
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
static URL_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[(\S+)\]\((\S+)\)$").expect("static regex"));
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
    let size = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            size,
            limit: MAX_FILE_BYTES,
        });
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let byte_offset = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..byte_offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        Error::NotUtf8 {
            path: path.to_path_buf(),
            line,
            byte_offset,
        }
    })?;
    let parsed = parse_str(
        &text,
        &path.display().to_string(),
        listing_of_file_name(path),
    );
    if parsed.papers.is_empty() {
        return Err(Error::NoPapers {
            path: path.to_path_buf(),
        });
    }
    Ok(parsed)
}

struct TableRow {
    title_en: String,
    url: String,
    summary: String,
}

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

fn read_table(lines: &[&str]) -> HashMap<u32, TableRow> {
    lines
        .iter()
        .filter_map(|line| TABLE_ROW.captures(line))
        .filter_map(|c| {
            let number = c[1].parse().ok()?;
            let row = TableRow {
                title_en: unescape_cell(c[2].trim()),
                url: c[3].to_string(),
                summary: unescape_cell(c[4].trim()),
            };
            Some((number, row))
        })
        .collect()
}

/// Table cells escape `|` as `\|` so the row still splits into three cells.
pub(crate) fn unescape_cell(cell: &str) -> String {
    cell.replace("\\|", "|")
}

/// Returns the paper and, when fields had to be left empty, a note for a warning.
fn read_entry(
    entry: &[&str],
    table: &HashMap<u32, TableRow>,
    location: &Location,
) -> std::result::Result<(Paper, Option<String>), String> {
    let head = ENTRY_START
        .captures(entry[0])
        .ok_or_else(|| "not an entry".to_string())?;
    let number: Option<u32> = head[1].parse().ok();
    let row = number.and_then(|n| table.get(&n));
    let fields: Vec<&str> = entry[1..]
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !l.starts_with(RELATED_PREFIX))
        .collect();
    let url_at = fields.iter().position(|f| URL_LINE.is_match(f));
    let (title_lines, rest) = match url_at {
        Some(i) => (&fields[..i], &fields[i + 1..]),
        None => (&fields[..fields.len().min(1)], &[][..]),
    };
    let url = url_at
        .and_then(|i| URL_LINE.captures(fields[i]))
        .map(|c| c[2].to_string())
        .or_else(|| row.map(|r| r.url.clone()))
        .ok_or_else(|| format!("entry [^{}] has no arXiv URL; skipped", &head[1]))?;
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
    let title = title_lines.join(" ");
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
        return Err(format!(
            "entry [^{}] ({}) has no English title; skipped",
            &head[1], paper.arxiv_id
        ));
    }
    // Judged by structure: an entry with all its lines is complete even when a translation came
    // out empty (an untranslated prefix alone), which the source sometimes has.
    let missing: Vec<&str> = [
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
    let note = (!missing.is_empty()).then(|| {
        format!(
            "entry [^{}] ({}) is incomplete: no {}; indexed with what it has",
            &head[1],
            paper.arxiv_id,
            missing.join(", no ")
        )
    });
    Ok((paper, note))
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

    #[test]
    fn listing_from_file_name() {
        assert_eq!(
            listing_of_file_name(Path::new("data/2024-04-03_cs.IR_59fc0cb9.md")).as_deref(),
            Some("cs.IR")
        );
        assert_eq!(listing_of_file_name(Path::new("week.md")), None);
    }
}
