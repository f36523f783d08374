//! The tools' arguments: one struct per tool, whose JSON Schema (schemars) is the tool's input
//! schema, and which turns into the library's own request ([`SearchRequest`],
//! [`RelatedRequest`], [`Selection`]). The rules on the values live in the library; these only
//! name the arguments, say what they take and apply the shared service's page limit.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::compose::{DEFAULT_DIGEST_RELATED, Selection};
use crate::error::{Error, Result};
use crate::query::Filters;
use crate::search::{MAX_PAGE_LIMIT, Mode, RelatedRequest, SearchRequest, Sort, TopicLevel};

/// Results a search or related tool returns unless asked otherwise: fewer than the HTTP API's
/// page, since an assistant reads every line it is given.
pub const DEFAULT_TOOL_LIMIT: usize = 10;

/// Papers a `topic` call lists unless asked otherwise (as `/api/topics/{id}`).
pub const DEFAULT_TOPIC_LIMIT: usize = 20;

/// Papers a `digest` keeps from its query unless asked otherwise: a digest of the library's
/// default 200 would be hundreds of kilobytes of Markdown for an assistant to read.
pub const DEFAULT_TOOL_DIGEST_LIMIT: usize = 30;

/// The most related papers listed after each digest entry (as `/api/digest`).
pub const MAX_DIGEST_RELATED: usize = 20;

/// One value or a list: an assistant writes `"cs.CL"` as readily as `["cs.CL", "cs.IR"]`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged, expecting = "a string or a list of strings")]
pub enum OneOrMany {
    /// One value (it may still be comma-separated).
    One(String),
    /// Several values.
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(value) => vec![value],
            OneOrMany::Many(values) => values,
        }
    }
}

/// `search`'s arguments (the HTTP API's `/api/search`, with `query` for `q`).
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchArgs {
    /// What to search for: English, Chinese or both (a question or a paraphrase works too);
    /// "quoted phrases" must appear, -word excludes.
    pub query: String,
    /// hybrid (words and meaning, the default), bm25 (words only) or vector (meaning only).
    #[serde(default)]
    #[schemars(schema_with = "mode_schema")]
    pub mode: Option<String>,
    /// Only these arXiv categories (e.g. cs.CL), a list or comma-separated.
    pub category: Option<OneOrMany>,
    /// First month of submission: YYYY, YYYY-MM or YYYY-MM-DD (its month).
    pub since: Option<String>,
    /// Last month of submission: YYYY, YYYY-MM or YYYY-MM-DD (its month).
    pub until: Option<String>,
    /// relevance (best first, the default) or date (newest first among the most relevant).
    #[serde(default)]
    #[schemars(schema_with = "sort_schema")]
    pub sort: Option<String>,
    /// Results to return, 1 to 1000 (default 10).
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<usize>,
    /// Results to skip, for the next page (default 0).
    pub offset: Option<usize>,
}

/// `related`'s arguments (the HTTP API's `/api/related`).
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RelatedArgs {
    /// Papers to find papers like: arXiv ids in any form (2403.05266, arXiv:2403.05266v1, an
    /// arxiv.org URL). Give ids or text, not both.
    pub ids: Option<OneOrMany>,
    /// Or: any text to find papers like, e.g. an abstract or a paragraph of a draft.
    pub text: Option<String>,
    /// Only these arXiv categories (e.g. cs.CL), a list or comma-separated.
    pub category: Option<OneOrMany>,
    /// First month of submission: YYYY, YYYY-MM or YYYY-MM-DD (its month).
    pub since: Option<String>,
    /// Last month of submission: YYYY, YYYY-MM or YYYY-MM-DD (its month).
    pub until: Option<String>,
    /// Results to return, 1 to 1000 (default 10).
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<usize>,
    /// Results to skip, for the next page (default 0).
    pub offset: Option<usize>,
}

/// `get_paper`'s arguments (the HTTP API's `/api/papers/{id}`).
#[derive(Debug, Deserialize, JsonSchema)]
pub struct PaperArgs {
    /// The paper's arXiv id in any form a person pastes: 2403.05266, 2403.05266v1,
    /// arXiv:2403.05266, https://arxiv.org/abs/2403.05266 or a pdf link.
    pub id: String,
}

