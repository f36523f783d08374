//! Papers and topics as stored: one paper by any id form a person pastes, every paper, the
//! topic model at a level, one topic's papers, and ranked numbers turned into result records.

use serde::Serialize;

use super::Engine;
use super::request::{Page, Sort};
use super::response::{Ranked, SearchResult};
use crate::error::{Error, Result};
use crate::fulltext::Snippet;
use crate::paper::Paper;
use crate::topics::{self, Topic, TopicModel};

/// Which topics to show: the fitted ones or broader merged ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TopicLevel {
    /// The fitted topics.
    #[default]
    Fine,
    /// About a third as many, merged from the fitted ones.
    Coarse,
}

impl std::str::FromStr for TopicLevel {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "fine" => Ok(TopicLevel::Fine),
            "coarse" => Ok(TopicLevel::Coarse),
            _ => Err(Error::invalid(
                "level",
                format!("unknown value {value:?} (fine, coarse)"),
            )),
        }
    }
}

impl Engine {
    /// One paper by arXiv id, as a researcher pastes it: `2403.05266`, `2403.05266v1`,
    /// `arXiv:2403.05266`, an arxiv.org abs or pdf URL ([`crate::paper::parse_arxiv_id`]). A
    /// version the index does not hold is an error (not another version's record).
    pub fn paper(&self, arxiv_id: &str) -> Result<Paper> {
        let unknown = || Error::UnknownId {
            id: arxiv_id.trim().to_string(),
        };
        // Text that is no arXiv id is looked up as given: the index's ids come from digests,
        // and an unknown id is reported the same way whatever it looks like.
        let (id, asked) = crate::paper::parse_arxiv_id(arxiv_id).unwrap_or_else(|| {
            (
                arxiv_id.trim().to_string(),
                crate::paper::version_of(arxiv_id),
            )
        });
        let paper = self.store.text.paper_by_id(&id)?.ok_or_else(unknown)?;
        match (asked, paper.version) {
            (Some(asked), Some(held)) if asked != held => Err(Error::UnknownVersion {
                id: paper.arxiv_id,
                asked,
                held,
            }),
            _ => Ok(paper),
        }
    }

    /// Every paper, in paper-number order.
    pub fn papers(&self) -> Result<Vec<Paper>> {
        self.store.papers()
    }

    /// The index's topic model at `level`: the fitted topics, or (coarse) about a third as many
    /// broader ones merged from them.
    pub fn topics(&self, level: TopicLevel) -> Result<TopicModel> {
        let model = match self.fitted.get() {
            Some(model) => model.clone(),
            None => {
                let model = self.store.topics()?.ok_or_else(|| Error::IndexCorrupt {
                    path: self.store.dir().to_path_buf(),
                    reason: "it has no topic model (written by an older paperscope); fit one with `paperscope topics --refit`".into(),
                })?;
                self.fitted.get_or_init(|| model).clone()
            }
        };
        match level {
            TopicLevel::Fine => Ok(model),
            TopicLevel::Coarse => match self.store.coarse_topics()? {
                Some(coarse) => Ok(coarse),
                // An index written without the coarse level merges it here, on every read.
                None => {
                    self.store
                        .require_all_vectors("merging the coarse topics")?;
                    let (_, vectors) = self.need_meaning()?;
                    let papers = self.papers()?;
                    let by_paper = vectors.by_paper(papers.len());
                    Ok(topics::coarse(&model, &papers, &by_paper))
                }
            },
        }
    }

    /// One topic of `model` and its first `limit` papers, closest to its centre first; an
    /// unknown id is an error naming it.
    pub fn topic<'m>(
        &self,
        model: &'m TopicModel,
        id: usize,
        limit: usize,
    ) -> Result<(&'m Topic, Vec<Paper>)> {
        let topic = model.topics.iter().find(|t| t.id == id).ok_or_else(|| {
            Error::invalid(
                "topic",
                format!("no topic {id}: `paperscope topics` lists them"),
            )
        })?;
        let mut members: Vec<&topics::Assignment> = model
            .assignments
            .iter()
            .filter(|a| a.nearest == id)
            .collect();
        members.sort_by(|a, b| {
            b.closeness
                .total_cmp(&a.closeness)
                .then(a.arxiv_id.cmp(&b.arxiv_id))
        });
        let papers = members
            .iter()
            .take(limit)
            .map(|a| self.paper(&a.arxiv_id))
            .collect::<Result<_>>()?;
        Ok((topic, papers))
    }

    /// The page of `ranked` (best first, at least `page.depth()` long when there are that many)
    /// as full result records, ordered by `page.sort`, ranked from the start of the list.
    pub(super) fn page_of(
        &self,
        mut ranked: Vec<Ranked>,
        page: Page,
        snippet: impl Fn(&Paper) -> Snippet,
    ) -> Result<Vec<SearchResult>> {
        if page.sort == Sort::Date {
            let mut dated = Vec::with_capacity(ranked.len());
            for r in ranked {
                let month = self.store.text.paper_by_number(r.number)?.year_month();
                dated.push((month, r));
            }
            // Newest first; ids without a month (old style) last; a stable sort keeps ties in
            // relevance order, which is "ties by score".
            dated.sort_by_key(|d| std::cmp::Reverse(d.0));
            ranked = dated.into_iter().map(|(_, r)| r).collect();
        }
        let on_page: Vec<Ranked> = ranked
            .into_iter()
            .skip(page.offset)
            .take(page.limit)
            .collect();
        let mut results = self.results(&on_page, snippet)?;
        for r in &mut results {
            r.rank += page.offset;
        }
        Ok(results)
    }

    /// Full result records for ranked papers.
    pub fn results(
        &self,
        ranked: &[Ranked],
        snippet: impl Fn(&Paper) -> Snippet,
    ) -> Result<Vec<SearchResult>> {
        let mut results = Vec::with_capacity(ranked.len());
        for (i, r) in ranked.iter().enumerate() {
            let paper = self.store.text.paper_by_number(r.number)?;
            let Snippet { text, highlights } = snippet(&paper);
            results.push(SearchResult {
                rank: i + 1,
                category: paper.categories().into_iter().next(),
                month: paper.year_month().map(|(y, m)| format!("{y}-{m:02}")),
                url: crate::paper::abs_url(&paper.arxiv_id),
                arxiv_id: paper.arxiv_id,
                version: paper.version,
                title_en: paper.title_en,
                title_zh: paper.title_zh,
                summary_zh: paper.summary_zh,
                score: r.score,
                why: r.why,
                related: r.related.clone(),
                snippet: text,
                highlights,
                number: r.number,
            });
        }
        Ok(results)
    }
}
