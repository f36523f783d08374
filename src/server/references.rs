//! `/api/references`: papers named by id written for a reference manager (BibTeX, CSL-JSON,
//! RIS) or a spreadsheet (CSV), as a download. The page's "export my list" links here with its
//! reading list's ids; the bytes are the CLI's `--format` output ([`crate::references::write`]).

use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::api::with_engine;
use super::error::ApiError;
use super::params::Params;
use crate::error::Error;
use crate::references::{self, Reference, ReferenceFormat};
use crate::search::MAX_PAGE_LIMIT;

/// The papers `ids` names, in that order (each once), in `format`, as a file to save.
#[utoipa::path(get, path = "/api/references", tag = "papers",
    params(
        ("ids" = String, Query, description = "arXiv ids, comma-separated (or repeated), at most 1000"),
        ("format" = Option<String>, Query, description = "bibtex (default), csl-json, ris or csv"),
    ),
    responses(
        (status = 200, description = "The references, as a download", body = String),
        (status = 400, body = super::ErrorBody, description = "A bad parameter, named"),
        (status = 404, body = super::ErrorBody, description = "An id not in the index"),
    ))]
pub async fn export(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut params = Params::parse(raw.as_deref())?;
    let mut ids: Vec<String> = Vec::new();
    for id in params.all("ids").iter().flat_map(|v| v.split(',')) {
        let id = id.trim();
        if !id.is_empty() && !ids.iter().any(|seen| seen == id) {
            ids.push(id.to_string());
        }
    }
    if ids.is_empty() {
        return Err(ApiError::bad("ids", "required: the arXiv ids to export"));
    }
    if ids.len() > MAX_PAGE_LIMIT {
        return Err(ApiError::bad(
            "ids",
            format!("{} ids, over the limit of {MAX_PAGE_LIMIT}", ids.len()),
        ));
    }
    let format = params
        .library::<ReferenceFormat>("format")?
        .unwrap_or(ReferenceFormat::Bibtex);
    params.finish()?;
    let text = with_engine(state, move |_, engine| {
        let mut rows = Vec::with_capacity(ids.len());
        for id in &ids {
            let paper = engine.paper(id).map_err(|e| match e {
                Error::UnknownId { .. } | Error::UnknownVersion { .. } => {
                    ApiError::not_found(Some("ids"), e.to_string())
                }
                other => ApiError::from(other),
            })?;
            // The same paper named twice (`2403.05266` and `2403.05266v1`) is one reference.
            if !rows
                .iter()
                .any(|r: &Reference| r.arxiv_id == paper.arxiv_id)
            {
                rows.push(Reference::of_paper(&paper));
            }
        }
        Ok(references::write(&rows, format))
    })
    .await?;
    let disposition = format!(
        "attachment; filename=\"paperscope-references.{}\"",
        format.extension()
    );
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        text,
    )
        .into_response())
}
