//! paperscope: a bilingual (English + Chinese) search and topic engine for arXiv paper digests.
//!
//! The library does all the work; the `paperscope` binary and its HTTP server only translate
//! arguments and requests into calls of it. Modules, each with one job, from the bottom up:
//!
//! - [`paper`], [`text`], [`error`], [`atomic`], [`progress`]: the record, script helpers,
//!   typed errors, the one atomic file writer, progress reporting;
//! - [`query`], [`analyze`], [`digest`]: query syntax and filters, the English / Chinese
//!   analyzers, the digest Markdown format (parse, render, HTML);
//! - [`fulltext`] (Tantivy, BM25), [`embed`] (text -> vector, and the cache of vectors made),
//!   [`vectors`] (exact / HNSW search; what a query in each script sees of a paper), [`hybrid`]
//!   (fusing the two rankings), [`topics`] (clustering and labels);
//! - [`store`] (the index directory and its generations) and [`update`] (the write path);
//! - [`search`] ([`Engine`]: a [`SearchRequest`], a [`RelatedRequest`], papers, topics), [`compose`] (new digests),
//!   [`stats`], [`eval`] (measurements), [`projection`] (the topic map), [`export`] (files for a
//!   distributed engine);
//! - [`server`]: the HTTP API and web page over a live index; [`mcp`]: the same questions as
//!   MCP tools for assistants (stdio, and `/mcp` on the server).
//!
//! ```no_run
//! use paperscope::{Engine, ModelSource, Needs, RelatedRequest, SearchRequest};
//!
//! let engine = Engine::open("index".as_ref(), &ModelSource::default(), Needs::WordsAndMeaning)?;
//! let response = engine.search(&SearchRequest::new("幻觉 基准").limit(5))?;
//! assert!(response.results.len() <= 5);
//! let like = engine.related(&RelatedRequest::ids(["2403.05266"]))?;
//! assert!(like.results.iter().all(|r| r.arxiv_id != "2403.05266"));
//! # Ok::<(), paperscope::Error>(())
//! ```

#![warn(missing_docs)]

pub mod analyze;
pub mod atomic;
pub mod compose;
pub mod digest;
pub mod embed;
pub mod error;
pub mod eval;
pub mod export;
pub mod fulltext;
#[cfg(test)]
mod fuzzing;
pub mod hybrid;
pub mod mcp;
pub mod paper;
pub mod progress;
pub mod projection;
pub mod query;
pub mod references;
pub mod search;
pub mod server;
pub mod stats;
pub mod store;
pub mod text;
pub mod topics;
pub mod update;
pub mod vectors;
pub mod watch;

pub use embed::ModelSource;
pub use error::{Error, Result};
pub use paper::{Paper, PaperNumber};
pub use search::{Engine, Needs, RelatedRequest, SearchRequest};
pub use store::Store;

/// README.md's Rust example, compiled by `cargo test --doc` (its other blocks are not Rust).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
