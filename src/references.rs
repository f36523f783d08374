//! Papers as reference managers and spreadsheets read them: one [`Reference`] per paper, written
//! as BibTeX (arXiv's own `@misc` style) or CSV. The CLI's `--format` and the server's exports
//! write the same bytes.

use crate::paper::Paper;
use crate::search::SearchResult;

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
