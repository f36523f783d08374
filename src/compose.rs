//! Composing a new digest from an index: choosing the papers (a query, a list of ids, filters),
//! grouping them by topic, and finding each one's related papers. The result is written in any
//! digest format (`digest::write`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rayon::prelude::*;

use crate::digest::{self, Format, Section};
use crate::error::{Error, Result};
use crate::paper::{Paper, strip_version};
use crate::progress::{Progress, stage};
use crate::query::Filters;
use crate::search::{Engine, RelatedRequest, SearchRequest};
use crate::topics::TopicModel;

/// Papers a digest keeps from its query unless asked otherwise.
pub const DEFAULT_DIGEST_LIMIT: usize = 200;

/// Related papers listed after each digest entry unless asked otherwise.
pub const DEFAULT_DIGEST_RELATED: usize = 3;

/// Which papers a digest holds and how it is laid out.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Only papers matching this search (hybrid), best first, at most `limit` of them.
    pub query: Option<String>,
    /// Only these papers (arXiv ids), in this order unless a query orders them.
    pub ids: Option<Vec<String>>,
    /// Category and date filters.
    pub filters: Filters,
    /// Papers kept from `query`.
    pub limit: usize,
    /// One section per topic instead of one table.
    pub by_topic: bool,
    /// Related papers listed after each entry (0 for none).
    pub related: usize,
}

impl Default for Selection {
    /// Every paper, one table, [`DEFAULT_DIGEST_RELATED`] related papers an entry.
    fn default() -> Self {
        Selection {
            query: None,
            ids: None,
            filters: Filters::default(),
            limit: DEFAULT_DIGEST_LIMIT,
            by_topic: false,
            related: DEFAULT_DIGEST_RELATED,
        }
    }
}

impl Selection {
    /// Checks every value (a front end may check before it opens an index; [`compose`] checks
    /// again): the first bad one is an error naming it.
    pub fn check(&self) -> Result<()> {
        if self.limit == 0 {
            return Err(Error::invalid("limit", "must be at least 1"));
        }
        Ok(())
    }

    /// What the selection asks for, in words, for a page's title: the query, the categories,
    /// the months asked for, and whether ids were listed (`retrieval augmented generation ·
    /// cs.IR · 2024-03 to 2024-04`); `all papers` when nothing narrows it.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(query) = self
            .query
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
        {
            parts.push(query.to_string());
        }
        if let Some(ids) = &self.ids {
            parts.push(format!("{} listed ids", ids.len()));
        }
        if !self.filters.categories.is_empty() {
            parts.push(self.filters.categories.join(", "));
        }
        let month = |m: u32| format!("{:04}-{:02}", m / 100, m % 100);
        match (self.filters.since, self.filters.until) {
            (Some(s), Some(u)) if s == u => parts.push(month(s)),
            (Some(s), Some(u)) => parts.push(format!("{} to {}", month(s), month(u))),
            (Some(s), None) => parts.push(format!("since {}", month(s))),
            (None, Some(u)) => parts.push(format!("until {}", month(u))),
            (None, None) => {}
        }
        if parts.is_empty() {
            "all papers".into()
        } else {
            parts.join(" · ")
        }
    }
}

/// A composed digest, ready to be written in any format.
pub struct Composed {
    papers: Vec<Paper>,
    sections: Vec<(Option<String>, Vec<usize>)>,
    related: HashMap<String, Vec<(String, String)>>,
    /// `Selection::describe` of the selection this digest was composed from.
    described: String,
    /// The selection named months (`since`, `until`), so the description says them.
    dated: bool,
    /// Ids of the selection that are not in the index.
    pub unknown_ids: Vec<String>,
}

impl Composed {
    /// Papers in the digest.
    pub fn paper_count(&self) -> usize {
        self.sections.iter().map(|(_, members)| members.len()).sum()
    }

    /// Sections (topics, or one table).
    pub fn section_count(&self) -> usize {
        self.sections.len()
    }

    /// `Digest: retrieval augmented generation · 2024-03 to 2024-04 · 123 papers`: what was
    /// asked for, the months the papers are from (when the selection names none), and how many
    /// papers the digest holds. The HTML page's title and heading, and the JSON's `title`.
    pub fn title(&self) -> String {
        let count = self.paper_count();
        let noun = if count == 1 { "paper" } else { "papers" };
        let mut parts = vec![format!("Digest: {}", self.described)];
        // Months asked for are already in the description; otherwise say which months the
        // papers turned out to span.
        if !self.dated
            && let Some(span) = self.month_span()
        {
            parts.push(span);
        }
        parts.push(format!("{count} {noun}"));
        parts.join(" · ")
    }

