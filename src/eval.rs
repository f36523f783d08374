//! Retrieval metrics over a judged query file.
//!
//! File format, one query per line: `qid<TAB>query<TAB>id,id:2,...` where `:2` marks a highly
//! relevant paper (default grade 1). `#` lines are comments. The qid's prefix before `-` is its
//! group (`en-01` -> `en`), so figures are also reported per group.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::fulltext::strip_version;
use crate::paper::Paper;
use crate::topics::{TopicModel, category_group, doc_terms};

#[derive(Debug, Clone, PartialEq)]
pub struct JudgedQuery {
    pub qid: String,
    pub group: String,
    pub query: String,
    /// arXiv id -> grade (1 relevant, 2 highly relevant).
    pub relevant: HashMap<String, u32>,
}

pub fn load_queries(path: &Path) -> Result<Vec<JudgedQuery>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut queries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let malformed = |reason: &str| {
            Error::invalid(
                format!("{}:{}", path.display(), i + 1),
                format!("{reason}; expected `qid<TAB>query<TAB>id,id:2,...`"),
            )
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
            if crate::paper::year_month_of_id(strip_version(id)).is_none() {
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
        return Err(Error::invalid(
            path.display().to_string(),
            "no queries in the file",
        ));
    }
    Ok(queries)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Metrics {
    pub mrr10: f64,
    pub ndcg10: f64,
    pub recall10: f64,
    pub recall100: f64,
}

impl Metrics {
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

#[derive(Debug, Clone, Serialize)]
pub struct QueryOutcome {
    pub qid: String,
    pub group: String,
    pub metrics: Metrics,
    pub latency_ms: f64,
}

/// One ranking method's figures over a query file.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub method: String,
    pub overall: Metrics,
    pub by_group: BTreeMap<String, Metrics>,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub queries: Vec<QueryOutcome>,
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
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
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
    fn latin_words_are_removed() {
        assert_eq!(
            without_latin_words("ERBench是一个LLMs幻觉基准 v2.0"),
            "是一个幻觉基准 "
        );
    }

    #[test]
    fn known_item_ranks_count_better_documents() {
        let q = ndarray::arr2(&[[1.0f32, 0.0], [0.0, 1.0]]);
        let d = ndarray::arr2(&[[0.9f32, 0.1], [0.95, 0.3]]);
        let ranks = known_item_ranks(&q, &d, &[false, false]);
        assert_eq!(ranks, vec![Some(2), Some(1)]);
        let summary = summarize_ranks(&ranks);
        assert_eq!((summary.r1, summary.r10, summary.mrr), (0.5, 1.0, 0.75));
    }

    #[test]
    fn percentiles() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.5), 2.0);
        assert_eq!(percentile(&v, 0.99), 4.0);
    }
}

/// Known-item retrieval: query `i` should find document `i`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct KnownItem {
    pub queries: usize,
    pub r1: f64,
    pub r10: f64,
    pub mrr: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CrossLingual {
    pub papers: usize,
    /// Chinese one-line summary -> English side (title + abstract) of every paper.
    pub zh_summary_to_en: KnownItem,
    /// The same with Latin-script words (system names, acronyms) removed from the query.
    pub zh_summary_no_latin_to_en: KnownItem,
    /// English title -> Chinese side (title + summary + abstract).
    pub en_title_to_zh: KnownItem,
    pub seconds: f64,
}

static LATIN_WORD: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"[A-Za-z0-9]*[A-Za-z][A-Za-z0-9\-_.]*").expect("static regex")
});

/// Removes words written in Latin script, so only the Chinese wording can match.
pub fn without_latin_words(text: &str) -> String {
    LATIN_WORD.replace_all(text, "").into_owned()
}

fn matrix(vectors: Vec<Vec<f32>>, dims: usize) -> ndarray::Array2<f32> {
    let rows = vectors.len();
    let flat: Vec<f32> = vectors.into_iter().flatten().collect();
    ndarray::Array2::from_shape_vec((rows, dims), flat)
        .unwrap_or_else(|_| ndarray::Array2::zeros((rows, dims)))
}

