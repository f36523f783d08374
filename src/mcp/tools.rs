//! The tools: each reads its arguments, builds the library's request, runs it on the blocking
//! pool (a search is CPU work) over the live generation, and answers text for the assistant
//! with the HTTP API's JSON beside it as structured content.

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, JsonObject, ServerCapabilities, ServerConfig,
};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use serde::Serialize;

use super::args::{DigestArgs, NoArgs, PaperArgs, RelatedArgs, SearchArgs, TopicArgs, TopicsArgs};
use super::schema::{ArgumentError, input, output, read};
use super::text;
use crate::compose;
use crate::digest::Format;
use crate::error::Error;
use crate::paper::Paper;
use crate::search::{Engine, SearchResponse, TopicLevel};
use crate::stats::Stats;
use crate::topics::{TopicPapers, TopicSummary, TopicsView};

/// Where the tools get the engine of the live generation: a [`crate::search::LiveEngine`]'s
/// `current` for `paperscope mcp`, the HTTP server's for `/mcp`. Called once per tool call, so
/// a generation written meanwhile by `paperscope index` is answered from by the next call.
pub type EngineSource = Arc<dyn Fn() -> Arc<Engine> + Send + Sync>;

/// What the `topics` tool answers: the topics as `/api/topics` lists them, without its
/// per-paper assignments (one row per paper of the collection, more than an assistant reads).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TopicList {
    /// `fine` or `coarse`.
    pub level: String,
    /// The topics, largest first when fitted.
    pub topics: Vec<TopicSummary>,
}

/// What the server tells an assistant about itself when it connects.
const INSTRUCTIONS: &str = "paperscope searches a local collection of arXiv papers from \
bilingual (English + Chinese) daily digests, offline. Use `search` for papers on a subject \
(English or Chinese queries; filters by category and month), `related` for papers like given \
ones or like a text, `get_paper` for one paper in full, `topics`/`topic` for the collection's \
topics, `digest` for a Markdown digest of a selection, and `stats` for what the collection \
holds. Cite papers by their arXiv URL.";

/// The MCP tools over one index.
#[derive(Clone)]
pub struct Tools {
    engine: EngineSource,
    tool_router: ToolRouter<Tools>,
}

/// A failed call: a tool error (`isError: true`) whose text names the argument at fault.
fn failure(parameter: Option<&str>, reason: &str) -> CallToolResult {
    let text = match parameter {
        Some(name) => format!("invalid argument `{name}`: {reason}"),
        None => reason.to_string(),
    };
    CallToolResult::error(vec![ContentBlock::text(text)])
}

impl From<ArgumentError> for CallToolResult {
    fn from(error: ArgumentError) -> Self {
        failure(error.parameter.as_deref(), &error.reason)
    }
}

/// The library's error as a tool error: a bad value names its argument (the library names the
/// parameter; `ids_argument` is the argument that holds arXiv ids in this tool).
fn library_failure(error: Error, ids_argument: &str) -> CallToolResult {
    match error {
        Error::InvalidParameter { parameter, reason } => {
            // The library's engine names a topic `topic`; the tool's argument is `id`.
            let parameter = if parameter == "topic" {
                "id".to_string()
            } else {
                parameter
            };
            failure(Some(&parameter), &reason)
        }
        error @ (Error::UnknownId { .. } | Error::UnknownVersion { .. }) => {
            failure(Some(ids_argument), &error.to_string())
        }
        other => failure(None, &other.to_string()),
    }
}

/// Text for the assistant and the answer's JSON as structured content.
fn answer(text: String, structured: &impl Serialize) -> CallToolResult {
    match serde_json::to_value(structured) {
        Ok(value) => {
            let mut result = CallToolResult::structured(value);
            result.content = vec![ContentBlock::text(text)];
            result
        }
        Err(error) => failure(None, &format!("cannot write the answer as JSON: {error}")),
    }
}

#[tool_router]
impl Tools {
    /// The tools over the engines `engine` gives.
    pub fn new(engine: EngineSource) -> Tools {
        Tools {
            engine,
            tool_router: Self::tool_router(),
        }
    }

    /// Reads the arguments as `A`, then runs `work` with the live engine on the blocking pool;
    /// a bad argument or a library error is a tool error, never a protocol error or a panic.
    async fn call<A, W>(
        &self,
        arguments: JsonObject,
        ids_argument: &'static str,
        work: W,
    ) -> CallToolResult
    where
        A: serde::de::DeserializeOwned + schemars::JsonSchema + Send + 'static,
        W: FnOnce(&Engine, A) -> Result<CallToolResult, Error> + Send + 'static,
    {
        let args = match read::<A>(arguments) {
            Ok(args) => args,
            Err(error) => return error.into(),
        };
        let engine = self.engine.clone();
        let ran = tokio::task::spawn_blocking(move || {
            let engine = engine();
            work(&engine, args)
        })
        .await;
        match ran {
            Ok(Ok(result)) => result,
            Ok(Err(error)) => library_failure(error, ids_argument),
            Err(_) => failure(None, "the tool's work stopped unexpectedly"),
        }
    }

