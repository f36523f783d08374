//! Answering a [`RelatedRequest`]: papers like some papers (a reading list) or like a text.

use std::time::Instant;

use super::request::{Mode, RelatedRequest, RelatedTo};
use super::response::{Ranked, RelatedWhy, SearchResponse, Seed};
use super::tuning::RelatedParams;
use super::{Engine, FUSION_DEPTH};
use crate::embed::{dot, mean_direction};
use crate::error::Result;
use crate::hybrid::{Fusion, Why, fuse, moments};
use crate::paper::{Paper, PaperNumber};
use crate::query::SearchQuery;
use crate::topics::WordVectors;
use crate::vectors::views::Script;

/// The text a paper's more-like-this query is built from: English title twice, Chinese title,
/// summary and the English abstract. Leaving out the Chinese abstract (a translation of the
/// English one) raised related precision@10 from 0.34 to 0.38 (examples/sweep_related.rs).
fn related_texts(p: &Paper) -> [String; 5] {
    [
        p.title_en.clone(),
        p.title_en.clone(),
        p.title_zh.clone(),
        p.summary_zh.clone(),
        p.abstract_en.clone(),
    ]
}

/// What a related search compares papers with.
struct Target {
    /// The texts of the more-like-this query.
    texts: Vec<String>,
    /// The direction the meaning side searches.
    vector: Vec<f32>,
    /// Papers never to return (the seeds).
    exclude: Vec<PaperNumber>,
    /// What the answer is related to, for its header.
    description: String,
    /// The seed papers, in the order given.
    seeds: Vec<Seed>,
}

/// What one query of a related search compares papers with: a seed, a reading list as a
/// whole, or a text.
struct Probe {
    /// Its word vector (normalised TF-IDF row).
    words: Vec<(u32, f32)>,
    /// Its e5 vector.
    vector: Vec<f32>,
    /// For a text: its script, whose paper views it is compared with (as a search is).
    script: Option<Script>,
}

/// The name a related answer gives its scoring.
pub const RELATED_SCORING: &str = "z-score words + meaning";

impl Engine {
    /// Papers like the given ones (or like a text), the given papers never among them. By
    /// default each candidate (the papers nearest by words and by meaning) is scored by the
    /// z-score of its TF-IDF word cosine plus the z-score of its e5 cosine over the candidates
    /// ([`RelatedParams`]), and carries why ([`super::RelatedWhy`]). A request that chooses a
    /// fusion gets the older ranking: a BM25 more-like-this query fused with the vectors.
    pub fn related(&self, request: &RelatedRequest) -> Result<SearchResponse> {
        let started = Instant::now();
        request.check()?;
        let (filters, page) = (request.filters_asked(), request.page_asked());
        let limit = self.clamp(page.depth());
        self.check_categories(filters)?;
        let target = self.target(request.target())?;
        let mut allowed = self
            .store
            .text
            .allowed(&SearchQuery::default(), filters)?
            .unwrap_or_else(|| vec![true; self.store.manifest.paper_count]);
        for &n in &target.exclude {
            if let Some(slot) = allowed.get_mut(n.index()) {
                *slot = false;
            }
        }
        let (ranked, fusion) = match request.fusion_asked() {
            Some(fusion) => (
                self.related_by_terms(&target, filters, &allowed, limit, fusion)?,
                fusion.name(),
            ),
            None => (
                self.related_fused(request.target(), &target, &allowed, limit)?,
                RELATED_SCORING.to_string(),
            ),
        };
        let snippet_query = SearchQuery {
            text: target.texts.first().cloned().unwrap_or_default(),
            ..SearchQuery::default()
        };
        let snippets = self.store.text.snippets(&snippet_query);
        let results = self.page_of(ranked, page, |paper| snippets.for_paper(paper))?;
        Ok(SearchResponse {
            query: target.description,
            offset: page.offset,
            sort: page.sort,
            seeds: target.seeds,
            mode: Mode::Hybrid,
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
            total: allowed.iter().filter(|&&a| a).count(),
            results,
            warnings: Vec::new(),
            corrected_from: None,
            did_you_mean: None,
            fusion: Some(fusion),
        })
    }

