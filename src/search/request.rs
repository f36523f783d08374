//! The questions an [`Engine`](super::Engine) answers, one request type each: what to search
//! for ([`SearchRequest`]) and what to find papers like ([`RelatedRequest`]), with the page,
//! order and fusion wanted. Every front end (the CLI, the HTTP API, the MCP tools) builds one
//! of these; the rules on their values live here, once.

use serde::Serialize;

use crate::embed::ModelKind;
use crate::error::{Error, Result};
use crate::hybrid::Fusion;
use crate::query::{Filters, SearchQuery};

/// Which ranking a search uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Words: BM25 over the bilingual text.
    Bm25,
    /// Meaning: nearest paper vectors, across languages.
    Vector,
    /// Both, fused (the default): words first, meaning where it is confident.
    #[default]
    Hybrid,
}

impl Mode {
    /// Every mode, in the order they are listed to users.
    pub const ALL: [Mode; 3] = [Mode::Hybrid, Mode::Bm25, Mode::Vector];

    /// The mode's name as users write it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Bm25 => "bm25",
            Mode::Vector => "vector",
            Mode::Hybrid => "hybrid",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self> {
        Mode::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(value.trim()))
            .ok_or_else(|| {
                Error::invalid(
                    "mode",
                    format!("unknown value {value:?} (hybrid, bm25, vector)"),
                )
            })
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The order of results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Best first (the default).
    #[default]
    Relevance,
    /// Newest first by the month of first submission (from the arXiv id), ties best first.
    /// Orders the [`DATE_SORT_DEPTH`] most relevant papers (more when the page reaches
    /// further): every paper matches a vector query, so "all matches by date" would be the
    /// whole collection by date.
    Date,
}

impl Sort {
    /// Every order, as users write them.
    pub const ALL: [Sort; 2] = [Sort::Relevance, Sort::Date];

    /// The order's name as users write it.
    pub fn name(self) -> &'static str {
        match self {
            Sort::Relevance => "relevance",
            Sort::Date => "date",
        }
    }
}

impl std::str::FromStr for Sort {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self> {
        Sort::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(value.trim()))
            .ok_or_else(|| {
                Error::invalid("sort", format!("unknown value {value:?} (relevance, date)"))
            })
    }
}

/// How many of the most relevant papers `Sort::Date` orders by date.
pub const DATE_SORT_DEPTH: usize = 100;

/// Results on one page when a request does not say.
pub const DEFAULT_LIMIT: usize = 10;

/// The most results one page of a shared service (the HTTP API, the MCP tools) returns: a
/// request there costs the server, not the caller. The CLI asks for as many as its user wants.
pub const MAX_PAGE_LIMIT: usize = 1000;

/// Hybrid search's fusion for vectors made by a model of `kind`, measured on the judged queries
/// (BENCHMARKS.md): e5's cosines sit in a narrow band (0.75-0.9), where the static model's
/// adaptive weight has nothing to adapt to; a fixed vector weight of 0.35 stays at BM25's level
/// on the tuned queries and lifts the held-out and paraphrase ones.
pub fn default_fusion(kind: ModelKind) -> Fusion {
    match kind {
        ModelKind::E5Small => Fusion::Convex { alpha: 0.35 },
        ModelKind::Static => Fusion::ADAPTIVE,
    }
}

/// Which slice of the ranked list to answer: `limit` results from position `offset` (0-based),
/// in `sort` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Results skipped before the page (0 for the first page).
    pub offset: usize,
    /// Results on the page (at least 1).
    pub limit: usize,
    /// The order of the whole list the page is cut from.
    pub sort: Sort,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            offset: 0,
            limit: DEFAULT_LIMIT,
            sort: Sort::Relevance,
        }
    }
}

impl Page {
    /// How deep the relevance ranking must go for this page.
    pub(crate) fn depth(self) -> usize {
        let end = self.offset.saturating_add(self.limit);
        match self.sort {
            Sort::Relevance => end,
            Sort::Date => end.max(DATE_SORT_DEPTH),
        }
    }

