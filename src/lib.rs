//! paperscope: a bilingual (English + Chinese) search and topic engine for arXiv paper digests.
//!
//! Modules, one job each: `paper` (the record), `digest` (Markdown <-> papers), `analyze`
//! (tokenizers), `fulltext` (Tantivy), `query` (query syntax and filters), `store` (the index
//! directory), `search` (ranked results for a query), `stats` (counts).

pub mod analyze;
pub mod digest;
pub mod embed;
pub mod error;
pub mod eval;
pub mod fulltext;
pub mod hybrid;
pub mod paper;
pub mod query;
pub mod search;
pub mod stats;
pub mod store;
pub mod topics;
pub mod vectors;

pub use error::{Error, Result};
pub use paper::Paper;
