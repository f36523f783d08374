//! Evaluation: how well the engine does, measured on the collection itself.
//!
//! One kind of measurement per file: `retrieval` (ranking against a judged query file),
//! `crosslingual` (known-item search across languages), `ann` (HNSW against exact search) and
//! `clustering` (partition agreement and topic quality). Each produces a serialisable report, so
//! the CLI can print it as text or JSON and BENCHMARKS.md can quote it.

mod ann;
mod clustering;
mod crosslingual;
mod related;
mod retrieval;

pub use ann::{AnnPoint, AnnReport, ann_recall};
pub use clustering::{TopicQuality, topic_quality};
pub use crosslingual::{CrossLingual, KnownItem, crosslingual};
pub use related::{
    RelatedCase, RelatedReport, cases_from_queries, cases_from_sets, evaluate_related,
    list_cases_from_queries,
};
pub use retrieval::{
    JudgedQuery, Method, Metrics, QueryOutcome, Report, evaluate, evaluate_method,
    evaluate_methods, load_queries, search_methods,
};