    /// Sets how `related` scores (for measurements); the word vectors are rebuilt on next use.
    pub fn set_related_params(&mut self, params: RelatedParams) {
        if params.words != self.related_params.words {
            self.word_vectors = std::sync::OnceLock::new();
        }
        self.related_params = params;
    }

    /// The papers' word vectors: those the write stored in the generation, read on first use
    /// (~40 ms for data/), or built from the stored papers when the generation has none (an
    /// index written by an older paperscope) or an experiment asks for other parameters.
    pub fn word_vectors(&self) -> Result<&WordVectors> {
        if let Some(loaded) = self.word_vectors.get() {
            return Ok(loaded);
        }
        let wanted = self.related_params.words;
        let words = match self.store.word_vectors()? {
            Some(stored) if stored.params() == wanted => stored,
            _ => WordVectors::build(&self.papers()?, wanted),
        };
        // Callers that raced here built the same vectors; the first one stored is kept.
        Ok(self.word_vectors.get_or_init(|| words))
    }

    /// The fused ranking: candidates by words and by meaning, each scored by both, z-scored per
    /// probe, the probes' fused scores averaged.
    fn related_fused(
        &self,
        to: &RelatedTo,
        target: &Target,
        allowed: &[bool],
        limit: usize,
    ) -> Result<Vec<Ranked>> {
        let meaning = self.need_loaded_meaning()?;
        let words = self.word_vectors()?;
        let params = self.related_params;
        let depth = limit.max(params.depth);
        let list = words.centroid(&target.exclude);
        let probes: Vec<Probe> = match to {
            RelatedTo::Text(text) => vec![Probe {
                words: words.text_row(text),
                vector: target.vector.clone(),
                script: Some(Script::of(text)),
            }],
            RelatedTo::Ids(_) if params.whole_list || target.exclude.len() < 2 => vec![Probe {
                words: list.clone(),
                vector: target.vector.clone(),
                script: None,
            }],
            RelatedTo::Ids(_) => target
                .exclude
                .iter()
                .filter_map(|&n| {
                    Some(Probe {
                        words: words.row(n).to_vec(),
                        vector: meaning.vectors.vector_of(n)?.to_vec(),
                        script: None,
                    })
                })
                .collect(),
        };
        let shared_with = match to {
            RelatedTo::Text(_) => probes.first().map(|p| p.words.clone()).unwrap_or_default(),
            RelatedTo::Ids(_) => list,
        };
        let ok = |p: usize| allowed.get(p).copied().unwrap_or(false);
        let mut candidates: Vec<PaperNumber> = Vec::new();
        let mut word_scores = Vec::with_capacity(probes.len());
        let mut meaning_rank: rustc_hash::FxHashMap<PaperNumber, usize> = Default::default();
        for probe in &probes {
            let cosines = words.cosines(&probe.words);
            let mut top: Vec<(usize, f32)> = cosines
                .iter()
                .enumerate()
                .filter(|&(p, &c)| c > 0.0 && ok(p))
                .map(|(p, &c)| (p, c))
                .collect();
            if top.len() > depth {
                top.select_nth_unstable_by(depth - 1, |a, b| {
                    b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
                });
                top.truncate(depth);
            }
            candidates.extend(top.iter().map(|&(p, _)| PaperNumber::from_index(p)));
            let near = match probe.script {
                Some(script) => {
                    meaning.nearest_to_query(&probe.vector, script, depth, Some(allowed))
                }
                None => meaning.vectors.search(&probe.vector, depth, Some(allowed)),
            };
            for (rank, &(p, _)) in near.iter().enumerate() {
                meaning_rank.entry(p).or_insert(rank + 1);
            }
            candidates.extend(near.iter().map(|&(p, _)| p));
            word_scores.push(cosines);
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut fused = vec![0.0f32; candidates.len()];
        let mut word_of = vec![0.0f32; candidates.len()];
        let mut meaning_of = vec![0.0f32; candidates.len()];
        let share = 1.0 / probes.len().max(1) as f32;
        for (probe, cosines) in probes.iter().zip(&word_scores) {
            let w: Vec<f32> = candidates
                .iter()
                .map(|p| cosines.get(p.index()).copied().unwrap_or(0.0))
                .collect();
            let m: Vec<f32> = candidates
                .iter()
                .map(|&p| {
                    match probe.script {
                        Some(script) => meaning.query_score(&probe.vector, script, p),
                        None => meaning.vectors.vector_of(p).map(|v| dot(&probe.vector, v)),
                    }
                    .unwrap_or(0.0)
                })
                .collect();
            let ((wm, ws), (mm, ms)) = (moments(&w), moments(&m));
            for i in 0..candidates.len() {
                fused[i] += share * ((w[i] - wm) / ws + params.meaning * (m[i] - mm) / ms);
                word_of[i] += share * w[i];
                meaning_of[i] += share * m[i];
            }
        }
        let mut order: Vec<usize> = (0..candidates.len()).collect();
        order.sort_by(|&a, &b| {
            fused[b]
                .total_cmp(&fused[a])
                .then(candidates[a].cmp(&candidates[b]))
        });
        Ok(order
            .into_iter()
            .take(limit)
            .map(|i| {
                let number = candidates[i];
                let shared = words.shared(&shared_with, number, 4);
                Ranked {
                    number,
                    score: fused[i],
                    why: Why {
                        bm25_rank: None,
                        bm25_score: None,
                        vector_rank: meaning_rank.get(&number).copied(),
                        cosine: Some(meaning_of[i]),
                        fused: fused[i],
                        ..Why::default()
                    },
                    related: Some(RelatedWhy {
                        terms_en: shared.en,
                        terms_zh: shared.zh,
                        words: word_of[i],
                        meaning: meaning_of[i],
                    }),
                }
            })
            .collect())
    }

    /// The older ranking: a BM25 more-like-this query of the seeds' distinctive terms fused
    /// with the vectors' nearest by `fusion` (kept for `--alpha` / `--rrf` and comparisons).
    fn related_by_terms(
        &self,
        target: &Target,
        filters: &crate::query::Filters,
        allowed: &[bool],
        limit: usize,
        fusion: Fusion,
    ) -> Result<Vec<Ranked>> {
        let (_, vectors) = self.need_meaning()?;
        let depth = limit.max(FUSION_DEPTH);
        let bm25: Vec<(PaperNumber, f32)> = self
            .store
            .text
            .more_like_this(&target.texts, filters, &target.exclude, depth)?
            .iter()
            .map(|h| (h.number, h.score))
            .collect();
        let vector = vectors.search(&target.vector, depth, Some(allowed));
        let fused = fuse(
            &bm25,
            &vector,
            |p| vectors.vector_of(p).map(|v| dot(&target.vector, v)),
            fusion,
        );
        Ok(fused
            .into_iter()
            .filter(|f| !target.exclude.contains(&f.number))
            .take(limit)
            .map(Ranked::from)
            .collect())
    }

    /// The papers (or the text) a related search compares with; an unknown id is an error.
    fn target(&self, to: &RelatedTo) -> Result<Target> {
        let (embedder, vectors) = self.need_meaning()?;
        match to {
            RelatedTo::Ids(ids) => {
                let papers = ids
                    .iter()
                    .map(|id| self.paper(id))
                    .collect::<Result<Vec<_>>>()?;
                let exclude: Vec<PaperNumber> = papers
                    .iter()
                    .map(|p| self.store.text.number_by_id(&p.arxiv_id))
                    .collect::<Result<_>>()?;
                let own: Vec<&[f32]> = exclude
                    .iter()
                    .filter_map(|&n| vectors.vector_of(n))
                    .collect();
                // Named by the ids found, not as pasted: a URL is noise in a header.
                let found: Vec<&str> = papers.iter().map(|p| p.arxiv_id.as_str()).collect();
                Ok(Target {
                    texts: papers.iter().flat_map(related_texts).collect(),
                    vector: mean_direction(&own),
                    description: format!("related to {}", found.join(", ")),
                    seeds: papers
                        .iter()
                        .map(|p| Seed {
                            arxiv_id: p.arxiv_id.clone(),
                            title_en: p.title_en.clone(),
                        })
                        .collect(),
                    exclude,
                })
            }
            RelatedTo::Text(text) => Ok(Target {
                texts: vec![text.clone()],
                vector: embedder.embed_query(text),
                exclude: Vec::new(),
                description: format!("related to text: {}", crate::text::truncate_chars(text, 60)),
                seeds: Vec::new(),
            }),
        }
    }
}
