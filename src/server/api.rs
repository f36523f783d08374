//! The `/api` endpoints: each decodes its parameters, calls the library on a blocking thread
//! (a search is CPU work) and answers the library's own types as JSON.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::params::Params;
use crate::compose::{self, DEFAULT_DIGEST_LIMIT, DEFAULT_DIGEST_RELATED, Selection};
use crate::digest::Format;
use crate::hybrid::Fusion;
use crate::paper::Paper;
use crate::projection::Map;
use crate::query::Filters;
use crate::search::{
    DEFAULT_LIMIT, Engine, MAX_PAGE_LIMIT, Mode, Page, RelatedRequest, SearchRequest,
    SearchResponse, Sort, TopicLevel,
};
use crate::stats::Stats;
use crate::topics::{TopicPapers, TopicsView};

// The parameters several endpoints share, described once for the OpenAPI document (the
// handlers decode them with `Params`, strictly); never constructed.
/// The filters every listing takes.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct FilterParams {
    /// Only these categories (repeat the parameter, or comma-separate)
    category: Option<String>,
    /// First month, YYYY-MM
    since: Option<String>,
    /// Last month, YYYY-MM
    until: Option<String>,
}

/// Which page of a ranked list, and how hybrid fuses.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ListingParams {
    /// Results, 1 to 1000 (default 10)
    limit: Option<usize>,
    /// Results skipped (default 0)
    offset: Option<usize>,
    /// relevance (default) or date
    sort: Option<String>,
    /// Weight of the meaning (vector) side in convex fusion, 0 to 1 (BM25 gets the rest)
    alpha: Option<f32>,
}

/// Runs `work` on the blocking pool with the live engine.
pub(super) async fn with_engine<T: Send + 'static>(
    state: AppState,
    work: impl FnOnce(&AppState, &Engine) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || {
        let engine = state.engine();
        work(&state, &engine)
    })
    .await
    .map_err(|_| ApiError::internal("the request's work stopped unexpectedly"))?
}

/// The filters every listing takes: `category` (repeatable, or comma-separated), `since`,
/// `until` (`YYYY-MM`).
pub(super) fn filters(params: &mut Params) -> Result<Filters, ApiError> {
    let categories = params.all("category");
    let since = params.one("since")?;
    let until = params.one("until")?;
    Ok(Filters::new(
        &categories,
        since.as_deref(),
        until.as_deref(),
    )?)
}

/// `offset`, `limit` and `sort`.
fn page(params: &mut Params) -> Result<Page, ApiError> {
    Ok(Page {
        offset: params.whole("offset")?.unwrap_or(0),
        limit: params.count("limit", DEFAULT_LIMIT, MAX_PAGE_LIMIT)?,
        sort: params.library::<Sort>("sort")?.unwrap_or_default(),
    })
}

/// `alpha` (the weight of the vector side in convex fusion; the request checks its range),
/// `None` when not given.
pub(super) fn fusion(params: &mut Params) -> Result<Option<Fusion>, ApiError> {
    Ok(params
        .parsed::<f32>("alpha", "a number")?
        .map(|alpha| Fusion::Convex { alpha }))
}

/// Ranked papers for a query: the same answer as `paperscope search --json`.
#[utoipa::path(get, path = "/api/search", tag = "search",
    params(
        ("q" = String, Query, description = "The query: English, Chinese or both; \"phrases\", -excluded"),
        ("mode" = Option<String>, Query, description = "hybrid (default), bm25 or vector"),
        ("feedback" = Option<bool>, Query, description = "false: no meaning feedback from the first results (default true; it runs for questions and sentences)"),
        FilterParams,
        ListingParams,
    ),
    responses(
        (status = 200, body = SearchResponse),
        (status = 400, body = ErrorBody, description = "A bad parameter, named"),
    ))]
pub async fn search(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<SearchResponse>, ApiError> {
    let mut params = Params::parse(raw.as_deref())?;
    let text = params
        .one("q")?
        .ok_or_else(|| ApiError::bad("q", "required: the words to search for"))?;
    let request = SearchRequest::new(text)
        .mode(params.library::<Mode>("mode")?.unwrap_or_default())
        .filters(filters(&mut params)?)
        .page(page(&mut params)?)
        .fusion_if(fusion(&mut params)?)
        .feedback(
            params
                .parsed::<bool>("feedback", "true or false")?
                .unwrap_or(true),
        );
    params.finish()?;
    with_engine(state, move |_, engine| Ok(Json(engine.search(&request)?))).await
}

/// Papers like some papers (`ids`) or like a text: the same answer as `paperscope related --json`.
#[utoipa::path(get, path = "/api/related", tag = "search",
    params(
        ("ids" = Option<String>, Query, description = "arXiv ids, comma-separated (or repeated)"),
        ("text" = Option<String>, Query, description = "Or: any text, e.g. an abstract"),
        FilterParams,
        ListingParams,
    ),
    responses(
        (status = 200, body = SearchResponse),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "An id not in the index"),
    ))]
