//! Counts of the collection by category and by month.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::paper::Paper;

/// Counts of a collection.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Stats {
    /// Papers in all.
    pub papers: usize,
    /// Primary category where the digest names it, else the listing it was announced in.
    pub by_category: BTreeMap<String, usize>,
    /// `YYYY-MM` of first submission (from the arXiv id).
    pub by_month: BTreeMap<String, usize>,
    /// Papers with a Chinese abstract.
    pub with_chinese_abstract: usize,
    /// Papers with an English abstract.
    pub with_english_abstract: usize,
}

/// Counts `papers` by category and by month.
pub fn compute(papers: &[Paper]) -> Stats {
    let mut stats = Stats {
        papers: papers.len(),
        by_category: BTreeMap::new(),
        by_month: BTreeMap::new(),
        with_chinese_abstract: 0,
        with_english_abstract: 0,
    };
    for paper in papers {
        let category = paper
            .categories()
            .into_iter()
            .next()
            .unwrap_or_else(|| "unknown".into());
        *stats.by_category.entry(category).or_default() += 1;
        let month = paper
            .year_month()
            .map_or_else(|| "unknown".into(), |(y, m)| format!("{y}-{m:02}"));
        *stats.by_month.entry(month).or_default() += 1;
        stats.with_chinese_abstract += usize::from(!paper.abstract_zh.is_empty());
        stats.with_english_abstract += usize::from(!paper.abstract_en.is_empty());
    }
    stats
}
