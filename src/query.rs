//! The user's query syntax, shared by every search side: plain words, `"quoted phrases"`,
//! `-excluded` words or `-"phrases"`. Plus the filters that apply to all sides.

use crate::error::{Error, Result};
use crate::paper::Paper;

/// The longest query accepted, in characters (not bytes, so Chinese queries get as many
/// characters as English ones). A search query is words and phrases, not a document; longer
/// texts belong to `related --text`.
pub const MAX_QUERY_CHARS: usize = 1000;

/// A parsed query: words, phrases, exclusions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchQuery {
    /// The query as typed.
    pub raw: String,
    /// Plain words, in order, joined by spaces: what is ranked (and what a vector side embeds).
    pub text: String,
    /// Quoted phrases: each must occur.
    pub phrases: Vec<String>,
    /// Words or phrases after `-`: no result contains them.
    pub excluded: Vec<String>,
}

impl SearchQuery {
    /// Parses the query syntax; a query with nothing to search for is an error naming `query`.
    ///
    /// ```
    /// use paperscope::query::SearchQuery;
    ///
    /// let q = SearchQuery::parse(r#"hallucination "large language models" -survey"#)?;
    /// assert_eq!(q.text, "hallucination");
    /// assert_eq!(q.phrases, vec!["large language models"]);
    /// assert_eq!(q.excluded, vec!["survey"]);
    /// assert!(SearchQuery::parse("  ").is_err());
    /// # Ok::<(), paperscope::Error>(())
    /// ```
    pub fn parse(raw: &str) -> Result<Self> {
        // Checked before any work: the analyzers' cost grows with the query (a 900 KB query took
        // 780 MB), and the error must not echo the query back.
        let length = raw.chars().count();
        if length > MAX_QUERY_CHARS {
            return Err(Error::invalid(
                "query",
                format!(
                    "the query is {length} characters long, over the limit of {MAX_QUERY_CHARS}: \
                     search with its key words (to find papers like a whole text, use `related --text`)"
                ),
            ));
        }
        let mut query = SearchQuery {
            raw: raw.to_string(),
            ..SearchQuery::default()
        };
        let mut words = Vec::new();
        let mut rest = raw.trim();
        while !rest.is_empty() {
            let negated = rest.starts_with('-') && rest.len() > 1;
            let body = if negated { &rest[1..] } else { rest };
            let (item, quoted, after) = next_item(body);
            rest = after.trim_start();
            if !item.chars().any(char::is_alphanumeric) {
                continue;
            }
            match (negated, quoted) {
                (true, _) => query.excluded.push(item.to_string()),
                (false, true) => query.phrases.push(item.to_string()),
                (false, false) => words.push(item),
            }
        }
        query.text = words.join(" ");
        if query.text.is_empty() && query.phrases.is_empty() {
            return Err(Error::invalid(
                "query",
                "the query is empty: give words to search for (e.g. `hallucination benchmark`)",
            ));
        }
        Ok(query)
    }

    /// Everything that should match, phrases included: what a meaning-based side looks for.
    pub fn positive_text(&self) -> String {
        let mut parts = vec![self.text.as_str()];
        parts.extend(self.phrases.iter().map(String::as_str));
        parts.retain(|p| !p.is_empty());
        parts.join(" ")
    }
}

/// The next word or quoted phrase: `(item, was_quoted, rest)`. An unclosed quote runs to the end.
fn next_item(text: &str) -> (&str, bool, &str) {
    if let Some(inner) = text.strip_prefix('"').or_else(|| text.strip_prefix('“')) {
        let end = inner.find(['"', '”']).unwrap_or(inner.len());
        let close_len = inner[end..].chars().next().map_or(0, char::len_utf8);
        return (inner[..end].trim(), true, &inner[end + close_len..]);
    }
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    (&text[..end], false, &text[end..])
}

/// Restrictions every side applies before ranking.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filters {
    /// Lowercased categories or archives (`cs.cl`, `cs`); a paper matches any of them.
    pub categories: Vec<String>,
    /// Inclusive bounds as `yyyymm`.
    pub since: Option<u32>,
    /// Inclusive upper bound as `yyyymm`.
    pub until: Option<u32>,
}

impl Filters {
    /// Filters from user values: categories (comma-separated allowed), and months as `YYYY`,
    /// `YYYY-MM` or `YYYY-MM-DD`; a bad value is an error naming `since` or `until`.
    pub fn new(categories: &[String], since: Option<&str>, until: Option<&str>) -> Result<Self> {
        let filters = Filters {
            categories: categories
                .iter()
                .flat_map(|c| c.split(','))
                .map(|c| c.trim().to_lowercase())
                .filter(|c| !c.is_empty())
                .collect(),
            since: since.map(|s| parse_month("since", s)).transpose()?,
            until: until.map(|s| parse_month("until", s)).transpose()?,
        };
        if let (Some(since), Some(until)) = (filters.since, filters.until)
            && since > until
        {
            return Err(Error::invalid(
                "since",
                format!(
                    "{} is after until {}",
                    format_month(since),
                    format_month(until)
                ),
            ));
        }
        Ok(filters)
    }

    /// Whether nothing is filtered.
    pub fn is_empty(&self) -> bool {
        self.categories.is_empty() && self.since.is_none() && self.until.is_none()
    }

