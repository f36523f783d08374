//! Answering a [`SearchRequest`]: the words side (BM25), the meaning side (vectors) or both
//! fused, a spelling correction when the words match nothing, then the page with snippets.

use std::time::Instant;

use super::feedback::{FirstStage, describes_a_need, with_feedback};
use super::request::{Mode, SearchRequest};
use super::response::{Ranked, Ranking, SearchResponse};
use super::{Engine, FUSION_DEPTH};
use crate::embed::Embedder;
use crate::error::Result;
use crate::hybrid::{Fused, Fusion, Why, fuse};
use crate::paper::PaperNumber;
use crate::query::{Filters, SearchQuery};
use crate::vectors::views::Script;

/// The vector of `query` on the meaning side: its positive words without query stop words.
pub(super) fn query_vector(embedder: &Embedder, query: &SearchQuery) -> Vec<f32> {
    embedder.embed_query(&crate::analyze::strip_query_stop_words(
        &query.positive_text(),
    ))
}

/// How a search ranks: its mode, the fusion of the two sides, and whether the meaning-feedback
/// stage follows.
#[derive(Debug, Clone, Copy)]
struct How {
    mode: Mode,
    fusion: Fusion,
    feedback: bool,
}

impl Engine {
    /// The page of papers `request` asks for, ranked in its mode, with snippets and the why of
    /// each. Hybrid without loaded vectors answers with BM25 and says so in `warnings`; words
    /// that match nothing are answered by their spelling correction, and the response says so.
    ///
    /// ```
    /// use paperscope::progress::Quiet;
    /// use paperscope::update::{self, UpdateOptions};
    /// use paperscope::{Engine, ModelSource, Needs, SearchRequest};
    ///
    /// // A small index of one real digest.
    /// let dir = tempfile::tempdir().unwrap();
    /// let digest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
    ///     .join("data/digests/2024-03-06_cs.CL_0a55959e.md");
    /// let model = ModelSource::default();
    /// update::index_files(dir.path(), &[digest], &model.load()?, UpdateOptions::default(), &Quiet)?;
    ///
    /// let engine = Engine::open(dir.path(), &model, Needs::WordsAndMeaning)?;
    /// let response = engine.search(&SearchRequest::new("hallucination").limit(3))?;
    /// assert_eq!(response.results.len(), 3);
    /// assert!(response.results[0].title_en.to_lowercase().contains("hallucinat"));
    /// # Ok::<(), paperscope::Error>(())
    /// ```
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResponse> {
        let started = Instant::now();
        let mut query = request.checked()?;
        let (mode, filters, page) = (
            request.mode_asked(),
            request.filters_asked(),
            request.page_asked(),
        );
        let fusion = request.fusion_asked().unwrap_or(self.fusion());
        let limit = page.depth();
        let how = How {
            mode,
            fusion,
            feedback: self.feedback_for(request),
        };
        let (mut ranked, mut total) = self.rank_query(&query, filters, limit, how)?;
        let mut corrected_from = None;
        let spelling = match mode {
            Mode::Vector => None,
            _ => self.store.text.suggest(&query.raw),
        };
        let mut did_you_mean = None;
        if let Some(fixed) = spelling.and_then(|f| SearchQuery::parse(&f).ok()) {
            if self.store.text.search(&query, filters, 1)?.1 == 0 {
                // Nothing matched the words as typed: answer the correction, and say so.
                (ranked, total) = self.rank_query(&fixed, filters, limit, how)?;
                corrected_from = Some(std::mem::replace(&mut query, fixed).raw);
            } else {
                did_you_mean = Some(fixed.raw);
            }
        }
        let snippets = self.store.text.snippets(&query);
        let results = self.page_of(ranked, page, |paper| snippets.for_paper(paper))?;
        let effective = self.effective_mode(mode);
        let mut warnings = Vec::new();
        if effective != mode {
            let why = self
                .meaning_error
                .as_deref()
                .unwrap_or("the vector index is not loaded");
            warnings.push(format!("{why}; answering with BM25 only"));
        } else if let Some(note) = self.coverage_note(effective) {
            warnings.push(note);
        }
        Ok(SearchResponse {
            query: query.raw,
            corrected_from,
            did_you_mean,
            mode: effective,
            fusion: (effective == Mode::Hybrid).then(|| fusion.name()),
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
            total,
            offset: page.offset,
            sort: page.sort,
            seeds: Vec::new(),
            results,
            warnings,
        })
    }

    /// What a search by meaning cannot see while the index's vectors are still being made
    /// (words come first): `None` once every paper has its vector, or for words alone.
    fn coverage_note(&self, mode: Mode) -> Option<String> {
        let manifest = &self.store.manifest;
        if mode == Mode::Bm25 || manifest.vectors_complete() {
            return None;
        }
        let (covered, papers) = (manifest.papers_with_vectors(), manifest.paper_count);
        let covers = format!(
            "meaning covers {} of {} papers (their vectors are still being made)",
            crate::text::thousands(covered),
            crate::text::thousands(papers)
        );
        Some(match mode {
            Mode::Vector => format!(
                "{covers}: the other {} cannot be found by meaning yet; a search by words \
                 (bm25 or hybrid) finds them",
                crate::text::thousands(papers - covered)
            ),
            _ => format!("{covers}: the others are found by their words only"),
        })
    }

    /// The papers `request` ranks, from the first to the end of its page, without result
    /// records, snippets or spelling correction: what measurements and digests need.
    pub fn rank(&self, request: &SearchRequest) -> Result<Ranking> {
        let query = request.checked()?;
        let fusion = request.fusion_asked().unwrap_or(self.fusion());
        let how = How {
            mode: request.mode_asked(),
            fusion,
            feedback: self.feedback_for(request),
        };
        let (ranked, total) = self.rank_query(
            &query,
            request.filters_asked(),
            request.page_asked().depth(),
            how,
        )?;
        Ok(Ranking { ranked, total })
    }

