//! `related` scored against judgements: a seed paper's top 10 related papers against the papers
//! judged relevant to the same need.
//!
//! Two sources of judgements, both in the judged query format of [`super::load_queries`]:
//! - a judged *query* file: every highly relevant paper of a query is a seed, and the query's
//!   other relevant papers are what a reader of that seed should be shown;
//! - a judged *related* file, whose second field is the seed's arXiv id instead of a query.
//!
//! Precision@10 divides by 10 even when fewer papers are relevant, so figures compare across
//! methods, not across needs.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::retrieval::JudgedQuery;
use crate::error::Result;
use crate::hybrid::Fusion;
use crate::paper::{parse_arxiv_id, strip_version};
use crate::search::{Engine, RelatedRequest};

const DEPTH: usize = 10;

/// One seed and the papers judged worth showing beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct RelatedCase {
    /// Where the judgement comes from (`en-01` for a query's, the line's qid otherwise).
    pub qid: String,
    /// The prefix of `qid` before `-`, for per-group figures.
    pub group: String,
    /// The seeds' arXiv ids: one paper, or a reading list.
    pub seeds: Vec<String>,
    /// Papers relevant to the same need, the seed excluded.
    pub relevant: HashMap<String, u32>,
}

/// Seeds taken from a judged query file: each highly relevant paper of a query.
pub fn cases_from_queries(queries: &[JudgedQuery]) -> Vec<RelatedCase> {
    let mut cases = Vec::new();
    for q in queries {
        let mut seeds: Vec<&String> = q
            .relevant
            .iter()
            .filter(|&(_, &grade)| grade >= 2)
            .map(|(id, _)| id)
            .collect();
        seeds.sort();
        for seed in seeds {
            let mut relevant = q.relevant.clone();
            relevant.remove(seed);
            cases.push(RelatedCase {
                qid: q.qid.clone(),
                group: q.group.clone(),
                seeds: vec![seed.clone()],
                relevant,
            });
        }
    }
    cases
}

/// Reading lists taken from a judged query file: the first `size` highly relevant papers of
/// each query that has more than `size` of them (by id, so the list never depends on the
/// file's order); the query's other relevant papers are what the list's reader should see.
pub fn list_cases_from_queries(queries: &[JudgedQuery], size: usize) -> Vec<RelatedCase> {
    let mut cases = Vec::new();
    for q in queries {
        let mut high: Vec<&String> = q
            .relevant
            .iter()
            .filter(|&(_, &grade)| grade >= 2)
            .map(|(id, _)| id)
            .collect();
        if high.len() <= size {
            continue;
        }
        high.sort();
        let seeds: Vec<String> = high.into_iter().take(size).cloned().collect();
        let mut relevant = q.relevant.clone();
        for seed in &seeds {
            relevant.remove(seed);
        }
        cases.push(RelatedCase {
            qid: q.qid.clone(),
            group: q.group.clone(),
            seeds,
            relevant,
        });
    }
    cases
}

/// Seeds from a judged related file: the second field is the seed's arXiv id.
pub fn cases_from_sets(sets: &[JudgedQuery]) -> Vec<RelatedCase> {
    sets.iter()
        .map(|s| {
            let seed = parse_arxiv_id(&s.query)
                .map_or_else(|| strip_version(s.query.trim()).to_string(), |(id, _)| id);
            let mut relevant = s.relevant.clone();
            relevant.remove(&seed);
            RelatedCase {
                qid: s.qid.clone(),
                group: s.group.clone(),
                seeds: vec![seed],
                relevant,
            }
        })
        .collect()
}

/// Mean precision@10 of `related` over judged cases, overall and per group.
#[derive(Debug, Clone, Serialize)]
pub struct RelatedReport {
    /// Seeds scored.
    pub seeds: usize,
    /// Mean share of the top 10 that is judged relevant.
    pub precision10: f64,
    /// The same per group of qids.
    pub by_group: BTreeMap<String, f64>,
}

/// Scores the engine's `related` (fused by `fusion`, or the default) on every case. A seed the
/// index does not hold is an error: a judgement that names a paper the collection lacks is a
/// broken judgement.
pub fn evaluate_related(
    engine: &Engine,
    cases: &[RelatedCase],
    fusion: Option<Fusion>,
) -> Result<RelatedReport> {
    let mut groups: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut all = Vec::with_capacity(cases.len());
    for case in cases {
        let request = RelatedRequest::ids(case.seeds.iter())
            .limit(DEPTH)
            .fusion_if(fusion);
        let response = engine.related(&request)?;
        let hits = response
            .results
            .iter()
            .take(DEPTH)
            .filter(|r| case.relevant.contains_key(strip_version(&r.arxiv_id)))
            .count();
        let precision = hits as f64 / DEPTH as f64;
        groups
            .entry(case.group.clone())
            .or_default()
            .push(precision);
        all.push(precision);
    }
    let mean = |v: &[f64]| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    Ok(RelatedReport {
        seeds: all.len(),
        precision10: mean(&all),
        by_group: groups.iter().map(|(g, v)| (g.clone(), mean(v))).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(qid: &str, relevant: &[(&str, u32)]) -> JudgedQuery {
        JudgedQuery {
            qid: qid.into(),
            group: qid.split('-').next().unwrap_or(qid).into(),
            query: "q".into(),
            relevant: relevant
                .iter()
                .map(|(id, g)| (id.to_string(), *g))
                .collect(),
        }
    }

    #[test]
    fn each_highly_relevant_paper_seeds_a_case_without_itself() {
        let cases = cases_from_queries(&[query(
            "en-01",
            &[("2403.00001", 2), ("2403.00002", 2), ("2403.00003", 1)],
        )]);
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].seeds, ["2403.00001"]);
        assert!(!cases[0].relevant.contains_key("2403.00001"));
        assert_eq!(cases[0].relevant.len(), 2);
    }

    #[test]
    fn a_reading_list_is_the_first_highly_relevant_papers_by_id() {
        let q = query(
            "en-01",
            &[
                ("2403.00003", 2),
                ("2403.00001", 2),
                ("2403.00002", 2),
                ("2403.00004", 1),
            ],
        );
        let cases = list_cases_from_queries(std::slice::from_ref(&q), 2);
        assert_eq!(cases[0].seeds, ["2403.00001", "2403.00002"]);
        assert_eq!(cases[0].relevant.len(), 2);
        assert!(list_cases_from_queries(&[q], 3).is_empty());
    }

    #[test]
    fn a_related_set_names_its_seed_in_the_second_field() {
        let mut set = query("tune-01", &[("2403.00002", 1)]);
        set.query = "arXiv:2403.00001v2".into();
        let cases = cases_from_sets(&[set]);
        assert_eq!(cases[0].seeds, ["2403.00001"]);
        assert_eq!(cases[0].group, "tune");
    }
}