/// `topics`' arguments (the HTTP API's `/api/topics`).
#[derive(Debug, Deserialize, JsonSchema)]
pub struct TopicsArgs {
    /// fine (the fitted topics, the default) or coarse (about a third as many, broader).
    #[serde(default)]
    #[schemars(schema_with = "level_schema")]
    pub level: Option<String>,
}

/// `topic`'s arguments (the HTTP API's `/api/topics/{id}`).
#[derive(Debug, Deserialize, JsonSchema)]
pub struct TopicArgs {
    /// The topic's id, as `topics` lists it.
    pub id: usize,
    /// The level the id is of: fine (default) or coarse.
    #[serde(default)]
    #[schemars(schema_with = "level_schema")]
    pub level: Option<String>,
    /// Papers to list, closest to the topic's centre first: 1 to 1000 (default 20).
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<usize>,
}

/// `digest`'s arguments (the HTTP API's `/api/digest`, always Markdown).
#[derive(Debug, Deserialize, JsonSchema)]
pub struct DigestArgs {
    /// Only papers matching this search (hybrid), best first. Without it the digest holds
    /// every paper the filters allow.
    pub query: Option<String>,
    /// Only these arXiv categories (e.g. cs.CL), a list or comma-separated.
    pub category: Option<OneOrMany>,
    /// First month of submission: YYYY, YYYY-MM or YYYY-MM-DD (its month).
    pub since: Option<String>,
    /// Last month of submission: YYYY, YYYY-MM or YYYY-MM-DD (its month).
    pub until: Option<String>,
    /// Papers kept from `query`, 1 to 1000 (default 30).
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<usize>,
    /// One section per topic (the default), or one table (false).
    pub by_topic: Option<bool>,
    /// Related papers listed after each entry, 0 to 20 (default 3).
    #[schemars(range(max = 20))]
    pub related: Option<usize>,
}

/// `stats` takes no arguments.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct NoArgs {}

/// The names of `values`, as the schema's `enum`. (A field with its own schema function is
/// listed as required unless it has `#[serde(default)]`.)
fn names_schema(names: Vec<&str>) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "enum": names })
}

fn mode_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    names_schema(Mode::ALL.iter().map(|m| m.name()).collect())
}

fn sort_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    names_schema(Sort::ALL.iter().map(|s| s.name()).collect())
}

fn level_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    // The library parses the level (`TopicLevel::from_str`); this only lists its values.
    names_schema(vec!["fine", "coarse"])
}

/// The filters from the arguments; the library checks the months.
fn filters(
    category: Option<OneOrMany>,
    since: Option<&str>,
    until: Option<&str>,
) -> Result<Filters> {
    let categories = category.map(OneOrMany::into_vec).unwrap_or_default();
    Filters::new(&categories, since, until)
}

/// A page size in `1..=MAX_PAGE_LIMIT` (the shared service's bound, as the HTTP API's),
/// `default` when not given.
fn count(name: &str, value: Option<usize>, default: usize) -> Result<usize> {
    let value = value.unwrap_or(default);
    if value == 0 || value > MAX_PAGE_LIMIT {
        return Err(Error::invalid(
            name,
            format!("{value} is out of range (1 to {MAX_PAGE_LIMIT})"),
        ));
    }
    Ok(value)
}

/// A value the library parses (its errors name the parameter), `None` when not given.
fn parsed<T: std::str::FromStr<Err = Error>>(value: Option<&str>) -> Result<Option<T>> {
    value.map(str::parse).transpose()
}

impl SearchArgs {
    /// The library's request, checked.
    pub fn request(self) -> Result<SearchRequest> {
        let request = SearchRequest::new(self.query)
            .mode(parsed::<Mode>(self.mode.as_deref())?.unwrap_or_default())
            .filters(filters(
                self.category,
                self.since.as_deref(),
                self.until.as_deref(),
            )?)
            .sort(parsed::<Sort>(self.sort.as_deref())?.unwrap_or_default())
            .limit(count("limit", self.limit, DEFAULT_TOOL_LIMIT)?)
            .offset(self.offset.unwrap_or(0));
        request.check()?;
        Ok(request)
    }
}

