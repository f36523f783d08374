//! The MCP server (Model Context Protocol, with the official Rust SDK `rmcp`): paperscope's
//! questions as tools an assistant calls. `paperscope mcp` speaks it over stdio (what desktop
//! assistants launch: nothing but protocol on stdout), and `paperscope serve` at `/mcp`
//! (Streamable HTTP).
//!
//! The tools only translate, as the HTTP API does: each builds the library's own request
//! ([`crate::SearchRequest`], [`crate::RelatedRequest`], [`crate::compose::Selection`]) and
//! answers the library's own types. Input schemas come from the argument structs (`args`),
//! output schemas from the response types' OpenAPI schemas (`schema`), the assistant's text
//! from `text`. A bad argument is a tool error naming it (`isError: true`), never an empty
//! success or a crash; every call is answered from the live generation.
//!
//! - `args`: one struct per tool, turned into the library's request;
//! - `schema`: the schemas, and reading arguments with errors that name them;
//! - `text`: what an assistant reads of an answer;
//! - `tools`: the tools themselves ([`Tools`]).

mod args;
mod schema;
mod text;
mod tools;

use std::sync::Arc;

use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};

pub use tools::{EngineSource, Tools, TopicList};

use crate::error::{Error, Result};
use crate::search::LiveEngine;

/// What a transport failure of the stdio server is reported against.
const STDIO: &str = "<standard input/output>";

/// Serves the tools over stdin/stdout until the client closes stdin: builds the async runtime
/// and blocks. Logs, if any, belong on stderr; stdout carries the protocol only.
pub fn serve_stdio(live: LiveEngine) -> Result<()> {
    let failed = |e: &dyn std::fmt::Display| Error::io(STDIO, std::io::Error::other(e.to_string()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io(STDIO, e))?;
    let live = Arc::new(live);
    let tools = Tools::new(Arc::new(move || live.current()));
    let outcome = runtime.block_on(async move {
        let running = tools
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| failed(&e))?;
        running.waiting().await.map_err(|e| failed(&e))?;
        Ok(())
    });
    // The blocking read of stdin may still be parked; it ends with the process.
    runtime.shutdown_background();
    outcome
}

/// The tools as a Streamable HTTP service, for a router to mount (`/mcp` on `serve`).
///
/// Stateless, answering plain JSON: every call is one POST and one answer, with no session to
/// keep and no event stream held open (which would also hold back a graceful shutdown).
/// `any_host`: accept any `Host` header; otherwise only loopback names are (rmcp's guard
/// against DNS rebinding, right for a server bound to loopback; a server bound to a lab's
/// network is reached by other names).
pub fn http_service(
    engine: EngineSource,
    any_host: bool,
) -> StreamableHttpService<Tools, NeverSessionManager> {
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None);
    if any_host {
        config = config.disable_allowed_hosts();
    }
    let tools = Tools::new(engine);
    StreamableHttpService::new(
        move || Ok(tools.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}