    fn check(self) -> Result<()> {
        if self.limit == 0 {
            return Err(Error::invalid("limit", "must be at least 1"));
        }
        Ok(())
    }
}

/// A fusion a caller chose, checked: a convex weight outside 0..=1 is an error naming `alpha`.
fn check_fusion(fusion: Option<Fusion>) -> Result<()> {
    match fusion {
        Some(Fusion::Convex { alpha }) if !(0.0..=1.0).contains(&alpha) => Err(Error::invalid(
            "alpha",
            format!("{alpha} is not between 0 and 1"),
        )),
        _ => Ok(()),
    }
}

/// The setters both request types share: the page, the order, the filters and the fusion.
macro_rules! listing_setters {
    () => {
        /// Results on the page (at least 1; [`DEFAULT_LIMIT`] unless set).
        pub fn limit(mut self, limit: usize) -> Self {
            self.page.limit = limit;
            self
        }

        /// Results skipped before the page (0: the first page).
        pub fn offset(mut self, offset: usize) -> Self {
            self.page.offset = offset;
            self
        }

        /// The order of results (best first unless set).
        pub fn sort(mut self, sort: Sort) -> Self {
            self.page.sort = sort;
            self
        }

        /// The page: offset, limit and order at once.
        pub fn page(mut self, page: Page) -> Self {
            self.page = page;
            self
        }

        /// Only papers these filters allow (category, months).
        pub fn filters(mut self, filters: Filters) -> Self {
            self.filters = filters;
            self
        }

        /// Convex fusion with this weight of the meaning side (0 = words only, 1 = meaning
        /// only); checked to lie in 0..=1 when the request is answered.
        pub fn alpha(self, alpha: f32) -> Self {
            self.fusion(Fusion::Convex { alpha })
        }

        /// Reciprocal rank fusion (k = 60) instead of score fusion.
        pub fn rrf(self) -> Self {
            self.fusion(Fusion::Rrf { k: 60.0 })
        }

        /// This fusion of the two sides instead of the default.
        pub fn fusion(mut self, fusion: Fusion) -> Self {
            self.fusion = Some(fusion);
            self
        }

        /// This fusion when `Some`, the default when `None` (a front end's optional parameter).
        pub fn fusion_if(mut self, fusion: Option<Fusion>) -> Self {
            self.fusion = fusion.or(self.fusion);
            self
        }

        /// The page asked for.
        pub fn page_asked(&self) -> Page {
            self.page
        }

        /// The filters asked for.
        pub fn filters_asked(&self) -> &Filters {
            &self.filters
        }
    };
}

/// A search: words (English, Chinese or both; `"phrases"`, `-excluded`), how to rank them and
/// which page to answer. Built with defaults and setters, checked when answered:
///
/// ```
/// use paperscope::search::{Mode, SearchRequest, Sort};
///
/// let request = SearchRequest::new("幻觉 基准").mode(Mode::Bm25).limit(5).sort(Sort::Date);
/// assert_eq!(request.page_asked().limit, 5);
/// assert_eq!(SearchRequest::new("x").page_asked().limit, 10);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    text: String,
    mode: Mode,
    filters: Filters,
    page: Page,
    fusion: Option<Fusion>,
    feedback: bool,
}

impl SearchRequest {
    /// A hybrid search for `text`, first page of [`DEFAULT_LIMIT`] results, best first.
    pub fn new(text: impl Into<String>) -> Self {
        SearchRequest {
            text: text.into(),
            mode: Mode::default(),
            filters: Filters::default(),
            page: Page::default(),
            fusion: None,
            feedback: true,
        }
    }

    /// Whether hybrid and vector search rank again by the meaning of their first results (on
    /// unless set; BM25 has no such stage).
    pub fn feedback(mut self, feedback: bool) -> Self {
        self.feedback = feedback;
        self
    }

    /// Whether the meaning-feedback stage was asked for.
    pub fn feedback_asked(&self) -> bool {
        self.feedback
    }