    /// `2024-03 to 2024-04` (or one month): the months of the digest's papers, from their ids.
    fn month_span(&self) -> Option<String> {
        let months = self
            .sections
            .iter()
            .flat_map(|(_, members)| members.iter())
            .filter_map(|&i| self.papers[i].year_month());
        let (first, last) = months.fold(None, |range: Option<((u32, u32), (u32, u32))>, m| {
            Some(match range {
                None => (m, m),
                Some((a, b)) => (a.min(m), b.max(m)),
            })
        })?;
        let month = |(y, m): (u32, u32)| format!("{y:04}-{m:02}");
        Some(if first == last {
            month(first)
        } else {
            format!("{} to {}", month(first), month(last))
        })
    }

    /// The digest in `format`.
    pub fn write(&self, format: Format) -> Result<String> {
        let sections: Vec<Section> = self
            .sections
            .iter()
            .map(|(title, members)| Section {
                title: title.clone(),
                papers: members.iter().map(|&i| &self.papers[i]).collect(),
            })
            .collect();
        let related_of = |p: &Paper| self.related.get(&p.arxiv_id).cloned().unwrap_or_default();
        digest::write(&sections, &related_of, format, &self.title())
    }
}

/// Chooses the papers of `selection` from the engine's index and lays them out.
pub fn compose(
    engine: &Engine,
    selection: &Selection,
    progress: &dyn Progress,
) -> Result<Composed> {
    selection.check()?;
    let papers = engine.papers()?;
    let mut chosen: Vec<usize> = match &selection.query {
        Some(q) => {
            let request = SearchRequest::new(q.as_str())
                .filters(selection.filters.clone())
                .limit(selection.limit);
            let ranking = engine.rank(&request)?;
            ranking.ranked.iter().map(|r| r.number.index()).collect()
        }
        None => (0..papers.len())
            .filter(|&i| selection.filters.matches(&papers[i]))
            .collect(),
    };
    let mut unknown_ids = Vec::new();
    if let Some(wanted) = &selection.ids {
        let by_id: HashMap<&str, usize> = papers
            .iter()
            .enumerate()
            .map(|(i, p)| (p.arxiv_id.as_str(), i))
            .collect();
        unknown_ids = wanted
            .iter()
            .filter(|id| !by_id.contains_key(id.as_str()))
            .cloned()
            .collect();
        chosen = keep_listed(chosen, wanted, &by_id, selection.query.is_some());
    }
    if chosen.is_empty() {
        return Err(Error::invalid(
            "selection",
            "no papers match the selection: nothing to write",
        ));
    }
    let selected: Vec<&Paper> = chosen.iter().map(|&i| &papers[i]).collect();
    let sections = if selection.by_topic {
        let model = engine.store().topics()?.ok_or_else(|| no_topics(engine))?;
        let position: HashMap<&str, usize> = chosen
            .iter()
            .map(|&i| (papers[i].arxiv_id.as_str(), i))
            .collect();
        group_by_topic(&selected, &model)
            .into_iter()
            .map(|s| {
                let members = s
                    .papers
                    .iter()
                    .map(|p| position[p.arxiv_id.as_str()])
                    .collect();
                (s.title, members)
            })
            .collect()
    } else {
        vec![(None, chosen)]
    };
    let related = related_lists(engine, &selected, selection.related, progress)?;
    Ok(Composed {
        papers,
        sections,
        related,
        described: selection.describe(),
        dated: selection.filters.since.is_some() || selection.filters.until.is_some(),
        unknown_ids,
    })
}

/// The listed papers: in the list's order, or in `chosen`'s (a query's ranking) when
/// `keep_chosen_order`; either way only those in both.
fn keep_listed(
    chosen: Vec<usize>,
    wanted: &[String],
    by_id: &HashMap<&str, usize>,
    keep_chosen_order: bool,
) -> Vec<usize> {
    let allowed: std::collections::HashSet<usize> = chosen.iter().copied().collect();
    if keep_chosen_order {
        let listed: std::collections::HashSet<usize> = wanted
            .iter()
            .filter_map(|id| by_id.get(id.as_str()).copied())
            .collect();
        return chosen.into_iter().filter(|i| listed.contains(i)).collect();
    }
    let mut seen = std::collections::HashSet::new();
    wanted
        .iter()
        .filter_map(|id| by_id.get(id.as_str()).copied())
        .filter(|i| allowed.contains(i) && seen.insert(*i))
        .collect()
}

