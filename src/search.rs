//! Answering a query: ranked papers from the words side (BM25), the meaning side (vectors), with
//! what a reader needs to judge them.

use std::time::Instant;

use serde::Serialize;

use crate::embed::{Embedder, dot, mean_direction};
use crate::error::{Error, Result};
use crate::fulltext::Snippet;
use crate::hybrid::{Fusion, Why, fuse};
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
    /// Both, fused (the default): words first, meaning where it is confident.
    Hybrid,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Bm25 => "bm25",
            Mode::Vector => "vector",
            Mode::Hybrid => "hybrid",
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
    /// Where the result came from: each side's rank and score, and the fused score.
    pub why: Why,
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

/// The text a paper's more-like-this query is built from: English title twice, Chinese title,
/// summary and the English abstract. Leaving out the Chinese abstract (a translation of the
/// English one) raised related precision@10 from 0.34 to 0.38 (examples/related_sweep.rs).
fn related_texts(p: &crate::Paper) -> [String; 5] {
    [
        p.title_en.clone(),
        p.title_en.clone(),
        p.title_zh.clone(),
        p.summary_zh.clone(),
        p.abstract_en.clone(),
    ]
}

/// What `related` looks for papers like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelatedTo {
    /// One or more papers of the index, by arXiv id.
    Ids(Vec<String>),
    /// Any text, e.g. an abstract of a paper not in the index.
    Text(String),
}

/// One ranked paper: its number, its score in the mode asked for, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    pub number: u32,
    pub score: f32,
    pub why: Why,
}

impl From<crate::hybrid::Fused> for Ranked {
    fn from(f: crate::hybrid::Fused) -> Self {
        Ranked {
            number: f.number,
            score: f.why.fused,
            why: f.why,
        }
    }
}

/// Candidates each side contributes to fusion, whatever the number of results asked for.
const FUSION_DEPTH: usize = 100;

/// What a search can use: the text index always, the vectors when loaded.
pub struct Engine<'a> {
    pub store: &'a Store,
    pub meaning: Option<(&'a Embedder, &'a VectorIndex)>,
    pub fusion: Fusion,
}

impl<'a> Engine<'a> {
    pub fn new(store: &'a Store, meaning: Option<(&'a Embedder, &'a VectorIndex)>) -> Self {
        Engine {
            store,
            meaning,
            fusion: Fusion::default(),
        }
    }

    fn meaning(&self) -> Result<(&'a Embedder, &'a VectorIndex)> {
        self.meaning.ok_or_else(|| {
            Error::invalid(
                "--mode",
                "this search needs the vector index, which is not loaded",
            )
        })
    }

    /// Ranked papers, best first, and the number of candidates.
    pub fn rank(
        &self,
        query: &SearchQuery,
        filters: &Filters,
        limit: usize,
        mode: Mode,
    ) -> Result<(Vec<Ranked>, usize)> {
        match mode {
            Mode::Bm25 => {
                let (hits, total) = self.store.text.search(query, filters, limit)?;
                let ranked = hits
                    .iter()
                    .enumerate()
                    .map(|(i, h)| Ranked {
                        number: h.number,
                        score: h.score,
                        why: Why {
                            bm25_rank: Some(i + 1),
                            bm25_score: Some(h.score),
                            vector_rank: None,
                            cosine: None,
                            fused: h.score,
                        },
                    })
                    .collect();
                Ok((ranked, total))
            }
            Mode::Vector => {
                let (hits, total) = self.vector_side(query, filters, limit)?;
                let ranked = hits
                    .iter()
                    .enumerate()
                    .map(|(i, &(number, cosine))| Ranked {
                        number,
                        score: cosine,
                        why: Why {
                            bm25_rank: None,
                            bm25_score: None,
                            vector_rank: Some(i + 1),
                            cosine: Some(cosine),
                            fused: cosine,
                        },
                    })
                    .collect();
                Ok((ranked, total))
            }
            Mode::Hybrid => {
                let (embedder, vectors) = self.meaning()?;
                let depth = limit.max(FUSION_DEPTH);
                let (bm25, bm25_total) = self.store.text.search(query, filters, depth)?;
                let bm25: Vec<(u32, f32)> = bm25.iter().map(|h| (h.number, h.score)).collect();
                let query_vector = embedder.embed(&crate::analyze::strip_query_stop_words(
                    &query.positive_text(),
                ));
                let allowed = self.store.text.allowed(query, filters)?;
                let vector = vectors.search(&query_vector, depth, allowed.as_deref());
                let fused = fuse(
                    &bm25,
                    &vector,
                    |p| vectors.vector_of(p).map(|v| dot(&query_vector, v)),
                    self.fusion,
                );
                let total = bm25_total.max(vector.len());
                let ranked = fused.into_iter().take(limit).map(Ranked::from).collect();
                Ok((ranked, total))
            }
        }
    }