pub async fn related(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<SearchResponse>, ApiError> {
    let mut params = Params::parse(raw.as_deref())?;
    let ids = params.all("ids");
    let request = RelatedRequest::from_parts(ids, params.one("text")?)?
        .filters(filters(&mut params)?)
        .page(page(&mut params)?)
        .fusion_if(fusion(&mut params)?);
    params.finish()?;
    with_engine(state, move |_, engine| Ok(Json(engine.related(&request)?))).await
}

/// The path parameter, or a 400 naming it (e.g. not UTF-8 once percent-decoded).
fn path_value(path: Result<Path<String>, PathRejection>, name: &str) -> Result<String, ApiError> {
    path.map(|Path(v)| v)
        .map_err(|e| ApiError::bad(name, e.body_text()))
}

/// One paper in full: the same answer as `paperscope show --json`.
#[utoipa::path(get, path = "/api/papers/{id}", tag = "papers",
    params(("id" = String, Path, description = "arXiv id, with or without version")),
    responses(
        (status = 200, body = Paper),
        (status = 404, body = ErrorBody, description = "Not in the index"),
    ))]
pub async fn paper(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Paper>, ApiError> {
    let id = path_value(id, "id")?;
    Params::parse(raw.as_deref())?.finish()?;
    with_engine(state, move |_, engine| Ok(Json(engine.paper(&id)?))).await
}

fn level(params: &mut Params) -> Result<TopicLevel, ApiError> {
    Ok(params.library::<TopicLevel>("level")?.unwrap_or_default())
}

/// The topics, labelled in both languages: the same answer as `paperscope topics --json`.
#[utoipa::path(get, path = "/api/topics", tag = "topics",
    params(("level" = Option<String>, Query, description = "fine (default) or coarse")),
    responses((status = 200, body = TopicsView), (status = 400, body = ErrorBody)))]
pub async fn topics(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<TopicsView>, ApiError> {
    let mut params = Params::parse(raw.as_deref())?;
    let level = level(&mut params)?;
    params.finish()?;
    with_engine(state, move |_, engine| {
        Ok(Json(TopicsView::of(&engine.topics(level)?)))
    })
    .await
}

/// One topic and its papers, closest to its centre first: as `paperscope topic ID --json`.
#[utoipa::path(get, path = "/api/topics/{id}", tag = "topics",
    params(
        ("id" = usize, Path, description = "Topic id"),
        ("level" = Option<String>, Query, description = "fine (default) or coarse"),
        ("limit" = Option<usize>, Query, description = "Papers, 1 to 1000 (default 20)"),
    ),
    responses(
        (status = 200, body = TopicPapers),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "No such topic"),
    ))]
pub async fn topic(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Json<TopicPapers>, ApiError> {
    let id = path_value(id, "id")?;
    let mut params = Params::parse(raw.as_deref())?;
    let level = level(&mut params)?;
    let limit = params.count("limit", 20, MAX_PAGE_LIMIT)?;
    params.finish()?;
    let asked = id.clone();
    let no_topic = move || {
        ApiError::not_found(
            Some("id"),
            format!("no topic {asked:?}: /api/topics lists them"),
        )
    };
    let number: usize = id.trim().parse().map_err(|_| no_topic())?;
    with_engine(state, move |_, engine| {
        let model = engine.topics(level)?;
        if !model.topics.iter().any(|t| t.id == number) {
            return Err(no_topic());
        }
        let (topic, papers) = engine.topic(&model, number, limit)?;
        Ok(Json(TopicPapers {
            topic: topic.clone(),
            papers,
        }))
    })
    .await
}

/// Papers per topic per month (`YYYY-MM`): as `paperscope topics --over-time --json`.
#[utoipa::path(get, path = "/api/topics/over-time", tag = "topics",
    params(("level" = Option<String>, Query, description = "fine (default) or coarse")),
    responses(
        (status = 200, description = "{topic id: {month: papers}}",
            body = std::collections::BTreeMap<String, std::collections::BTreeMap<String, usize>>),
        (status = 400, body = ErrorBody),
    ))]
