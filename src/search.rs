//! Answering a query: ranked papers with what a reader needs to judge them.

use std::time::Instant;

use serde::Serialize;

use crate::error::Result;
use crate::fulltext::Snippet;
use crate::query::{Filters, SearchQuery};
use crate::store::Store;

#[derive(Debug, Clone, Serialize)]
pub struct SearchResult {
    pub rank: usize,
    pub arxiv_id: String,
    pub version: Option<u32>,
    pub title_en: String,
    pub title_zh: String,
    pub summary_zh: String,
    pub category: Option<String>,
    pub score: f32,
    /// A fragment of the abstract around the matched words.
    pub snippet: String,
    /// Byte ranges of `snippet` that matched the query.
    pub highlights: Vec<(usize, usize)>,
    #[serde(skip)]
    pub number: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchResponse {
    pub query: String,
    pub mode: &'static str,
    pub took_ms: f64,
    /// Papers that matched before the cut to `limit`.
    pub total: usize,
    pub results: Vec<SearchResult>,
}

pub fn search(
    store: &Store,
    query: &SearchQuery,
    filters: &Filters,
    limit: usize,
) -> Result<SearchResponse> {
    let started = Instant::now();
    let (hits, total) = store.text.search(query, filters, limit)?;
    let searcher = store.text.searcher();
    let snippets = store.text.snippets(query);
    let mut results = Vec::with_capacity(hits.len());
    for (i, hit) in hits.iter().enumerate() {
        let paper = store.text.paper_at(&searcher, hit.address)?;
        let Snippet { text, highlights } = snippets.for_paper(&paper);
        results.push(SearchResult {
            rank: i + 1,
            category: paper.categories().into_iter().next(),
            arxiv_id: paper.arxiv_id,
            version: paper.version,
            title_en: paper.title_en,
            title_zh: paper.title_zh,
            summary_zh: paper.summary_zh,
            score: hit.score,
            snippet: text,
            highlights,
            number: hit.number,
        });
    }
    Ok(SearchResponse {
        query: query.raw.clone(),
        mode: "bm25",
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
        total,
        results,
    })
}
