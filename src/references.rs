//! Papers as reference managers and spreadsheets read them: one [`Reference`] per paper, written
//! as BibTeX (arXiv's own `@misc` style), CSL-JSON (what Zotero, Mendeley and citeproc
//! processors import), RIS (EndNote, Zotero, Mendeley) or CSV. The CLI's `--format` and the
//! server's `/api/references` write the same bytes ([`write`]).
//!
//! Every format carries the arXiv id, the arXiv URL, the month and the category. The digests
//! name no authors, so no format invents one: a reference manager fills them in from the arXiv
//! id or the DOI (arXiv's DataCite DOI, `10.48550/arXiv.<id>`, which every arXiv paper has).

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::paper::Paper;
use crate::search::SearchResult;

/// The formats a list of papers is written in for a reference manager or a spreadsheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceFormat {
    /// One `@misc` entry per paper.
    Bibtex,
    /// One JSON array of CSL items.
    CslJson,
    /// One `TY`..`ER` record per paper.
    Ris,
    /// A header and one row per paper.
    Csv,
}

impl ReferenceFormat {
    /// Every format, in the order they are offered.
    pub const ALL: [ReferenceFormat; 4] = [
        ReferenceFormat::Bibtex,
        ReferenceFormat::CslJson,
        ReferenceFormat::Ris,
        ReferenceFormat::Csv,
    ];

    /// The name a user types (`csl-json`).
    pub fn name(self) -> &'static str {
        match self {
            ReferenceFormat::Bibtex => "bibtex",
            ReferenceFormat::CslJson => "csl-json",
            ReferenceFormat::Ris => "ris",
            ReferenceFormat::Csv => "csv",
        }
    }

    /// The media type a download is served as (the registered ones where there are: CSL-JSON
    /// has none, so JSON; RIS is `application/x-research-info-systems`, which reference
    /// managers open on a click).
    pub fn content_type(self) -> &'static str {
        match self {
            ReferenceFormat::Bibtex => "application/x-bibtex; charset=utf-8",
            ReferenceFormat::CslJson => "application/vnd.citationstyles.csl+json",
            ReferenceFormat::Ris => "application/x-research-info-systems; charset=utf-8",
            ReferenceFormat::Csv => "text/csv; charset=utf-8",
        }
    }

    /// The file extension a reference manager recognises (`bib`, `json`, `ris`, `csv`).
    pub fn extension(self) -> &'static str {
        match self {
            ReferenceFormat::Bibtex => "bib",
            ReferenceFormat::CslJson => "json",
            ReferenceFormat::Ris => "ris",
            ReferenceFormat::Csv => "csv",
        }
    }
}

impl std::str::FromStr for ReferenceFormat {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self> {
        ReferenceFormat::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(value.trim()))
            .ok_or_else(|| {
                Error::invalid(
                    "format",
                    format!("unknown value {value:?} (bibtex, csl-json, ris, csv)"),
                )
            })
    }
}

impl std::fmt::Display for ReferenceFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `references` written in `format`, as one text: BibTeX entries separated by blank lines, a
/// CSL-JSON array, RIS records, or a CSV table.
pub fn write(references: &[Reference], format: ReferenceFormat) -> String {
    match format {
        ReferenceFormat::Bibtex => references.iter().map(|r| bibtex(r) + "\n").collect(),
        ReferenceFormat::CslJson => csl_json(references),
        ReferenceFormat::Ris => references.iter().map(ris).collect(),
        ReferenceFormat::Csv => csv(references),
    }
}

/// One paper as a reference manager or a spreadsheet receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// Position in the list (1-based).
    pub rank: usize,
    /// arXiv id without version.
    pub arxiv_id: String,
    /// Version, when known.
    pub version: Option<u32>,
    /// Month of first submission, `YYYY-MM`.
    pub month: Option<String>,
    /// English title.
    pub title_en: String,
    /// Chinese title.
    pub title_zh: String,
    /// Primary category.
    pub category: Option<String>,
    /// Chinese one-line summary.
    pub summary_zh: String,
    /// Score, for ranked results.
    pub score: Option<f32>,
    /// arXiv page.
    pub url: String,
}

impl Reference {
    /// The reference of a search or related result.
    pub fn of_result(r: &SearchResult) -> Reference {
        Reference {
            rank: r.rank,
            arxiv_id: r.arxiv_id.clone(),
            version: r.version,
            month: r.month.clone(),
            title_en: r.title_en.clone(),
            title_zh: r.title_zh.clone(),
            category: r.category.clone(),
            summary_zh: r.summary_zh.clone(),
            score: Some(r.score),
            url: r.url.clone(),
        }
    }

    /// The reference of a paper of a listing (a topic's papers): rank 0, numbered by position on
    /// export.
    pub fn of_paper(p: &Paper) -> Reference {
        Reference {
            rank: 0,
            arxiv_id: p.arxiv_id.clone(),
            version: p.version,
            month: p.year_month().map(|(y, m)| format!("{y}-{m:02}")),
            title_en: p.title_en.clone(),
            title_zh: p.title_zh.clone(),
            category: p.categories().into_iter().next(),
            summary_zh: p.summary_zh.clone(),
            score: None,
            url: crate::paper::abs_url(&p.arxiv_id),
        }
    }
}