    /// Whether `paper` passes every filter.
    pub fn matches(&self, paper: &Paper) -> bool {
        let month = paper.year_month().map(|(y, m)| y * 100 + m);
        let in_range = match month {
            Some(m) => self.since.is_none_or(|s| m >= s) && self.until.is_none_or(|u| m <= u),
            None => self.since.is_none() && self.until.is_none(),
        };
        let in_category = self.categories.is_empty()
            || category_terms(paper)
                .iter()
                .any(|c| self.categories.contains(c));
        in_range && in_category
    }
}

/// The lowercased categories and archives a paper is filed under (`cs.cl`, `cs`).
pub(crate) fn category_terms(paper: &Paper) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for category in paper.categories() {
        let category = category.to_lowercase();
        let archive = category.split('.').next().unwrap_or_default().to_string();
        for term in [category, archive] {
            if !term.is_empty() && !terms.contains(&term) {
                terms.push(term);
            }
        }
    }
    terms
}

/// `2024`, `2024-03` or `2024-03-15` -> `202403` (a year alone means its first or last month
/// depending on the bound, so `--until 2024` includes December).
fn parse_month(argument: &str, value: &str) -> Result<u32> {
    // A date is short: a long value is cut in the message so an error stays one line.
    let shown = crate::text::truncate_chars(value, 40);
    let bad = || {
        Error::invalid(
            argument,
            format!("`{shown}` is not a date: use YYYY, YYYY-MM or YYYY-MM-DD"),
        )
    };
    let mut parts = value.trim().split('-');
    let year: u32 = parts.next().and_then(|y| y.parse().ok()).ok_or_else(bad)?;
    let month: Option<u32> = match parts.next() {
        Some(m) => Some(m.parse().map_err(|_| bad())?),
        None => None,
    };
    let day: Option<u32> = match parts.next() {
        Some(d) => Some(d.parse().map_err(|_| bad())?),
        None => None,
    };
    if parts.next().is_some() || !(1990..=2999).contains(&year) {
        return Err(bad());
    }
    let default_month = if argument.contains("until") { 12 } else { 1 };
    let month = month.unwrap_or(default_month);
    if !(1..=12).contains(&month) {
        return Err(bad());
    }
    // The day is checked against its month, so `2024-02-31` is an error rather than silently
    // meaning February.
    if let Some(day) = day
        && !(1..=days_in_month(year, month)).contains(&day)
    {
        return Err(Error::invalid(
            argument,
            format!(
                "`{shown}` is not a date: {} has {} days",
                format_month(year * 100 + month),
                days_in_month(year, month)
            ),
        ));
    }
    Ok(year * 100 + month)
}

/// Days in `month` (1-12) of `year`, Gregorian leap years included.
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn format_month(yyyymm: u32) -> String {
    format!("{}-{:02}", yyyymm / 100, yyyymm % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_phrases_and_exclusions() {
        let q = SearchQuery::parse(r#"LLM "chain of thought" -vision -"image generation" 推理"#)
            .expect("valid query");
        assert_eq!(q.text, "LLM 推理");
        assert_eq!(q.phrases, vec!["chain of thought"]);
        assert_eq!(q.excluded, vec!["vision", "image generation"]);
    }

    #[test]
    fn empty_queries_are_refused() {
        for raw in ["", "   ", "-foo", "\"\""] {
            assert!(SearchQuery::parse(raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn a_hyphenated_word_is_not_an_exclusion() {
        let q = SearchQuery::parse("state-of-the-art -").expect("valid query");
        assert_eq!(q.text, "state-of-the-art");
    }

    #[test]
    fn date_bounds() {
        let f = Filters::new(&[], Some("2024-03"), Some("2024")).expect("valid");
        assert_eq!((f.since, f.until), (Some(202403), Some(202412)));
        assert!(Filters::new(&[], Some("2024-05"), Some("2024-04")).is_err());
        assert!(Filters::new(&[], Some("March"), None).is_err());
        assert!(Filters::new(&[], Some("2024-13"), None).is_err());
    }

    #[test]
    fn days_are_checked_against_their_month() {
        for bad in [
            "2024-02-31",
            "2024-02-30",
            "2023-02-29",
            "2100-02-29",
            "2024-04-31",
            "2024-01-00",
            "2024-01-32",
        ] {
            let err = Filters::new(&[], Some(bad), None)
                .expect_err(bad)
                .to_string();
            assert!(err.starts_with("since: "), "{err}");
        }
        for good in [
            "2024-02-29",
            "2000-02-29",
            "2023-02-28",
            "2024-12-31",
            "2024-04-30",
        ] {
            assert!(Filters::new(&[], None, Some(good)).is_ok(), "{good}");
        }
    }

    #[test]
    fn overlong_queries_are_refused_without_echoing_them() {
        let long = "词".repeat(MAX_QUERY_CHARS + 1);
        let err = SearchQuery::parse(&long).expect_err("too long").to_string();
        assert!(err.starts_with("query: "), "{err}");
        assert!(err.len() < 300 && !err.contains("词词"), "{err}");
        let longest = "a".repeat(MAX_QUERY_CHARS);
        assert!(SearchQuery::parse(&longest).is_ok());
    }
}
