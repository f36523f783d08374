//! The `Paper` record: one paper of a digest, both languages, and where it was read from.

use serde::{Deserialize, Serialize};

/// Which of the digest format variants an entry was written in; the renderer writes it back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// `arXiv:2404.02115v1 Announce Type: new  Abstract: ...` before the English abstract (2024-03 on).
    #[default]
    Announce,
    /// `Title. (arXiv:2307.03691v1 [cs.CL])` at the end of the English title line (2023).
    TitleSuffix,
    /// Neither marker (early 2024).
    Plain,
}

/// A paper's dense number: its position in the index (`0..paper_count`, in the order papers were
/// first indexed), the one key the full-text index (its `number` fast field), the vectors and the
/// topics share. A type of its own, not a bare `u32`, so it cannot be confused with a vector slot,
/// a topic id or a count. Serialised as the plain number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PaperNumber(pub u32);

impl PaperNumber {
    /// The number of the paper at `index` in a list of papers in number order.
    ///
    /// # Panics
    /// When `index` does not fit a `u32` (an index of over four billion papers).
    pub fn from_index(index: usize) -> Self {
        PaperNumber(u32::try_from(index).expect("paper numbers fit in a u32"))
    }

    /// The paper's position in a list of papers (or of anything per paper) in number order.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl From<PaperNumber> for u64 {
    fn from(number: PaperNumber) -> u64 {
        u64::from(number.0)
    }
}

impl std::fmt::Display for PaperNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// One paper of a digest: both languages, and where it was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct Paper {
    /// arXiv identifier without version, e.g. `2404.02115`.
    pub arxiv_id: String,
    /// The version read (`v2`), when the digest names one.
    pub version: Option<u32>,
    /// English title.
    pub title_en: String,
    /// Chinese title.
    pub title_zh: String,
    /// Chinese one-line summary.
    pub summary_zh: String,
    /// Older digests follow the Chinese one-line summary with an English rendering of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary_en: Option<String>,
    /// Chinese translation of the abstract.
    pub abstract_zh: String,
    /// English abstract.
    pub abstract_en: String,
    /// Primary category when the entry names it (`[cs.CL]`); newer entries do not.
    pub category: Option<String>,
    /// `new`, `cross`, `replace`, `replace-cross` when the entry says.
    pub announce_type: Option<String>,
    /// `UPDATED` / `CROSS LISTED` after the category in the older title suffix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing_note: Option<String>,
    /// The arXiv link as the digest gives it.
    pub url: String,
    /// Which digest layout the entry was written in (renders back the same way).
    pub variant: Variant,
    /// arXiv listings (from digest file names, e.g. `cs.CL`) the paper appeared in.
    #[serde(default)]
    pub listings: Vec<String>,
    /// The digest file the record was read from.
    pub source_file: String,
    /// The line of its `[^N]:` entry in that file.
    pub source_line: usize,
}

impl Paper {
    /// Year and month of first submission, from the id's YYMM (`2404.02115` -> 2024, 4).
    pub fn year_month(&self) -> Option<(u32, u32)> {
        year_month_of_id(&self.arxiv_id)
    }

    /// `2404.02115v1`, or the bare id when the version is unknown.
    pub fn versioned_id(&self) -> String {
        match self.version {
            Some(v) => format!("{}v{v}", self.arxiv_id),
            None => self.arxiv_id.clone(),
        }
    }

    /// Equal in everything a digest file holds (not where it was read from or its listings).
    pub fn same_content(&self, other: &Paper) -> bool {
        let text = |p: &Paper| {
            (
                p.arxiv_id.clone(),
                p.title_en.clone(),
                p.title_zh.clone(),
                p.summary_zh.clone(),
                p.summary_en.clone(),
                p.abstract_zh.clone(),
                p.abstract_en.clone(),
            )
        };
        let metadata = |p: &Paper| {
            (
                p.version,
                p.category.clone(),
                p.announce_type.clone(),
                p.listing_note.clone(),
                p.url.clone(),
                p.variant,
            )
        };
        text(self) == text(other) && metadata(self) == metadata(other)
    }

    /// Category and listings, deduplicated, for filtering: a paper matches `--category cs.CL` when it
    /// is its primary category or it was announced in that listing.
    pub fn categories(&self) -> Vec<String> {
        let mut all: Vec<String> = self.category.iter().cloned().collect();
        for listing in &self.listings {
            if !all.contains(listing) {
                all.push(listing.clone());
            }
        }
        all
    }
}

/// `2403.05266v2` -> `2403.05266`: the id a paper keeps across its versions.
pub fn strip_version(arxiv_id: &str) -> &str {
    let id = arxiv_id.trim();
    match id.rfind('v') {
        Some(at)
            if at > 0 && id[at + 1..].bytes().all(|b| b.is_ascii_digit()) && at + 1 < id.len() =>
        {
            &id[..at]
        }
        _ => id,
    }
}

/// The version a pasted id names (`2403.05266v2` -> 2), if any.
pub fn version_of(arxiv_id: &str) -> Option<u32> {
    let id = arxiv_id.trim();
    let stripped = strip_version(id);
    id.get(stripped.len() + 1..)?.parse().ok()
}

