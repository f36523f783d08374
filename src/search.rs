//! Answering a query: ranked papers from the words side (BM25), the meaning side (vectors), with
//! what a reader needs to judge them.

use std::time::Instant;

use serde::Serialize;

use crate::embed::Embedder;
use crate::error::{Error, Result};
use crate::fulltext::Snippet;
use crate::query::{Filters, SearchQuery};
use crate::store::Store;
use crate::vectors::VectorIndex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Words: BM25 over the bilingual text.
    Bm25,
    /// Meaning: nearest paper vectors, across languages.
    Vector,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Bm25 => "bm25",
            Mode::Vector => "vector",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

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
    pub mode: Mode,
    pub took_ms: f64,
    /// Papers that matched before the cut to `limit` (for vectors: the papers allowed).
    pub total: usize,
    pub results: Vec<SearchResult>,
}

/// What a search can use: the text index always, the vectors when loaded.
pub struct Engine<'a> {
    pub store: &'a Store,
    pub meaning: Option<(&'a Embedder, &'a VectorIndex)>,
}

impl Engine<'_> {
    /// `(paper number, score)` best first, and the number of candidates.
    pub fn rank(
        &self,
        query: &SearchQuery,
        filters: &Filters,
        limit: usize,
        mode: Mode,
    ) -> Result<(Vec<(u32, f32)>, usize)> {
        match mode {
            Mode::Bm25 => {
                let (hits, total) = self.store.text.search(query, filters, limit)?;
                Ok((
                    hits.into_iter().map(|h| (h.number, h.score)).collect(),
                    total,
                ))
            }
            Mode::Vector => {
                let (embedder, vectors) = self.meaning.ok_or_else(|| {
                    Error::invalid(
                        "--mode",
                        "vector search needs the vector index, which is not loaded",
                    )
                })?;
                let allowed = self.store.text.allowed(query, filters)?;
                let total = allowed
                    .as_ref()
                    .map_or(vectors.len(), |a| a.iter().filter(|&&x| x).count());
                let hits = vectors.search(
                    &embedder.embed(&query.positive_text()),
                    limit,
                    allowed.as_deref(),
                );
                Ok((hits, total))
            }
        }
    }

    pub fn search(
        &self,
        query: &SearchQuery,
        filters: &Filters,
        limit: usize,
        mode: Mode,
    ) -> Result<SearchResponse> {
        let started = Instant::now();
        let (ranked, total) = self.rank(query, filters, limit, mode)?;
        let snippets = self.store.text.snippets(query);
        let mut results = Vec::with_capacity(ranked.len());
        for (i, &(number, score)) in ranked.iter().enumerate() {
            let paper = self.store.text.paper_by_number(number)?;
            let Snippet { text, highlights } = snippets.for_paper(&paper);
            results.push(SearchResult {
                rank: i + 1,
                category: paper.categories().into_iter().next(),
                arxiv_id: paper.arxiv_id,
                version: paper.version,
                title_en: paper.title_en,
                title_zh: paper.title_zh,
                summary_zh: paper.summary_zh,
                score,
                snippet: text,
                highlights,
                number,
            });
        }
        Ok(SearchResponse {
            query: query.raw.clone(),
            mode,
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
            total,
            results,
        })
    }
}