    fn vector_side(
        &self,
        query: &SearchQuery,
        filters: &Filters,
        limit: usize,
    ) -> Result<(Vec<(u32, f32)>, usize)> {
        let (embedder, vectors) = self.meaning()?;
        let allowed = self.store.text.allowed(query, filters)?;
        let total = allowed
            .as_ref()
            .map_or(vectors.len(), |a| a.iter().filter(|&&x| x).count());
        Ok((
            vectors.search(
                &embedder.embed(&crate::analyze::strip_query_stop_words(
                    &query.positive_text(),
                )),
                limit,
                allowed.as_deref(),
            ),
            total,
        ))
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
        let results = self.results(&ranked, |paper| snippets.for_paper(paper))?;
        Ok(SearchResponse {
            query: query.raw.clone(),
            mode,
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
            total,
            results,
        })
    }

    /// Papers like the given ones (or like a text): their vectors' nearest neighbours fused with
    /// a BM25 more-like-this query of their distinctive terms; the given papers never appear.
    pub fn related(
        &self,
        target: &RelatedTo,
        filters: &Filters,
        limit: usize,
    ) -> Result<SearchResponse> {
        let started = Instant::now();
        let (embedder, vectors) = self.meaning()?;
        let (texts, query_vector, exclude, description) = match target {
            RelatedTo::Ids(ids) => {
                let mut papers = Vec::new();
                for id in ids {
                    let paper = self
                        .store
                        .text
                        .paper_by_id(id)?
                        .ok_or_else(|| Error::UnknownId { id: id.clone() })?;
                    papers.push(paper);
                }
                let numbers: Vec<u32> = papers
                    .iter()
                    .map(|p| self.store.text.number_by_id(&p.arxiv_id))
                    .collect::<Result<_>>()?;
                let own: Vec<&[f32]> = numbers
                    .iter()
                    .filter_map(|&n| vectors.vector_of(n))
                    .collect();
                let texts: Vec<String> = papers.iter().flat_map(related_texts).collect();
                (
                    texts,
                    mean_direction(&own),
                    numbers,
                    format!("related to {}", ids.join(", ")),
                )
            }
            RelatedTo::Text(text) => {
                if text.trim().is_empty() {
                    return Err(Error::invalid("--text", "the text is empty"));
                }
                (
                    vec![text.clone()],
                    embedder.embed(text),
                    Vec::new(),
                    format!(
                        "related to text: {}",
                        crate::fulltext::truncate_chars(text, 60)
                    ),
                )
            }
        };
        let depth = limit.max(FUSION_DEPTH);
        let bm25: Vec<(u32, f32)> = self
            .store
            .text
            .more_like_this(&texts, filters, &exclude, depth)?
            .iter()
            .map(|h| (h.number, h.score))
            .collect();
        let mut allowed = self
            .store
            .text
            .allowed(&SearchQuery::default(), filters)?
            .unwrap_or_else(|| vec![true; self.store.manifest.paper_count]);
        for &n in &exclude {
            if let Some(slot) = allowed.get_mut(n as usize) {
                *slot = false;
            }
        }
        let vector = vectors.search(&query_vector, depth, Some(&allowed));
        let fused = fuse(
            &bm25,
            &vector,
            |p| vectors.vector_of(p).map(|v| dot(&query_vector, v)),
            self.fusion,
        );
        let ranked: Vec<Ranked> = fused
            .into_iter()
            .filter(|f| !exclude.contains(&f.number))
            .take(limit)
            .map(Ranked::from)
            .collect();
        let snippet_query = SearchQuery {
            text: texts.first().cloned().unwrap_or_default(),
            ..SearchQuery::default()
        };
        let snippets = self.store.text.snippets(&snippet_query);
        let results = self.results(&ranked, |paper| snippets.for_paper(paper))?;
        Ok(SearchResponse {
            query: description,
            mode: Mode::Hybrid,
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
            total: allowed.iter().filter(|&&a| a).count(),
            results,
        })
    }

    /// Full result records for ranked papers.
    pub fn results(
        &self,
        ranked: &[Ranked],
        snippet: impl Fn(&crate::Paper) -> Snippet,
    ) -> Result<Vec<SearchResult>> {
        let mut results = Vec::with_capacity(ranked.len());
        for (i, r) in ranked.iter().enumerate() {
            let paper = self.store.text.paper_by_number(r.number)?;
            let Snippet { text, highlights } = snippet(&paper);
            results.push(SearchResult {
                rank: i + 1,
                category: paper.categories().into_iter().next(),
                arxiv_id: paper.arxiv_id,
                version: paper.version,
                title_en: paper.title_en,
                title_zh: paper.title_zh,
                summary_zh: paper.summary_zh,
                score: r.score,
                why: r.why,
                snippet: text,
                highlights,
                number: r.number,
            });
        }
        Ok(results)
    }
}