    #[tool(
        description = "Search the papers by words and meaning (hybrid BM25 + multilingual embeddings), in English or Chinese. Returns ranked papers with arXiv id and URL, English and Chinese titles, the Chinese one-line summary, category and month. Filters: category, since/until (months). Page with limit/offset.",
        input_schema = input::<SearchArgs>(),
        output_schema = output::<SearchResponse>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn search(&self, arguments: JsonObject) -> CallToolResult {
        self.call(arguments, "query", |engine, args: SearchArgs| {
            let response = engine.search(&args.request()?)?;
            Ok(answer(text::search(&response), &response))
        })
        .await
    }

    #[tool(
        description = "Papers most like given papers (arXiv ids, e.g. a reading list) or like a text (e.g. an abstract or a draft paragraph). Same result fields as search.",
        input_schema = input::<RelatedArgs>(),
        output_schema = output::<SearchResponse>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn related(&self, arguments: JsonObject) -> CallToolResult {
        self.call(arguments, "ids", |engine, args: RelatedArgs| {
            let response = engine.related(&args.request()?)?;
            Ok(answer(text::related(&response), &response))
        })
        .await
    }

    #[tool(
        description = "One paper in full (both titles, the Chinese summary, the English and Chinese abstracts, category, arXiv URL), by arXiv id in any form: 2403.05266, 2403.05266v1, arXiv:2403.05266, an arxiv.org abs or pdf URL.",
        input_schema = input::<PaperArgs>(),
        output_schema = output::<Paper>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_paper(&self, arguments: JsonObject) -> CallToolResult {
        self.call(arguments, "id", |engine, args: PaperArgs| {
            let paper = engine.paper(&args.id)?;
            Ok(answer(text::paper(&paper), &paper))
        })
        .await
    }

    #[tool(
        description = "The collection's topics, each labelled in English and Chinese, with its size and most central papers. Level fine (default) or coarse (broader).",
        input_schema = input::<TopicsArgs>(),
        output_schema = output::<TopicList>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn topics(&self, arguments: JsonObject) -> CallToolResult {
        self.call(arguments, "id", |engine, args: TopicsArgs| {
            let level = args.level()?;
            let view = TopicsView::of(&engine.topics(level)?);
            let list = TopicList {
                level: match level {
                    TopicLevel::Fine => "fine",
                    TopicLevel::Coarse => "coarse",
                }
                .to_string(),
                topics: view.topics,
            };
            Ok(answer(text::topics(&list.topics, &list.level), &list))
        })
        .await
    }

    #[tool(
        description = "One topic (by the id `topics` lists) and its papers, closest to the topic's centre first.",
        input_schema = input::<TopicArgs>(),
        output_schema = output::<TopicPapers>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn topic(&self, arguments: JsonObject) -> CallToolResult {
        self.call(arguments, "id", |engine, args: TopicArgs| {
            let model = engine.topics(args.level()?)?;
            let (topic, papers) = engine.topic(&model, args.id, args.limit()?)?;
            let answered = TopicPapers {
                topic: topic.clone(),
                papers,
            };
            Ok(answer(
                text::topic(&answered.topic, &answered.papers),
                &answered,
            ))
        })
        .await
    }

    #[tool(
        description = "A new digest in Markdown of the papers a query and/or filters choose (the same filters as search), grouped by topic by default, each entry with both titles, summaries, abstracts and related papers. Without a query it holds every paper the filters allow: narrow it with since/until or category.",
        input_schema = input::<DigestArgs>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn digest(&self, arguments: JsonObject) -> CallToolResult {
        self.call(arguments, "query", |engine, args: DigestArgs| {
            let selection = args.selection()?;
            match compose::compose(engine, &selection, &crate::progress::Quiet) {
                Ok(composed) => Ok(CallToolResult::success(vec![ContentBlock::text(
                    composed.write(Format::Markdown)?,
                )])),
                // Nothing chosen is an answer, not a bad argument.
                Err(Error::InvalidParameter { parameter, .. }) if parameter == "selection" => {
                    Ok(CallToolResult::success(vec![ContentBlock::text(format!(
                        "No paper matches the selection ({}): no digest to write.",
                        selection.describe()
                    ))]))
                }
                Err(error) => Err(error),
            }
        })
        .await
    }

    #[tool(
        description = "What the collection holds: papers in all, per month of submission and per arXiv category, and how many have English and Chinese abstracts.",
        input_schema = input::<NoArgs>(),
        output_schema = output::<Stats>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn stats(&self, arguments: JsonObject) -> CallToolResult {
        self.call(arguments, "id", |engine, _: NoArgs| {
            let stats = crate::stats::compute(&engine.papers()?);
            Ok(answer(text::stats(&stats), &stats))
        })
        .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("paperscope", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }
}