    /// Rank by words, meaning or both (hybrid unless set).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    listing_setters!();

    /// The query as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The mode asked for.
    pub fn mode_asked(&self) -> Mode {
        self.mode
    }

    /// The fusion asked for, `None` for the index's default.
    pub fn fusion_asked(&self) -> Option<Fusion> {
        self.fusion
    }

    /// Checks every value (a front end may check before it opens an index; the engine checks
    /// again): the first bad one is an error naming it.
    pub fn check(&self) -> Result<()> {
        self.checked().map(drop)
    }

    /// The parsed query, after checking every value: the first bad one is an error naming it.
    pub(crate) fn checked(&self) -> Result<SearchQuery> {
        let query = SearchQuery::parse(&self.text)?;
        self.page.check()?;
        check_fusion(self.fusion)?;
        Ok(query)
    }
}

/// What [`RelatedRequest`] looks for papers like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelatedTo {
    /// One or more papers of the index, by arXiv id (in any form a person pastes).
    Ids(Vec<String>),
    /// Any text, e.g. an abstract of a paper not in the index.
    Text(String),
}

/// Papers like some papers of the index (a reading list) or like a text, and which page:
///
/// ```
/// use paperscope::search::{RelatedRequest, RelatedTo};
///
/// let request = RelatedRequest::ids(["2403.05266", "2310.10683"]).limit(20);
/// assert_eq!(request.target(), &RelatedTo::Ids(vec!["2403.05266".into(), "2310.10683".into()]));
/// assert!(RelatedRequest::from_parts(Vec::new(), None).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RelatedRequest {
    target: RelatedTo,
    filters: Filters,
    page: Page,
    fusion: Option<Fusion>,
}

impl RelatedRequest {
    /// Papers like these papers together (arXiv ids, versions, `arXiv:` forms or URLs).
    pub fn ids<I, S>(ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::to(RelatedTo::Ids(ids.into_iter().map(Into::into).collect()))
    }

    /// Papers like `text` (an abstract, a paragraph, a few sentences).
    pub fn text(text: impl Into<String>) -> Self {
        Self::to(RelatedTo::Text(text.into()))
    }

    /// Papers like `target`.
    pub fn to(target: RelatedTo) -> Self {
        RelatedRequest {
            target,
            filters: Filters::default(),
            page: Page::default(),
            fusion: None,
        }
    }

    /// The request a front end's two optional inputs make: ids (each value one id or several
    /// separated by commas, as a query string or a tool call gives them), or a text, not both
    /// and not neither (errors name `ids` or `text`).
    pub fn from_parts(ids: Vec<String>, text: Option<String>) -> Result<Self> {
        let ids: Vec<String> = ids
            .iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .collect();
        match (ids.is_empty(), text) {
            (false, Some(_)) => Err(Error::invalid("text", "give arXiv ids or a text, not both")),
            (true, Some(text)) => Ok(Self::text(text)),
            (false, None) => Ok(Self::ids(ids)),
            (true, None) => Err(Error::invalid(
                "ids",
                "required: the arXiv ids of the papers to find papers like, or a text",
            )),
        }
    }

    listing_setters!();

    /// What the papers are to be like.
    pub fn target(&self) -> &RelatedTo {
        &self.target
    }

    /// The fusion asked for, `None` for [`Fusion::RELATED`].
    pub fn fusion_asked(&self) -> Option<Fusion> {
        self.fusion
    }