pub async fn over_time(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut params = Params::parse(raw.as_deref())?;
    let level = level(&mut params)?;
    params.finish()?;
    with_engine(state, move |state, engine| {
        Ok(Json(&*state.over_time(engine, level)?).into_response())
    })
    .await
}

/// Counts per category and month, and the generation they are of: as `paperscope stats --json`.
#[utoipa::path(get, path = "/api/stats", tag = "papers",
    responses((status = 200, body = Stats, description = "The counts, with `generation`")))]
pub async fn stats(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    Params::parse(raw.as_deref())?.finish()?;
    with_engine(state, |state, engine| {
        let stats = state.stats(engine)?;
        let mut body = serde_json::to_value(&*stats)
            .map_err(|_| ApiError::internal("the counts could not be written as JSON"))?;
        let manifest = &engine.store().manifest;
        body["generation"] = manifest.generation.into();
        body["papers_with_vectors"] = manifest.papers_with_vectors().into();
        Ok(Json(body))
    })
    .await
}

/// A new digest of the chosen papers: as `paperscope digest`, in Markdown, HTML or JSON.
#[utoipa::path(get, path = "/api/digest", tag = "digest",
    params(
        ("by_topic" = Option<bool>, Query, description = "One section per topic (default false)"),
        ("q" = Option<String>, Query, description = "Only papers matching this search"),
        FilterParams,
        ("limit" = Option<usize>, Query, description = "Papers kept from q, 1 to 1000 (default 200)"),
        ("related" = Option<usize>, Query, description = "Related papers after each entry (default 3)"),
        ("format" = Option<String>, Query, description = "md (default), html or json"),
    ),
    responses(
        (status = 200, description = "The digest, as text/markdown, text/html or application/json", body = String),
        (status = 400, body = ErrorBody),
    ))]
pub async fn digest(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut params = Params::parse(raw.as_deref())?;
    let selection = Selection {
        by_topic: params.flag("by_topic", false)?,
        query: params.one("q")?,
        filters: filters(&mut params)?,
        limit: params.count("limit", DEFAULT_DIGEST_LIMIT, MAX_PAGE_LIMIT)?,
        related: params
            .whole("related")?
            .unwrap_or(DEFAULT_DIGEST_RELATED)
            .min(20),
        ..Selection::default()
    };
    let format = params
        .library::<Format>("format")?
        .unwrap_or(Format::Markdown);
    params.finish()?;
    let text = with_engine(state, move |_, engine| {
        let composed = compose::compose(engine, &selection, &crate::progress::Quiet)?;
        Ok(composed.write(format)?)
    })
    .await?;
    let content_type = match format {
        Format::Markdown => "text/markdown; charset=utf-8",
        Format::Html => "text/html; charset=utf-8",
        Format::Json => "application/json",
    };
    Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
}

/// Whether the server answers, and what it serves.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
    /// The index generation being served.
    pub generation: u64,
    /// Papers in it.
    pub papers: usize,
    /// Whether vector and hybrid searches are available.
    pub vectors: bool,
    /// Papers with a vector: fewer than `papers` while the index is still being embedded
    /// (its words were searchable first; the server embeds the rest).
    pub papers_with_vectors: usize,
    /// Why not, when they are not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vectors_error: Option<String>,
}

/// Whether the server answers, the generation it serves and whether vectors are loaded.
#[utoipa::path(get, path = "/api/health", tag = "server",
    responses((status = 200, body = Health)))]
pub async fn health(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Health>, ApiError> {
    Params::parse(raw.as_deref())?.finish()?;
    with_engine(state, |_, engine| {
        Ok(Json(Health {
            status: "ok",
            generation: engine.store().manifest.generation,
            papers: engine.store().manifest.paper_count,
            vectors: engine.meaning().is_some(),
            papers_with_vectors: engine.store().manifest.papers_with_vectors(),
            vectors_error: engine.meaning_error().map(str::to_string),
        }))
    })
    .await
}

/// Every paper as a point in 2-D, coloured by topic, with the topics' centres and labels;
/// computed once per index generation.
#[utoipa::path(get, path = "/api/map", tag = "topics",
    responses((status = 200, body = Map)))]
pub async fn map(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    Params::parse(raw.as_deref())?.finish()?;
    let map: Arc<Map> = with_engine(state, |state, engine| Ok(state.map(engine)?)).await?;
    Ok(Json(&*map).into_response())
}