/// An arXiv id in any form a researcher pastes, as `(id without version, version)`:
/// `2403.05266`, `2403.05266v2`, `arXiv:2403.05266`, `https://arxiv.org/abs/2403.05266`,
/// `arxiv.org/pdf/2403.05266v2.pdf`, and old-style ids (`hep-th/9901001v1`). `None` when what
/// is left after the prefixes is not an arXiv id, so callers can say so instead of guessing.
///
/// ```
/// use paperscope::paper::parse_arxiv_id;
/// assert_eq!(
///     parse_arxiv_id("https://arxiv.org/pdf/2403.05266v2.pdf"),
///     Some(("2403.05266".to_string(), Some(2)))
/// );
/// assert_eq!(parse_arxiv_id("arXiv:2403.05266"), Some(("2403.05266".to_string(), None)));
/// assert_eq!(parse_arxiv_id("not an id"), None);
/// ```
pub fn parse_arxiv_id(text: &str) -> Option<(String, Option<u32>)> {
    let mut rest = text.trim();
    // Prefixes are matched without regard to case: `arXiv:`, `ARXIV:` and `HTTPS://` all occur.
    let strip = |s: &mut &str, prefix: &str| {
        let matched = s
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix));
        if matched {
            *s = &s[prefix.len()..];
        }
        matched
    };
    strip(&mut rest, "arxiv:");
    if !strip(&mut rest, "https://") {
        strip(&mut rest, "http://");
    }
    strip(&mut rest, "www.");
    strip(&mut rest, "export.");
    if strip(&mut rest, "arxiv.org/") {
        // A URL names the paper after one of its pages; anything else is not a paper URL.
        if !["abs/", "pdf/", "html/"]
            .iter()
            .any(|page| strip(&mut rest, page))
        {
            return None;
        }
    }
    // Query strings, anchors and a trailing slash come along when a URL is copied from a browser.
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let mut rest = rest[..end].trim_end_matches('/');
    if rest.len() > 4 && rest[rest.len() - 4..].eq_ignore_ascii_case(".pdf") {
        rest = &rest[..rest.len() - 4];
    }
    let id = strip_version(rest);
    let version = match rest.get(id.len()..) {
        Some("") => None,
        Some(v) => Some(v.get(1..)?.parse().ok()?),
        None => return None,
    };
    is_arxiv_id(id).then(|| (id.to_string(), version))
}

/// A bare arXiv id without version: new style `YYMM.NNNN(N)` or old style `archive[.XX]/YYMMNNN`.
fn is_arxiv_id(id: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some((archive, number)) = id.split_once('/') {
        let archive_ok = !archive.is_empty()
            && archive
                .bytes()
                .all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'.');
        return archive_ok && digits(number) && number.len() == 7;
    }
    match id.split_once('.') {
        Some((yymm, number)) => {
            yymm.len() == 4 && digits(yymm) && digits(number) && (4..=5).contains(&number.len())
        }
        None => false,
    }
}

/// The arXiv page of a paper (`https://arxiv.org/abs/2403.05266`), without a version so that it
/// shows the latest one.
pub fn abs_url(arxiv_id: &str) -> String {
    format!("https://arxiv.org/abs/{arxiv_id}")
}

/// The year and month a new-style arXiv id (`YYMM.NNNNN`) was first submitted in.
pub(crate) fn year_month_of_id(id: &str) -> Option<(u32, u32)> {
    let yymm = id.get(..4)?;
    if !yymm.bytes().all(|b| b.is_ascii_digit()) || id.as_bytes().get(4) != Some(&b'.') {
        return None;
    }
    let yy: u32 = yymm[..2].parse().ok()?;
    let mm: u32 = yymm[2..].parse().ok()?;
    (1..=12).contains(&mm).then_some((2000 + yy, mm))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_ids() {
        assert_eq!(version_of("2403.05266v12"), Some(12));
        assert_eq!(version_of("2403.05266"), None);
        assert_eq!(version_of(" 2403.05266v "), None);
    }

    #[test]
    fn versions_are_stripped_from_ids() {
        assert_eq!(strip_version("2403.05266v2"), "2403.05266");
        assert_eq!(strip_version("2403.05266"), "2403.05266");
        assert_eq!(strip_version(" 2403.05266v "), "2403.05266v");
    }

    #[test]
    fn year_month_from_new_style_ids() {
        assert_eq!(year_month_of_id("2404.02115"), Some((2024, 4)));
        assert_eq!(year_month_of_id("2312.1234"), Some((2023, 12)));
        assert_eq!(year_month_of_id("2413.00001"), None);
        assert_eq!(year_month_of_id("hep-th/9901001"), None);
    }

    #[test]
    fn pasted_ids_are_parsed_in_every_form() {
        let id = |v: Option<u32>| Some(("2403.05266".to_string(), v));
        for (text, expected) in [
            ("2403.05266", id(None)),
            (" 2403.05266v2 ", id(Some(2))),
            ("arXiv:2403.05266", id(None)),
            ("ARXIV:2403.05266v1", id(Some(1))),
            ("https://arxiv.org/abs/2403.05266", id(None)),
            ("http://www.arxiv.org/abs/2403.05266v3/", id(Some(3))),
            ("https://arxiv.org/pdf/2403.05266v2", id(Some(2))),
            ("https://arxiv.org/pdf/2403.05266v2.pdf", id(Some(2))),
            ("arxiv.org/abs/2403.05266?context=cs", id(None)),
            ("https://arxiv.org/html/2403.05266v1#S2", id(Some(1))),
            ("2403.05266.pdf", id(None)),
        ] {
            assert_eq!(parse_arxiv_id(text), expected, "{text}");
        }
        assert_eq!(
            parse_arxiv_id("hep-th/9901001v2"),
            Some(("hep-th/9901001".to_string(), Some(2)))
        );
        for bad in [
            "",
            "2403.05266v",
            "2403.5",
            "arxiv.org/list/2403.05266",
            "https://example.org/abs/2403.05266",
            "hallucination",
        ] {
            assert_eq!(parse_arxiv_id(bad), None, "{bad}");
        }
    }
}
