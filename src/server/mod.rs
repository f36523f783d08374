//! `paperscope serve`: the HTTP API (`/api/...`) and the web page (`/`), over one live index.
//!
//! The server only translates: requests into library calls, the library's own types into JSON
//! (the same shapes as the CLI's `--json`). It opens the index once (with the model loaded once)
//! through [`crate::search::LiveEngine`], so a generation written by `paperscope index` in
//! another process is picked up by the next request, while requests in flight finish on the
//! generation they started with.
//!
//! What a client sends never makes a 500: a bad or unknown parameter is a 400 naming it, an
//! unknown paper or topic a 404, a URL over [`MAX_URI_BYTES`] a 414, all as
//! `{"error": ..., "parameter": ...}`.
//!
//! `/feeds/...` serves a search or a topic as an Atom feed ([`feeds`]); `/api/references` the
//! reading list's papers for a reference manager ([`references`]).
//!
//! `/mcp` serves the same questions as MCP tools (Streamable HTTP, [`crate::mcp`]) over the
//! same live engine.

pub mod api;
pub mod error;
pub mod feeds;
pub mod page;
mod params;
pub mod references;
mod state;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa::OpenApi;

pub use error::{ApiError, ErrorBody};
pub use state::AppState;

/// The longest request target served; longer ones are refused with 414 before any work.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// The OpenAPI document, generated from the handlers and the library's response types.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "paperscope",
        description = "Search, related papers, topics and digests over bilingual arXiv digests."
    ),
    paths(
        api::search,
        api::related,
        api::paper,
        api::topics,
        api::topic,
        api::over_time,
        api::stats,
        api::digest,
        api::health,
        api::map,
        references::export,
        feeds::search,
        feeds::topic,
        openapi_json,
    )
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "server",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API")))]
async fn openapi_json() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}

/// Every route: the API, the page, the MCP tools at `/mcp`, and JSON answers for everything
/// else. `/mcp` accepts loopback `Host` names only (see [`router_for`]).
pub fn router(state: AppState) -> Router {
    router_for(state, false)
}

/// [`router`], with `/mcp` accepting any `Host` header when `any_host` (a server bound to a
/// network address rather than loopback, reached by the machine's names).
pub fn router_for(state: AppState, any_host: bool) -> Router {
    let engines = state.clone();
    let mcp = crate::mcp::http_service(std::sync::Arc::new(move || engines.engine()), any_host);
    let api = Router::new()
        .route("/api/search", get(api::search))
        .route("/api/related", get(api::related))
        .route("/api/papers/{id}", get(api::paper))
        .route("/api/topics", get(api::topics))
        .route("/api/topics/over-time", get(api::over_time))
        .route("/api/topics/{id}", get(api::topic))
        .route("/api/stats", get(api::stats))
        .route("/api/digest", get(api::digest))
        .route("/api/health", get(api::health))
        .route("/api/map", get(api::map))
        .route("/api/references", get(references::export))
        .route("/feeds/search.atom", get(feeds::search))
        .route("/feeds/topics/{file}", get(feeds::topic))
        .route("/api/openapi.json", get(openapi_json));
    api.merge(page::routes())
        .route_service("/mcp", mcp)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(limit_uri))
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(None, format!("no such endpoint: {}", uri.path()))
}

async fn method_not_allowed() -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        body: ErrorBody {
            error: "this endpoint answers GET only".into(),
            parameter: None,
        },
    }
}

async fn limit_uri(request: Request, next: Next) -> Response {
    let length = request.uri().to_string().len();
    if length > MAX_URI_BYTES {
        return ApiError {
            status: StatusCode::URI_TOO_LONG,
            body: ErrorBody {
                error: format!("the URL is {length} bytes, over the {MAX_URI_BYTES}-byte limit"),
                parameter: None,
            },
        }
        .into_response();
    }
    next.run(request).await
}

/// Serves `state` on `listener` until the process is interrupted (Ctrl-C): builds the async
/// runtime and blocks.
pub fn run(listener: std::net::TcpListener, state: AppState) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let any_host = !listener.local_addr()?.ip().is_loopback();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        axum::serve(listener, router_for(state, any_host))
            .with_graceful_shutdown(async {
                // No signal handler (e.g. in a test thread) just means no graceful stop.
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            })
            .await
    })
}

/// Binds `address`; a bind failure is an error naming the `bind` parameter.
pub fn bind(address: SocketAddr) -> crate::Result<std::net::TcpListener> {
    std::net::TcpListener::bind(address)
        .map_err(|e| crate::Error::invalid("bind", format!("cannot listen on {address}: {e}")))
}