/// A BibTeX value: the characters that are commands or delimiters in BibTeX are escaped, so a
/// title with `{`, `%` or `&` neither breaks the entry nor becomes markup.
fn bibtex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '{' | '}' | '&' | '%' | '$' | '#' | '_' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// One `@misc` entry in arXiv's own style (eprint, archivePrefix, primaryClass). The digests
/// name no authors, so there is no `author` field: an empty one is read as an author with no
/// name, and a reference manager fills the authors in from the eprint.
pub fn bibtex(reference: &Reference) -> String {
    let mut fields = vec![
        format!("  title = {{{{{}}}}}", bibtex_escape(&reference.title_en)),
        format!("  eprint = {{{}}}", reference.arxiv_id),
        "  archivePrefix = {arXiv}".to_string(),
    ];
    if let Some(category) = &reference.category {
        fields.push(format!("  primaryClass = {{{}}}", bibtex_escape(category)));
    }
    if let Some(month) = &reference.month {
        fields.push(format!("  year = {{{}}}", &month[..4]));
    }
    fields.push(format!("  url = {{{}}}", reference.url));
    format!(
        "@misc{{{},\n{}\n}}\n",
        reference.arxiv_id,
        fields.join(",\n")
    )
}

/// arXiv's DataCite DOI of a paper (every arXiv paper has one, old-style ids too): the
/// identifier reference managers look metadata up by.
fn arxiv_doi(arxiv_id: &str) -> String {
    format!("10.48550/arXiv.{arxiv_id}")
}

/// `YYYY-MM` as numbers, when it is one.
fn year_month(month: Option<&str>) -> Option<(u32, u32)> {
    let (year, month) = month?.split_once('-')?;
    Some((year.parse().ok()?, month.parse().ok()?))
}

/// One CSL item, as Zotero writes an arXiv preprint: type `article` (CSL's type for a
/// preprint), `publisher` arXiv, `number` the arXiv id, the DOI, `issued` the month, `keyword`
/// the category. The Chinese title and summary go into `note` (Zotero's "Extra"), as CSL has no
/// variable for a translated title.
fn csl_item(reference: &Reference) -> Value {
    let mut item = json!({
        "id": reference.arxiv_id,
        "type": "article",
        "title": reference.title_en,
        "publisher": "arXiv",
        "number": format!("arXiv:{}", reference.arxiv_id),
        "DOI": arxiv_doi(&reference.arxiv_id),
        "URL": reference.url,
        "source": "arXiv.org",
        "language": "en",
    });
    if let Some((year, month)) = year_month(reference.month.as_deref()) {
        item["issued"] = json!({ "date-parts": [[year, month]] });
    }
    if let Some(category) = &reference.category {
        item["keyword"] = json!(category);
    }
    let mut note = vec![match &reference.category {
        Some(category) => format!("arXiv:{} [{category}]", reference.arxiv_id),
        None => format!("arXiv:{}", reference.arxiv_id),
    }];
    if !reference.title_zh.is_empty() {
        note.push(format!("中文标题：{}", reference.title_zh));
    }
    if !reference.summary_zh.is_empty() {
        note.push(format!("中文摘要：{}", reference.summary_zh));
    }
    item["note"] = json!(note.join("\n"));
    item
}

/// A CSL-JSON document: one array of items, in the list's order.
pub fn csl_json(references: &[Reference]) -> String {
    let items: Vec<Value> = references.iter().map(csl_item).collect();
    // A Vec of JSON values always serialises.
    let mut text = serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".to_string());
    text.push('\n');
    text
}

/// One RIS line: a tag, two spaces, a dash, a space and a value on one line (RIS has no
/// continuation lines, so line breaks in a value become spaces).
fn ris_line(out: &mut String, tag: &str, value: &str) {
    let value: String = value
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    out.push_str(&format!("{tag}  - {}\n", value.trim()));
}

