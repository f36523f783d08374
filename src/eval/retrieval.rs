//! Retrieval: ranking methods scored against a judged query file.
//!
//! File format, one query per line: `qid<TAB>query<TAB>id,id:2,...` where `:2` marks a highly
//! relevant paper (default grade 1). `#` lines are comments. The qid's prefix before `-` is its
//! group (`en-01` -> `en`), so figures are also reported per group.
//!
//! nDCG@10 is the figure that uses the grades, so it is the one BENCHMARKS.md compares methods
//! by; MRR@10 and recall@10/100 are reported beside it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::hybrid::Fusion;
use crate::paper::{strip_version, year_month_of_id};
use crate::search::{Engine, Mode, SearchRequest};

/// One line of a judged query file.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgedQuery {
    /// The query's id (`en-01`).
    pub qid: String,
    /// The id's prefix before `-` (`en`), for per-group figures.
    pub group: String,
    /// The query text as a user would type it.
    pub query: String,
    /// arXiv id -> grade (1 relevant, 2 highly relevant).
    pub relevant: HashMap<String, u32>,
}

/// Reads a judged query file (format in the module doc), arXiv ids without their version. A
/// malformed line is an error naming `file:line`, so a broken judgement is never silently lost.
pub fn load_queries(path: &Path) -> Result<Vec<JudgedQuery>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut queries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let malformed = |reason: &str| Error::BadLine {
            path: path.to_path_buf(),
            line: i + 1,
            reason: format!("{reason}; expected `qid<TAB>query<TAB>id,id:2,...`"),
        };
        let fields: Vec<&str> = line.split('\t').collect();
        let [qid, query, ids] = fields[..] else {
            return Err(malformed(&format!("{} tab-separated fields", fields.len())));
        };
        if qid.trim().is_empty() || query.trim().is_empty() {
            return Err(malformed("empty qid or query"));
        }
        let mut relevant = HashMap::new();
        for item in ids.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (id, grade) = match item.split_once(':') {
                Some((id, grade)) => (
                    id,
                    grade
                        .parse::<u32>()
                        .map_err(|_| malformed(&format!("bad grade in `{item}`")))?,
                ),
                None => (item, 1),
            };
            if year_month_of_id(strip_version(id)).is_none() {
                return Err(malformed(&format!("`{id}` is not an arXiv id")));
            }
            relevant.insert(strip_version(id).to_string(), grade);
        }
        if relevant.is_empty() {
            return Err(malformed("no relevant ids"));
        }
        queries.push(JudgedQuery {
            qid: qid.to_string(),
            group: qid.split('-').next().unwrap_or(qid).to_string(),
            query: query.to_string(),
            relevant,
        });
    }
    if queries.is_empty() {
        return Err(Error::BadLine {
            path: path.to_path_buf(),
            line: text.lines().count().max(1),
            reason: "no queries in the file".into(),
        });
    }
    Ok(queries)
}

/// The figures of one ranking (or their mean over several).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Metrics {
    /// Reciprocal rank of the first relevant paper in the top 10 (0 if none).
    pub mrr10: f64,
    /// nDCG over the top 10 with gain 2^grade - 1.
    pub ndcg10: f64,
    /// Share of the relevant papers in the top 10.
    pub recall10: f64,
    /// Share of the relevant papers in the top 100.
    pub recall100: f64,
}

impl Metrics {
    /// Scores `ranked` (arXiv ids, best first) against the graded `relevant` ids.
    pub fn of(ranked: &[String], relevant: &HashMap<String, u32>) -> Metrics {
        let grade = |id: &String| relevant.get(id).copied().unwrap_or(0);
        let mrr10 = ranked
            .iter()
            .take(10)
            .position(|id| grade(id) > 0)
            .map_or(0.0, |p| 1.0 / (p as f64 + 1.0));
        let dcg = |grades: &mut dyn Iterator<Item = u32>| -> f64 {
            grades
                .take(10)
                .enumerate()
                .map(|(i, g)| (2f64.powi(g as i32) - 1.0) / (i as f64 + 2.0).log2())
                .sum()
        };
        let mut ideal: Vec<u32> = relevant.values().copied().collect();
        ideal.sort_unstable_by(|a, b| b.cmp(a));
        let ideal_dcg = dcg(&mut ideal.into_iter());
        let ndcg10 = if ideal_dcg > 0.0 {
            dcg(&mut ranked.iter().map(grade)) / ideal_dcg
        } else {
            0.0
        };
        let recall = |k: usize| {
            let found = ranked.iter().take(k).filter(|id| grade(id) > 0).count();
            found as f64 / relevant.len().max(1) as f64
        };
        Metrics {
            mrr10,
            ndcg10,
            recall10: recall(10),
            recall100: recall(100),
        }
    }

    fn mean(all: &[Metrics]) -> Metrics {
        let n = all.len().max(1) as f64;
        let sum = |f: fn(&Metrics) -> f64| all.iter().map(f).sum::<f64>() / n;
        Metrics {
            mrr10: sum(|m| m.mrr10),
            ndcg10: sum(|m| m.ndcg10),
            recall10: sum(|m| m.recall10),
            recall100: sum(|m| m.recall100),
        }
    }
}

/// One query's figures and how long its ranking took.
#[derive(Debug, Clone, Serialize)]
pub struct QueryOutcome {
    /// The query's id.
    pub qid: String,
    /// The query's group.
    pub group: String,
    /// Its figures.
    pub metrics: Metrics,
    /// Time `rank` took for it, milliseconds.
    pub latency_ms: f64,
}