    /// Whether the meaning-feedback stage follows the first stage of `request`: asked for, and
    /// the query describes a need (unless the engine's settings say every query).
    fn feedback_for(&self, request: &SearchRequest) -> bool {
        request.feedback_asked()
            && (!self.feedback_params.needs_only || describes_a_need(request.text()))
    }

    /// Sets how the meaning-feedback stage ranks (for measurements).
    pub fn set_feedback_params(&mut self, params: super::FeedbackParams) {
        self.feedback_params = params;
    }

    /// The mode a search asked for in `mode` really runs in: hybrid without vectors is BM25.
    pub fn effective_mode(&self, mode: Mode) -> Mode {
        if mode == Mode::Hybrid && self.meaning.is_none() {
            Mode::Bm25
        } else {
            mode
        }
    }

    /// Ranked papers, best first, and the number of candidates.
    fn rank_query(
        &self,
        query: &SearchQuery,
        filters: &Filters,
        limit: usize,
        how: How,
    ) -> Result<(Vec<Ranked>, usize)> {
        let limit = self.clamp(limit);
        self.check_categories(filters)?;
        match self.effective_mode(how.mode) {
            Mode::Bm25 => self.rank_words(query, filters, limit),
            Mode::Vector => self.rank_meaning(query, filters, limit, how.feedback),
            Mode::Hybrid => self.rank_hybrid(query, filters, limit, how),
        }
    }

    fn rank_words(
        &self,
        query: &SearchQuery,
        filters: &Filters,
        limit: usize,
    ) -> Result<(Vec<Ranked>, usize)> {
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
                    ..Why::default()
                },
                related: None,
            })
            .collect();
        Ok((ranked, total))
    }

    fn rank_meaning(
        &self,
        query: &SearchQuery,
        filters: &Filters,
        limit: usize,
        feedback: bool,
    ) -> Result<(Vec<Ranked>, usize)> {
        let meaning = self.need_loaded_meaning()?;
        let allowed = self.store.text.allowed(query, filters)?;
        let total = allowed
            .as_ref()
            .map_or(meaning.vectors.len(), |a| a.iter().filter(|&&x| x).count());
        let script = Script::of(&query.positive_text());
        let query_vector = query_vector(&meaning.embedder, query);
        let depth = if feedback {
            limit.max(FUSION_DEPTH)
        } else {
            limit
        };
        let hits = meaning.nearest_to_query(&query_vector, script, depth, allowed.as_deref());
        // A paper pointing away from the query (cosine <= 0) is no evidence of meaning.
        let mut first: Vec<Fused> = hits
            .iter()
            .filter(|&&(_, cosine)| cosine > 0.0)
            .enumerate()
            .map(|(i, &(number, cosine))| Fused {
                number,
                why: Why {
                    vector_rank: Some(i + 1),
                    cosine: Some(cosine),
                    fused: cosine,
                    ..Why::default()
                },
            })
            .collect();
        if feedback {
            let stage = FirstStage {
                vector: &query_vector,
                script,
                allowed: allowed.as_deref(),
            };
            first = with_feedback(meaning, first, stage, self.feedback_params);
        }
        let ranked = first.into_iter().take(limit).map(Ranked::from).collect();
        Ok((ranked, total))
    }

    fn rank_hybrid(
        &self,
        query: &SearchQuery,
        filters: &Filters,
        limit: usize,
        how: How,
    ) -> Result<(Vec<Ranked>, usize)> {
        let meaning = self.need_loaded_meaning()?;
        let depth = limit.max(FUSION_DEPTH);
        // The meaning side first: a Chinese query's BM25 terms wait for jieba's dictionary when
        // a new process builds it, its embedding does not.
        let query_vector = query_vector(&meaning.embedder, query);
        let (bm25, bm25_total) = self.store.text.search(query, filters, depth)?;
        let bm25: Vec<(PaperNumber, f32)> = bm25.iter().map(|h| (h.number, h.score)).collect();
        let script = Script::of(&query.positive_text());
        let allowed = self.store.text.allowed(query, filters)?;
        // The meaning side brings at most its FUSION_DEPTH nearest papers, however deep the
        // page: with e5 every paper has a positive cosine, and a deep page would otherwise count
        // the whole collection as matching.
        let vector =
            meaning.nearest_to_query(&query_vector, script, FUSION_DEPTH, allowed.as_deref());
        let fused = fuse(
            &bm25,
            &vector,
            |p| meaning.query_score(&query_vector, script, p),
            how.fusion,
        );
        // A paper with no evidence (no query word, and a cosine the fusion gives no weight) is
        // not a result, however many were asked for.
        let mut evidenced: Vec<Fused> = fused.into_iter().filter(|f| f.why.fused > 0.0).collect();
        if how.feedback {
            let stage = FirstStage {
                vector: &query_vector,
                script,
                allowed: allowed.as_deref(),
            };
            evidenced = with_feedback(meaning, evidenced, stage, self.feedback_params);
        }
        let meaning_only = evidenced
            .iter()
            .filter(|f| f.why.bm25_rank.is_none())
            .count();
        let total = bm25_total + meaning_only;
        let ranked = evidenced
            .into_iter()
            .take(limit)
            .map(Ranked::from)
            .collect();
        Ok((ranked, total))
    }

    /// The vector the meaning side searches with for `query` (its positive words, without
    /// query stop words), for callers that search the same vectors elsewhere (an export).
    pub fn query_vector(&self, query: &SearchQuery) -> Result<Vec<f32>> {
        let (embedder, _) = self.need_meaning()?;
        Ok(query_vector(embedder, query))
    }
}