/// One RIS record. `UNPB` (unpublished work) is RIS's type for a preprint; `TT` is the
/// translated (Chinese) title, `DA` the month as RIS dates are written (`2024/03//`), `AN` the
/// arXiv id as arXiv's own accession number, `N1` the Chinese summary.
pub fn ris(reference: &Reference) -> String {
    let mut out = String::new();
    ris_line(&mut out, "TY", "UNPB");
    ris_line(&mut out, "ID", &reference.arxiv_id);
    ris_line(&mut out, "TI", &reference.title_en);
    if !reference.title_zh.is_empty() {
        ris_line(&mut out, "TT", &reference.title_zh);
    }
    if let Some((year, month)) = year_month(reference.month.as_deref()) {
        ris_line(&mut out, "PY", &year.to_string());
        ris_line(&mut out, "DA", &format!("{year}/{month:02}//"));
    }
    ris_line(&mut out, "PB", "arXiv");
    ris_line(&mut out, "DB", "arXiv.org");
    ris_line(&mut out, "AN", &format!("arXiv:{}", reference.arxiv_id));
    ris_line(&mut out, "DO", &arxiv_doi(&reference.arxiv_id));
    ris_line(&mut out, "UR", &reference.url);
    if let Some(category) = &reference.category {
        ris_line(&mut out, "KW", category);
    }
    ris_line(&mut out, "LA", "en");
    if !reference.summary_zh.is_empty() {
        ris_line(&mut out, "N1", &reference.summary_zh);
    }
    out.push_str("ER  - \n\n");
    out
}

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// A header and one line per row, CRLF-free so that shells and spreadsheets both read it.
pub fn csv(references: &[Reference]) -> String {
    let mut out =
        String::from("rank,arxiv_id,version,month,title_en,title_zh,category,score,url\n");
    for (i, row) in references.iter().enumerate() {
        let rank = if row.rank == 0 { i + 1 } else { row.rank };
        let fields = [
            rank.to_string(),
            row.arxiv_id.clone(),
            row.version.map(|v| v.to_string()).unwrap_or_default(),
            row.month.clone().unwrap_or_default(),
            row.title_en.clone(),
            row.title_zh.clone(),
            row.category.clone().unwrap_or_default(),
            row.score.map(|s| format!("{s:.4}")).unwrap_or_default(),
            row.url.clone(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn erbench() -> Reference {
        Reference {
            rank: 1,
            arxiv_id: "2403.05266".into(),
            version: Some(1),
            month: Some("2024-03".into()),
            title_en: "ERBench: 100% {verifiable}, A & B".into(),
            title_zh: "ERBench：基准".into(),
            category: Some("cs.CL".into()),
            summary_zh: "一个\n基准".into(),
            score: Some(0.5),
            url: "https://arxiv.org/abs/2403.05266".into(),
        }
    }

    #[test]
    fn bibtex_escapes_markup_and_names_no_author() {
        let entry = bibtex(&erbench());
        assert!(entry.starts_with("@misc{2403.05266,\n"), "{entry}");
        assert!(
            entry.contains("title = {{ERBench: 100\\% \\{verifiable\\}, A \\& B}}"),
            "{entry}"
        );
        assert!(entry.contains("primaryClass = {cs.CL}") && entry.contains("year = {2024}"));
        assert!(!entry.contains("author"), "{entry}");
    }

    #[test]
    fn csl_json_carries_id_url_month_category_and_both_languages() {
        let items: Vec<Value> = serde_json::from_str(&csl_json(&[erbench()])).unwrap();
        let item = &items[0];
        assert_eq!(item["id"], "2403.05266");
        assert_eq!(item["type"], "article");
        assert_eq!(item["URL"], "https://arxiv.org/abs/2403.05266");
        assert_eq!(item["DOI"], "10.48550/arXiv.2403.05266");
        assert_eq!(item["issued"]["date-parts"], json!([[2024, 3]]));
        assert_eq!(item["keyword"], "cs.CL");
        let note = item["note"].as_str().unwrap();
        assert!(note.starts_with("arXiv:2403.05266 [cs.CL]\n"), "{note}");
        assert!(
            note.contains("ERBench：基准") && note.contains("一个\n基准"),
            "{note}"
        );
    }

    #[test]
    fn ris_records_are_one_line_per_tag_and_end_with_er() {
        let record = ris(&erbench());
        let lines: Vec<&str> = record.lines().collect();
        assert_eq!(lines[0], "TY  - UNPB");
        assert_eq!(lines[1], "ID  - 2403.05266");
        assert!(lines.contains(&"DA  - 2024/03//") && lines.contains(&"KW  - cs.CL"));
        assert!(lines.contains(&"N1  - 一个 基准"), "{record}");
        assert!(lines.contains(&"UR  - https://arxiv.org/abs/2403.05266"));
        assert_eq!(lines.iter().filter(|l| l.starts_with("ER  -")).count(), 1);
        assert!(
            lines
                .iter()
                .all(|l| l.is_empty() || l.get(2..6) == Some("  - "))
        );
    }

    #[test]
    fn formats_are_named_as_typed_and_an_unknown_one_names_format() {
        for format in ReferenceFormat::ALL {
            assert_eq!(format.name().parse::<ReferenceFormat>().unwrap(), format);
        }
        let error = "endnote".parse::<ReferenceFormat>().unwrap_err();
        assert!(error.to_string().contains("format"), "{error}");
        let two = write(&[erbench(), erbench()], ReferenceFormat::Bibtex);
        assert_eq!(two.matches("@misc{").count(), 2);
        assert!(two.contains("}\n\n@misc{"), "{two}");
    }

    #[test]
    fn csv_quotes_fields_with_commas() {
        let table = csv(&[erbench()]);
        let mut lines = table.lines();
        assert_eq!(
            lines.next(),
            Some("rank,arxiv_id,version,month,title_en,title_zh,category,score,url")
        );
        assert_eq!(
            lines.next(),
            Some(
                "1,2403.05266,1,2024-03,\"ERBench: 100% {verifiable}, A & B\",ERBench：基准,cs.CL,0.5000,https://arxiv.org/abs/2403.05266"
            )
        );
    }
}