/// One ranking method's figures over a query file.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The method's name as given to `evaluate`.
    pub method: String,
    /// Mean over all queries.
    pub overall: Metrics,
    /// Mean per query group.
    pub by_group: BTreeMap<String, Metrics>,
    /// Median query latency, milliseconds.
    pub latency_p50_ms: f64,
    /// 99th-percentile query latency, milliseconds.
    pub latency_p99_ms: f64,
    /// Every query's own figures, in file order.
    pub queries: Vec<QueryOutcome>,
}

/// A ranking `eval search` compares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Method {
    /// How reports name it.
    pub name: &'static str,
    /// Words, meaning or both.
    pub mode: Mode,
    /// The fusion of the two sides; `None`: the engine's own (the default for its model).
    pub fusion: Option<Fusion>,
    /// Whether the meaning-feedback stage follows (hybrid and vector).
    pub feedback: bool,
}

/// The ranking methods `eval search` compares: each side alone, the default hybrid with and
/// without its meaning-feedback stage, reciprocal rank fusion, and the static model's adaptive
/// fusion.
pub fn search_methods() -> Vec<Method> {
    let method = |name, mode, fusion, feedback| Method {
        name,
        mode,
        fusion,
        feedback,
    };
    vec![
        method("bm25", Mode::Bm25, None, false),
        method("vector", Mode::Vector, None, true),
        method("vector, no feedback", Mode::Vector, None, false),
        method("hybrid", Mode::Hybrid, None, true),
        method("hybrid, no feedback", Mode::Hybrid, None, false),
        method("rrf", Mode::Hybrid, Some(Fusion::Rrf { k: 60.0 }), true),
        method("adaptive", Mode::Hybrid, Some(Fusion::ADAPTIVE), true),
    ]
}

/// Evaluates every method of [`search_methods`] on `queries` (top 100 of each query).
pub fn evaluate_methods(engine: &Engine, queries: &[JudgedQuery]) -> Result<Vec<Report>> {
    let ids: Vec<String> = engine.papers()?.into_iter().map(|p| p.arxiv_id).collect();
    search_methods()
        .into_iter()
        .map(|method| evaluate_method(engine, &ids, queries, method))
        .collect()
}

/// Evaluates `method` on `queries` (top 100 of each query); `ids`: every paper's arXiv id, by
/// paper number.
pub fn evaluate_method(
    engine: &Engine,
    ids: &[String],
    queries: &[JudgedQuery],
    method: Method,
) -> Result<Report> {
    evaluate(method.name, queries, |q| {
        let request = SearchRequest::new(q)
            .mode(method.mode)
            .limit(100)
            .fusion_if(method.fusion)
            .feedback(method.feedback);
        Ok(engine
            .rank(&request)?
            .ranked
            .iter()
            .filter_map(|r| ids.get(r.number.index()).cloned())
            .collect())
    })
}

/// Runs `rank` (query -> ranked arXiv ids, best first) on every query and scores it.
pub fn evaluate(
    method: &str,
    queries: &[JudgedQuery],
    mut rank: impl FnMut(&str) -> Result<Vec<String>>,
) -> Result<Report> {
    let mut outcomes = Vec::with_capacity(queries.len());
    for q in queries {
        let started = Instant::now();
        let ranked = rank(&q.query)?;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        outcomes.push(QueryOutcome {
            qid: q.qid.clone(),
            group: q.group.clone(),
            metrics: Metrics::of(&ranked, &q.relevant),
            latency_ms,
        });
    }
    let mut groups: BTreeMap<String, Vec<Metrics>> = BTreeMap::new();
    for o in &outcomes {
        groups.entry(o.group.clone()).or_default().push(o.metrics);
    }
    let all: Vec<Metrics> = outcomes.iter().map(|o| o.metrics).collect();
    let mut latencies: Vec<f64> = outcomes.iter().map(|o| o.latency_ms).collect();
    latencies.sort_by(f64::total_cmp);
    Ok(Report {
        method: method.to_string(),
        overall: Metrics::mean(&all),
        by_group: groups
            .iter()
            .map(|(g, m)| (g.clone(), Metrics::mean(m)))
            .collect(),
        latency_p50_ms: percentile(&latencies, 0.50),
        latency_p99_ms: percentile(&latencies, 0.99),
        queries: outcomes,
    })
}

/// Nearest-rank percentile of sorted values.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(pairs: &[(&str, u32)]) -> HashMap<String, u32> {
        pairs.iter().map(|(id, g)| (id.to_string(), *g)).collect()
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn perfect_ranking_scores_one() {
        let rel = judged(&[("a", 2), ("b", 1)]);
        let m = Metrics::of(&ids(&["a", "b", "c"]), &rel);
        assert_eq!((m.mrr10, m.recall10), (1.0, 1.0));
        assert!((m.ndcg10 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn swapped_grades_lose_ndcg_but_not_recall() {
        let rel = judged(&[("a", 2), ("b", 1)]);
        let m = Metrics::of(&ids(&["b", "a"]), &rel);
        assert!(m.ndcg10 < 1.0);
        assert_eq!((m.mrr10, m.recall10), (1.0, 1.0));
    }

    #[test]
    fn nothing_relevant_found() {
        let m = Metrics::of(&ids(&["x", "y"]), &judged(&[("a", 1)]));
        assert_eq!(m, Metrics::default());
    }

    #[test]
    fn malformed_lines_are_named() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("q.tsv");
        std::fs::write(
            &path,
            "# comment\nq1\thello\t2401.00001\nq2 only one field\n",
        )
        .expect("write");
        let err = load_queries(&path)
            .expect_err("line 3 is malformed")
            .to_string();
        assert!(err.contains("q.tsv:3"), "{err}");
    }

    #[test]
    fn percentiles() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.5), 2.0);
        assert_eq!(percentile(&v, 0.99), 4.0);
    }
}