impl RelatedArgs {
    /// The library's request, checked.
    pub fn request(self) -> Result<RelatedRequest> {
        let ids = self.ids.map(OneOrMany::into_vec).unwrap_or_default();
        let request = RelatedRequest::from_parts(ids, self.text)?
            .filters(filters(
                self.category,
                self.since.as_deref(),
                self.until.as_deref(),
            )?)
            .limit(count("limit", self.limit, DEFAULT_TOOL_LIMIT)?)
            .offset(self.offset.unwrap_or(0));
        request.check()?;
        Ok(request)
    }
}

impl TopicsArgs {
    /// The level asked for.
    pub fn level(&self) -> Result<TopicLevel> {
        Ok(parsed::<TopicLevel>(self.level.as_deref())?.unwrap_or_default())
    }
}

impl TopicArgs {
    /// The level asked for.
    pub fn level(&self) -> Result<TopicLevel> {
        Ok(parsed::<TopicLevel>(self.level.as_deref())?.unwrap_or_default())
    }

    /// Papers to list.
    pub fn limit(&self) -> Result<usize> {
        count("limit", self.limit, DEFAULT_TOPIC_LIMIT)
    }
}

impl DigestArgs {
    /// The library's selection, checked.
    pub fn selection(self) -> Result<Selection> {
        let related = self.related.unwrap_or(DEFAULT_DIGEST_RELATED);
        if related > MAX_DIGEST_RELATED {
            return Err(Error::invalid(
                "related",
                format!("{related} is out of range (0 to {MAX_DIGEST_RELATED})"),
            ));
        }
        let selection = Selection {
            by_topic: self.by_topic.unwrap_or(true),
            query: self.query.filter(|q| !q.trim().is_empty()),
            filters: filters(self.category, self.since.as_deref(), self.until.as_deref())?,
            limit: count("limit", self.limit, DEFAULT_TOOL_DIGEST_LIMIT)?,
            related,
            ..Selection::default()
        };
        selection.check()?;
        Ok(selection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(value: serde_json::Value) -> Result<SearchRequest> {
        serde_json::from_value::<SearchArgs>(value)
            .expect("deserializes")
            .request()
    }

    fn parameter(error: Error) -> String {
        match error {
            Error::InvalidParameter { parameter, .. } => parameter,
            other => panic!("not a parameter error: {other}"),
        }
    }

    #[test]
    fn bad_values_are_errors_naming_their_argument() {
        let bad = [
            (serde_json::json!({"query": "x", "limit": 0}), "limit"),
            (serde_json::json!({"query": "x", "limit": 1001}), "limit"),
            (serde_json::json!({"query": "x", "mode": "fuzzy"}), "mode"),
            (serde_json::json!({"query": "x", "sort": "oldest"}), "sort"),
            (serde_json::json!({"query": "x", "since": "March"}), "since"),
            (
                serde_json::json!({"query": "x", "since": "2024-05", "until": "2024-03"}),
                "since",
            ),
        ];
        for (value, name) in bad {
            let error = search(value.clone()).expect_err("refused");
            assert_eq!(parameter(error), name, "{value}");
        }
    }

    #[test]
    fn a_search_is_the_librarys_request() {
        let request = search(serde_json::json!({
            "query": "幻觉 基准", "mode": "BM25", "category": "cs.CL,cs.AI",
            "since": "2024-03", "sort": "date", "limit": 5, "offset": 5
        }))
        .expect("valid");
        assert_eq!(request.text(), "幻觉 基准");
        assert_eq!(request.mode_asked(), Mode::Bm25);
        assert_eq!(request.page_asked().limit, 5);
        assert_eq!(request.page_asked().offset, 5);
        assert_eq!(request.page_asked().sort, Sort::Date);
        assert_eq!(request.filters_asked().categories, ["cs.cl", "cs.ai"]);
    }

    #[test]
    fn related_wants_ids_or_text_and_digest_bounds_related() {
        let args: RelatedArgs = serde_json::from_value(serde_json::json!({})).expect("empty");
        assert!(args.request().is_err());
        let args: RelatedArgs =
            serde_json::from_value(serde_json::json!({"ids": ["2403.05266", "2404.02115"]}))
                .expect("ids");
        assert!(args.request().is_ok());
        let args: DigestArgs =
            serde_json::from_value(serde_json::json!({"related": 21})).expect("related");
        assert_eq!(parameter(args.selection().expect_err("refused")), "related");
    }
}
