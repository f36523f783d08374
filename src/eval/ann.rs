//! ANN: how much of exact search's top 10 the HNSW graph finds, and how fast, per `ef`.
//!
//! The graph is built over the index's own vectors with no exact-search cutoff, so the curve is
//! measured even for collections small enough that the index itself searches exactly. Queries
//! are texts embedded as a search would embed them (papers' English titles and Chinese one-line
//! summaries), not the indexed vectors themselves: a vector's own nearest neighbour is itself,
//! which made the curve optimistic (ef 64: 0.997 with the indexed vectors, 0.979 with texts).
//! On data/ this curve gave recall 0.984 at ef 192; the default `ef` (1152) comes from the same
//! curve at 100k generated papers (BENCHMARKS.md "Scale"), where the graph is actually used.

use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::paper::PaperNumber;
use crate::search::Engine;
use crate::vectors::{VectorIndex, VectorParams};

/// `(paper number, similarity)`, best first.
type Ranked = Vec<(PaperNumber, f32)>;

/// One point of the HNSW recall/latency curve.
#[derive(Debug, Clone, Serialize)]
pub struct AnnPoint {
    /// Candidate list size during search.
    pub ef: usize,
    /// Share of exact search's top 10 that the graph also returned.
    pub recall10: f64,
    /// Mean time per query, microseconds.
    pub latency_us: f64,
}

/// The HNSW recall/latency curve, with exact search as the baseline.
#[derive(Debug, Clone, Serialize)]
pub struct AnnReport {
    /// Vectors in the graph.
    pub papers: usize,
    /// Query texts: every `stride`-th paper's English title or Chinese summary, alternately.
    pub queries: usize,
    /// Time to build the graph.
    pub build_seconds: f64,
    /// Mean time per query of exact search, microseconds.
    pub exact_latency_us: f64,
    /// One point per `ef`, in the order given.
    pub curve: Vec<AnnPoint>,
}

/// Builds an HNSW graph over the engine's paper vectors and compares its top 10 with exact
/// search at each `ef`, for query texts taken from every `stride`-th paper (its English title or
/// its Chinese summary, alternately).
pub fn ann_recall(engine: &Engine, efs: &[usize], stride: usize) -> Result<AnnReport> {
    let meaning = engine
        .meaning()
        .ok_or_else(|| Error::invalid("mode", "the ANN curve needs the vector index"))?;
    let (embedder, index) = (&meaning.embedder, &meaning.vectors);
    let all = engine.papers()?;
    let papers = all.len();
    let vectors: Vec<Vec<f32>> = (0..papers)
        .map(|i| {
            index
                .vector_of(PaperNumber::from_index(i))
                .map(<[f32]>::to_vec)
                .unwrap_or_else(|| vec![0.0; index.dims()])
        })
        .collect();
    let queries: Vec<Vec<f32>> = all
        .iter()
        .step_by(stride.max(1))
        .enumerate()
        .map(|(i, p)| match i % 2 {
            0 => embedder.embed_query(&p.title_en),
            _ => embedder.embed_query(&p.summary_zh),
        })
        .collect();
    let started = Instant::now();
    let params = VectorParams {
        exact_below: 0,
        ..VectorParams::default()
    };
    let mut graph = VectorIndex::build(index.dims(), vectors, params, || {});
    let build_seconds = started.elapsed().as_secs_f64();
    let timed = |f: &dyn Fn(&[f32]) -> Ranked| {
        let started = Instant::now();
        let results: Vec<Vec<PaperNumber>> = queries
            .iter()
            .map(|q| f(q).into_iter().map(|(p, _)| p).collect())
            .collect();
        (
            results,
            started.elapsed().as_secs_f64() * 1e6 / queries.len().max(1) as f64,
        )
    };
    let (exact, exact_latency_us) = timed(&|q| graph.search_exact(q, 10, None));
    let mut curve = Vec::new();
    for &ef in efs {
        graph.set_ef_search(ef);
        let (approx, latency_us) = timed(&|q| graph.search(q, 10, None));
        let found: usize = exact
            .iter()
            .zip(&approx)
            .map(|(e, a)| e.iter().filter(|p| a.contains(p)).count())
            .sum();
        let wanted: usize = exact.iter().map(Vec::len).sum();
        curve.push(AnnPoint {
            ef,
            recall10: found as f64 / wanted.max(1) as f64,
            latency_us,
        });
    }
    Ok(AnnReport {
        papers,
        queries: queries.len(),
        build_seconds,
        exact_latency_us,
        curve,
    })
}