/// Ranks of document `i` for query `i` (1 = first); `None` for an empty query.
pub fn known_item_ranks(
    queries: &ndarray::Array2<f32>,
    docs: &ndarray::Array2<f32>,
    empty: &[bool],
) -> Vec<Option<usize>> {
    use rayon::prelude::*;
    let block = 256;
    let starts: Vec<usize> = (0..queries.nrows()).step_by(block).collect();
    starts
        .par_iter()
        .flat_map_iter(|&start| {
            let end = (start + block).min(queries.nrows());
            let scores = queries.slice(ndarray::s![start..end, ..]).dot(&docs.t());
            (start..end)
                .map(|i| {
                    if empty[i] {
                        return None;
                    }
                    let row = scores.row(i - start);
                    let own = row[i];
                    Some(1 + row.iter().filter(|&&s| s > own).count())
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

pub fn summarize_ranks(ranks: &[Option<usize>]) -> KnownItem {
    let found: Vec<usize> = ranks.iter().flatten().copied().collect();
    let n = found.len().max(1) as f64;
    KnownItem {
        queries: found.len(),
        r1: found.iter().filter(|&&r| r == 1).count() as f64 / n,
        r10: found.iter().filter(|&&r| r <= 10).count() as f64 / n,
        mrr: found.iter().map(|&r| 1.0 / r as f64).sum::<f64>() / n,
    }
}

/// The cross-lingual known-item tests over every paper.
pub fn crosslingual(
    embedder: &crate::embed::Embedder,
    papers: &[crate::Paper],
    on_step: impl Fn() + Sync,
) -> CrossLingual {
    use crate::embed::{chinese_side, english_side};
    let started = Instant::now();
    let dims = embedder.dims();
    let embed_all = |texts: &[String]| {
        let m = matrix(embedder.embed_batch(texts, &on_step), dims);
        let empty: Vec<bool> = texts
            .iter()
            .map(|t| embedder.token_ids(t).is_empty())
            .collect();
        (m, empty)
    };
    let summaries: Vec<String> = papers.iter().map(|p| p.summary_zh.clone()).collect();
    let no_latin: Vec<String> = summaries.iter().map(|s| without_latin_words(s)).collect();
    let titles: Vec<String> = papers.iter().map(|p| p.title_en.clone()).collect();
    let (en_docs, _) = embed_all(&papers.iter().map(english_side).collect::<Vec<_>>());
    let (zh_docs, _) = embed_all(&papers.iter().map(chinese_side).collect::<Vec<_>>());
    let (q_summary, e1) = embed_all(&summaries);
    let (q_no_latin, e2) = embed_all(&no_latin);
    let (q_title, e3) = embed_all(&titles);
    CrossLingual {
        papers: papers.len(),
        zh_summary_to_en: summarize_ranks(&known_item_ranks(&q_summary, &en_docs, &e1)),
        zh_summary_no_latin_to_en: summarize_ranks(&known_item_ranks(&q_no_latin, &en_docs, &e2)),
        en_title_to_zh: summarize_ranks(&known_item_ranks(&q_title, &zh_docs, &e3)),
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// `(paper number, similarity)`, best first.
type Ranked = Vec<(u32, f32)>;

/// One point of the HNSW recall/latency curve.
#[derive(Debug, Clone, Serialize)]
pub struct AnnPoint {
    pub ef: usize,
    pub recall10: f64,
    pub latency_us: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AnnReport {
    pub papers: usize,
    pub queries: usize,
    pub build_seconds: f64,
    pub exact_latency_us: f64,
    pub curve: Vec<AnnPoint>,
}

/// Builds an HNSW graph over the index's vectors and compares its top 10 with exact search for
/// every `stride`-th paper's vector used as a query, at each `ef`.
pub fn ann_recall(
    index: &crate::vectors::VectorIndex,
    papers: usize,
    efs: &[usize],
    stride: usize,
) -> AnnReport {
    use crate::vectors::{VectorIndex, VectorParams};
    let vectors: Vec<Vec<f32>> = (0..papers as u32)
        .map(|p| {
            index
                .vector_of(p)
                .map(<[f32]>::to_vec)
                .unwrap_or_else(|| vec![0.0; index.dims()])
        })
        .collect();
    let queries: Vec<Vec<f32>> = vectors.iter().step_by(stride.max(1)).cloned().collect();
    let started = Instant::now();
    let params = VectorParams {
        exact_below: 0,
        ..VectorParams::default()
    };
    let mut graph = VectorIndex::build(index.dims(), vectors, params, || {});
    let build_seconds = started.elapsed().as_secs_f64();
    let timed = |f: &dyn Fn(&[f32]) -> Ranked| {
        let started = Instant::now();
        let results: Vec<Vec<u32>> = queries
            .iter()
            .map(|q| f(q).into_iter().map(|(p, _)| p).collect())
            .collect();
        (
            results,
            started.elapsed().as_secs_f64() * 1e6 / queries.len().max(1) as f64,
        )
    };
    let (exact, exact_latency_us) = timed(&|q| graph.search_exact(q, 10, None));
    let mut curve = Vec::new();
    for &ef in efs {
        graph.set_ef_search(ef);
        let (approx, latency_us) = timed(&|q| graph.search(q, 10, None));
        let found: usize = exact
            .iter()
            .zip(&approx)
            .map(|(e, a)| e.iter().filter(|p| a.contains(p)).count())
            .sum();
        let wanted: usize = exact.iter().map(Vec::len).sum();
        curve.push(AnnPoint {
            ef,
            recall10: found as f64 / wanted.max(1) as f64,
            latency_us,
        });
    }
    AnnReport {
        papers,
        queries: queries.len(),
        build_seconds,
        exact_latency_us,
        curve,
    }
}

/// Cell counts by (truth class, predicted class), row sums, column sums.
type Contingency = (HashMap<(usize, usize), f64>, Vec<f64>, Vec<f64>);

fn contingency<T: std::hash::Hash + Eq, U: std::hash::Hash + Eq>(a: &[T], b: &[U]) -> Contingency {
    let mut ai: HashMap<&T, usize> = HashMap::new();
    let mut bi: HashMap<&U, usize> = HashMap::new();
    let mut table = HashMap::new();
    for (x, y) in a.iter().zip(b) {
        let next_a = ai.len();
        let i = *ai.entry(x).or_insert(next_a);
        let next_b = bi.len();
        let j = *bi.entry(y).or_insert(next_b);
        *table.entry((i, j)).or_insert(0.0) += 1.0;
    }
    let mut rows = vec![0.0; ai.len()];
    let mut cols = vec![0.0; bi.len()];
    for (&(i, j), &c) in &table {
        rows[i] += c;
        cols[j] += c;
    }
    (table, rows, cols)
}

/// Normalised mutual information (arithmetic mean normalisation, as scikit-learn's default).
pub fn nmi<T: std::hash::Hash + Eq, U: std::hash::Hash + Eq>(truth: &[T], predicted: &[U]) -> f64 {
    let n = truth.len() as f64;
    if n == 0.0 {
        return 0.0;
    }
    let (table, rows, cols) = contingency(truth, predicted);
    let entropy = |v: &[f64]| {
        -v.iter()
            .filter(|&&c| c > 0.0)
            .map(|&c| c / n * (c / n).ln())
            .sum::<f64>()
    };
    let mi: f64 = table
        .iter()
        .map(|(&(i, j), &c)| c / n * ((c * n) / (rows[i] * cols[j])).ln())
        .sum();
    let (h1, h2) = (entropy(&rows), entropy(&cols));
    if h1 + h2 == 0.0 {
        1.0
    } else {
        2.0 * mi / (h1 + h2)
    }
}

/// Adjusted Rand index.
pub fn ari<T: std::hash::Hash + Eq, U: std::hash::Hash + Eq>(truth: &[T], predicted: &[U]) -> f64 {
    let n = truth.len() as f64;
    let (table, rows, cols) = contingency(truth, predicted);
    let pairs = |x: f64| x * (x - 1.0) / 2.0;
    let index: f64 = table.values().map(|&c| pairs(c)).sum();
    let sum_rows: f64 = rows.iter().map(|&c| pairs(c)).sum();
    let sum_cols: f64 = cols.iter().map(|&c| pairs(c)).sum();
    let expected = sum_rows * sum_cols / pairs(n).max(1.0);
    let max = (sum_rows + sum_cols) / 2.0;
    if (max - expected).abs() < f64::EPSILON {
        1.0
    } else {
        (index - expected) / (max - expected)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TopicQuality {
    pub topics: usize,
    pub papers: usize,
    /// Papers with a category in their digest entry, on which NMI and ARI are computed.
    pub labelled_papers: usize,
    pub nmi: f64,
    pub ari: f64,
    /// Mean NPMI of each topic's top-10 English and top-10 Chinese label terms, over documents.
    pub npmi_en: f64,
    pub npmi_zh: f64,
    /// Unique share of all topics' top-25 label terms (both languages).
    pub diversity: f64,
    pub outlier_share: f64,
    pub largest_topic_share: f64,
    pub fit_seconds: f64,
}

pub fn topic_quality(papers: &[Paper], model: &TopicModel) -> TopicQuality {
    let (docs, vocabulary) = doc_terms(papers);
    let predicted: Vec<usize> = model.assignments.iter().map(|a| a.nearest).collect();
    let (truth, pred): (Vec<String>, Vec<usize>) = papers
        .iter()
        .zip(&predicted)
        .filter_map(|(p, &t)| category_group(p).map(|c| (c, t)))
        .unzip();
    let surface_to_stem: HashMap<&str, &str> = vocabulary
        .surface
        .iter()
        .map(|(s, f)| (f.as_str(), s.as_str()))
        .collect();
    let npmi = |lang_zh: bool| {
        let sets: Vec<HashSet<&str>> = docs
            .iter()
            .map(|d| {
                if lang_zh { &d.zh } else { &d.en }
                    .iter()
                    .map(String::as_str)
                    .collect()
            })
            .collect();
        let scores: Vec<f64> = model
            .topics
            .iter()
            .map(|t| {
                let words: Vec<&str> = if lang_zh { &t.label_zh } else { &t.label_en }
                    .iter()
                    .take(10)
                    .map(|w| {
                        if lang_zh {
                            w.as_str()
                        } else {
                            surface_to_stem
                                .get(w.as_str())
                                .copied()
                                .unwrap_or(w.as_str())
                        }
                    })
                    .collect();
                npmi_of(&words, &sets)
            })
            .collect();
        scores.iter().sum::<f64>() / scores.len().max(1) as f64
    };
    let all_top: Vec<&String> = model
        .topics
        .iter()
        .flat_map(|t| t.label_en.iter().take(25).chain(t.label_zh.iter().take(25)))
        .collect();
    let unique: HashSet<&String> = all_top.iter().copied().collect();
    let outliers = model.assignments.iter().filter(|a| a.topic < 0).count();
    let largest = model.topics.iter().map(|t| t.size).max().unwrap_or(0);
    TopicQuality {
        topics: model.topics.len(),
        papers: papers.len(),
        labelled_papers: truth.len(),
        nmi: nmi(&truth, &pred),
        ari: ari(&truth, &pred),
        npmi_en: npmi(false),
        npmi_zh: npmi(true),
        diversity: unique.len() as f64 / all_top.len().max(1) as f64,
        outlier_share: outliers as f64 / papers.len().max(1) as f64,
        largest_topic_share: largest as f64 / papers.len().max(1) as f64,
        fit_seconds: model.seconds,
    }
}

/// Mean normalised PMI over the pairs of `words`, from document co-occurrence.
fn npmi_of(words: &[&str], docs: &[HashSet<&str>]) -> f64 {
    let n = docs.len().max(1) as f64;
    let df = |pred: &dyn Fn(&HashSet<&str>) -> bool| docs.iter().filter(|d| pred(d)).count() as f64;
    let single: Vec<f64> = words.iter().map(|w| df(&|d| d.contains(w))).collect();
    let mut total = 0.0;
    let mut pairs = 0.0;
    for i in 0..words.len() {
        for j in i + 1..words.len() {
            let joint = df(&|d| d.contains(words[i]) && d.contains(words[j]));
            pairs += 1.0;
            if joint == 0.0 || single[i] == 0.0 || single[j] == 0.0 {
                total -= 1.0;
                continue;
            }
            let p_ij = joint / n;
            let pmi = (p_ij / ((single[i] / n) * (single[j] / n))).ln();
            let denom = -p_ij.ln();
            total += if denom > 0.0 { pmi / denom } else { 1.0 };
        }
    }
    if pairs > 0.0 { total / pairs } else { 0.0 }
}

#[cfg(test)]
mod clustering_tests {
    use super::*;

    #[test]
    fn identical_partitions_score_one_and_relabelling_does_not_matter() {
        let truth = ["a", "a", "b", "b", "c"];
        let same = [7, 7, 3, 3, 9];
        assert!((nmi(&truth, &same) - 1.0).abs() < 1e-12);
        assert!((ari(&truth, &same) - 1.0).abs() < 1e-12);
        let merged = [1, 1, 1, 1, 1];
        assert!(nmi(&truth, &merged).abs() < 1e-12);
        assert!(ari(&truth, &merged).abs() < 1e-12);
    }
}