    /// Checks every value (a front end may check before it opens an index; the engine checks
    /// again): the first bad one is an error naming it.
    pub fn check(&self) -> Result<()> {
        match &self.target {
            RelatedTo::Ids(ids) if ids.is_empty() => {
                return Err(Error::invalid("ids", "give at least one arXiv id"));
            }
            RelatedTo::Text(text) if SearchQuery::parse(text).is_err() => {
                return Err(Error::invalid(
                    "text",
                    "has no words to compare papers with",
                ));
            }
            _ => {}
        }
        self.page.check()?;
        check_fusion(self.fusion)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameter(error: Error) -> String {
        match error {
            Error::InvalidParameter { parameter, .. } => parameter,
            other => panic!("not a parameter error: {other}"),
        }
    }

    #[test]
    fn a_new_search_is_hybrid_first_page_best_first() {
        let request = SearchRequest::new("hallucination benchmark");
        assert_eq!(request.mode_asked(), Mode::Hybrid);
        assert_eq!(request.page_asked(), Page::default());
        assert_eq!(request.page_asked().limit, DEFAULT_LIMIT);
        assert_eq!(request.fusion_asked(), None);
        assert_eq!(
            request.checked().map(|q| q.text).ok().as_deref(),
            Some("hallucination benchmark")
        );
    }

    #[test]
    fn every_bad_value_is_named() {
        let empty = SearchRequest::new("  ").checked().unwrap_err();
        assert_eq!(parameter(empty), "query");
        let zero = SearchRequest::new("x").limit(0).checked().unwrap_err();
        assert_eq!(parameter(zero), "limit");
        for alpha in [-0.1, 1.5, f32::NAN] {
            let bad = SearchRequest::new("x").alpha(alpha).checked().unwrap_err();
            assert_eq!(parameter(bad), "alpha");
        }
        assert!(SearchRequest::new("x").alpha(0.0).checked().is_ok());
        assert!(SearchRequest::new("x").alpha(1.0).rrf().checked().is_ok());
        let no_ids = RelatedRequest::ids(Vec::<String>::new())
            .check()
            .unwrap_err();
        assert_eq!(parameter(no_ids), "ids");
        let no_words = RelatedRequest::text("!!! ...").check().unwrap_err();
        assert_eq!(parameter(no_words), "text");
        let bad_alpha = RelatedRequest::ids(["2403.05266"])
            .alpha(2.0)
            .check()
            .unwrap_err();
        assert_eq!(parameter(bad_alpha), "alpha");
    }

    #[test]
    fn from_parts_takes_ids_or_text() {
        let both = RelatedRequest::from_parts(vec!["1".into()], Some("t".into())).unwrap_err();
        assert_eq!(parameter(both), "text");
        let neither = RelatedRequest::from_parts(Vec::new(), None).unwrap_err();
        assert_eq!(parameter(neither), "ids");
        let text = RelatedRequest::from_parts(Vec::new(), Some("unlearning".into())).unwrap();
        assert_eq!(text.target(), &RelatedTo::Text("unlearning".into()));
    }

    #[test]
    fn fusion_if_keeps_the_default_on_none() {
        assert_eq!(SearchRequest::new("x").fusion_if(None).fusion_asked(), None);
        let rrf = Fusion::Rrf { k: 60.0 };
        assert_eq!(
            SearchRequest::new("x").fusion_if(Some(rrf)).fusion_asked(),
            Some(rrf)
        );
    }

    #[test]
    fn a_page_by_date_orders_at_least_the_date_depth() {
        let page = Page {
            offset: 0,
            limit: 5,
            sort: Sort::Date,
        };
        assert_eq!(page.depth(), DATE_SORT_DEPTH);
        let deep = Page {
            offset: 200,
            limit: 10,
            sort: Sort::Date,
        };
        assert_eq!(deep.depth(), 210);
        let huge = Page {
            offset: usize::MAX,
            limit: 10,
            sort: Sort::Relevance,
        };
        assert_eq!(huge.depth(), usize::MAX);
    }

    #[test]
    fn modes_and_orders_read_back_their_names() {
        for mode in Mode::ALL {
            assert_eq!(mode.name().parse::<Mode>().ok(), Some(mode));
        }
        for sort in Sort::ALL {
            assert_eq!(sort.name().to_uppercase().parse::<Sort>().ok(), Some(sort));
        }
        assert_eq!(parameter("fast".parse::<Mode>().unwrap_err()), "mode");
        assert_eq!(parameter("new".parse::<Sort>().unwrap_err()), "sort");
    }
}