fn no_topics(engine: &Engine) -> Error {
    Error::IndexCorrupt {
        path: engine.store().dir().to_path_buf(),
        reason: "it has no topic model (written by an older paperscope); fit one with `paperscope topics --refit`".into(),
    }
}

/// Up to `n` related papers `(id, English title)` for each selected paper, in parallel.
fn related_lists(
    engine: &Engine,
    selected: &[&Paper],
    n: usize,
    progress: &dyn Progress,
) -> Result<HashMap<String, Vec<(String, String)>>> {
    if n == 0 {
        return Ok(HashMap::new());
    }
    stage(progress, "related", selected.len(), || {
        selected
            .par_iter()
            .map(|p| {
                let request = RelatedRequest::ids([&p.arxiv_id])
                    .limit(n)
                    .fusion(engine.fusion());
                let response = engine.related(&request);
                progress.inc();
                let list = response?
                    .results
                    .into_iter()
                    .map(|r| (r.arxiv_id, r.title_en))
                    .collect();
                Ok((p.arxiv_id.clone(), list))
            })
            .collect()
    })
}

/// Reads a list of arXiv ids: one per line, `#` comments and blank lines ignored, versions
/// dropped.
pub fn read_id_file(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(|l| strip_version(l).to_string())
        .collect())
}

/// The papers grouped by topic: topics by how many of the papers they hold, papers inside a
/// topic by closeness to its centre. A section's title is the topic's label.
pub(crate) fn group_by_topic<'a>(papers: &[&'a Paper], model: &TopicModel) -> Vec<Section<'a>> {
    let placement: HashMap<&str, (usize, f32)> = model
        .assignments
        .iter()
        .map(|a| (a.arxiv_id.as_str(), (a.nearest, a.closeness)))
        .collect();
    let mut groups: BTreeMap<usize, Vec<(&'a Paper, f32)>> = BTreeMap::new();
    let mut unplaced = Vec::new();
    for &p in papers {
        match placement.get(p.arxiv_id.as_str()) {
            Some(&(topic, closeness)) => groups.entry(topic).or_default().push((p, closeness)),
            None => unplaced.push(p),
        }
    }
    let mut ordered: Vec<(usize, Vec<(&Paper, f32)>)> = groups.into_iter().collect();
    ordered.sort_by_key(|(id, members)| (std::cmp::Reverse(members.len()), *id));
    let mut sections: Vec<Section> = ordered
        .into_iter()
        .map(|(id, mut members)| {
            members.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.arxiv_id.cmp(&b.0.arxiv_id)));
            Section {
                title: Some(topic_title(model, id)),
                papers: members.into_iter().map(|(p, _)| p).collect(),
            }
        })
        .collect();
    if !unplaced.is_empty() {
        sections.push(Section {
            title: Some("other · 其他".into()),
            papers: unplaced,
        });
    }
    sections
}

/// `hallucination · benchmark · factuality / 幻觉 · 基准 · 事实`
pub(crate) fn topic_title(model: &TopicModel, id: usize) -> String {
    let topic = model.topics.iter().find(|t| t.id == id);
    let words = |list: Option<&Vec<String>>| {
        list.map(|l| l.iter().take(3).cloned().collect::<Vec<_>>().join(" · "))
            .unwrap_or_default()
    };
    format!(
        "{} / {}",
        words(topic.map(|t| &t.label_en)),
        words(topic.map(|t| &t.label_zh))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selection_says_what_it_asks_for() {
        let mut selection = Selection {
            query: Some("retrieval augmented generation".into()),
            ..Selection::default()
        };
        selection.filters.categories = vec!["cs.ir".into()];
        selection.filters.since = Some(202403);
        selection.filters.until = Some(202404);
        assert_eq!(
            selection.describe(),
            "retrieval augmented generation · cs.ir · 2024-03 to 2024-04"
        );
        assert_eq!(Selection::default().describe(), "all papers");
    }

    #[test]
    fn a_listed_selection_keeps_the_lists_order() {
        let ids: Vec<String> = ["c", "a", "b", "a"].iter().map(|s| s.to_string()).collect();
        let by_id: HashMap<&str, usize> = [("a", 0), ("b", 1), ("c", 2)].into_iter().collect();
        assert_eq!(
            keep_listed(vec![0, 1, 2], &ids, &by_id, false),
            vec![2, 0, 1]
        );
        assert_eq!(keep_listed(vec![1, 2], &ids, &by_id, false), vec![2, 1]);
        assert_eq!(
            keep_listed(vec![1, 0, 2], &ids, &by_id, true),
            vec![1, 0, 2]
        );
    }
}
