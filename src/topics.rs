//! Topics: the collection clustered, each cluster labelled in English and Chinese.
//!
//! Representation: LSA (truncated SVD of the TF-IDF matrix of the analyzers' terms), measured
//! better than the paper vectors for clustering on this corpus (BENCHMARKS.md). Clustering:
//! spherical k-means (k-means++ seeding, fixed seed). Labels: class-based TF-IDF over English
//! stems (shown in their commonest surface form, bigrams included) and jieba words, weighted by
//! how concentrated a term is in the topic, so words common to every topic do not crowd out the
//! distinctive ones. Each topic also keeps its centroid in the embedding space, so papers added
//! later are assigned without a refit.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analyze;
use crate::embed::{dot, normalize};
use crate::paper::Paper;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicParams {
    /// Target number of topics; by default about sqrt(papers / 15).
    pub topics: Option<usize>,
    /// Topics smaller than this are dissolved into their nearest neighbours.
    pub min_size: usize,
    pub seed: u64,
    pub lsa_dims: usize,
    #[serde(default)]
    pub representation: Representation,
}

/// What papers are clustered by (compared in BENCHMARKS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Representation {
    /// LSA of the TF-IDF of the analyzers' terms (measured best).
    #[default]
    Lsa,
    /// The paper embedding vectors.
    Vectors,
    /// Both, concatenated with equal weight.
    Both,
}

impl Default for TopicParams {
    fn default() -> Self {
        TopicParams {
            topics: None,
            min_size: 10,
            seed: 42,
            lsa_dims: 100,
            representation: Representation::Lsa,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Topic {
    pub id: usize,
    pub size: usize,
    pub label_en: Vec<String>,
    pub label_zh: Vec<String>,
    /// The papers closest to the topic's centre.
    pub representative: Vec<String>,
    /// Mean direction of the members' embedding vectors (for assigning new papers).
    #[serde(default)]
    pub centroid: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub arxiv_id: String,
    /// The topic id, or -1 for an outlier (a paper far from every topic).
    pub topic: i64,
    /// The nearest topic, also for outliers.
    pub nearest: usize,
    /// Cosine to the topic centre in the clustering space.
    pub closeness: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicModel {
    pub params: TopicParams,
    pub topics: Vec<Topic>,
    pub assignments: Vec<Assignment>,
    pub seconds: f64,
}

/// Function words, digest boilerplate and words every field uses: never a label.
const LABEL_STOP_EN: &str = "a an the of in on for to and or is are be can how what why which do does did \
    with by from as at it its this that these those we our their they there was were has have had been \
    will would should could may might not no into about than then so such via using use used based \
    also however while both each other more most many much new novel propose proposed paper approach \
    method methods result results show shows study work task tasks problem problems performance \
    existing different various several first two one three well high low large small framework data \
    model models abstract arxiv announce type cross replace experiment experiments extensive \
    demonstrate effective effectiveness significant significantly achieve improve improves \
    state art outperform outperforms present introduce provide provides paper's can't without \
    between across within however further address challenge challenges key important";

const LABEL_STOP_ZH: &str = "提出 本文 论文 我们 方法 研究 一种 进行 通过 基于 使用 利用 问题 结果 表明 显示 \
    实验 性能 模型 数据 能够 可以 以及 这些 这种 其中 同时 之间 方面 相关 不同 现有 提供 实现 具有 \
    进一步 重要 有效 显著 提高 改进 方式 领域 任务 框架 挑战 主要 包括 该 摘要 公告 类型 新 替换 交叉 \
    一个 多个 用于 对于 并且 然而 此外 因此 如何 旨在 展示 发现 证明 结合 解决 目前 已经 当前 这一";

fn stop_set(list: &str) -> HashSet<String> {
    list.split_whitespace().map(str::to_string).collect()
}

/// A paper's terms for clustering and labels.
struct DocTerms {
    /// Stemmed English unigrams and bigrams ("hallucin", "languag model").
    en: Vec<String>,
    zh: Vec<String>,
}

/// term -> surface form -> occurrences.
type SurfaceCounts = HashMap<String, HashMap<String, u32>>;

struct Vocabulary {
    /// stem -> commonest surface form.
    surface: HashMap<String, String>,
}

fn english_terms(
    analyzer: &mut tantivy::tokenizer::TextAnalyzer,
    text: &str,
    stop: &HashSet<String>,
    surfaces: &mut HashMap<String, HashMap<String, u32>>,
) -> Vec<String> {
    use tantivy::tokenizer::TokenStream;
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    let mut previous: Option<(String, String)> = None;
    while stream.advance() {
        let token = stream.token();
        let surface = text
            .get(token.offset_from..token.offset_to)
            .unwrap_or_default()
            .to_lowercase();
        let keep = token.text.len() > 2
            && token.text.chars().any(char::is_alphabetic)
            && !stop.contains(&surface)
            && !stop.contains(&token.text);
        if !keep {
            previous = None;
            continue;
        }
        *surfaces
            .entry(token.text.clone())
            .or_default()
            .entry(surface.clone())
            .or_default() += 1;
        if let Some((stem, prev_surface)) = &previous {
            let bigram = format!("{stem} {}", token.text);
            *surfaces
                .entry(bigram.clone())
                .or_default()
                .entry(format!("{prev_surface} {surface}"))
                .or_default() += 1;
            out.push(bigram);
        }
        out.push(token.text.clone());
        previous = Some((token.text.clone(), surface));
    }
    out
}

fn doc_terms(papers: &[Paper]) -> (Vec<DocTerms>, Vocabulary) {
    let stop_en = stop_set(LABEL_STOP_EN);
    let stop_zh = stop_set(LABEL_STOP_ZH);
    let per_paper: Vec<(DocTerms, SurfaceCounts)> = papers
        .par_iter()
        .map_init(analyze::english_analyzer, |analyzer, p| {
            let mut surfaces = HashMap::new();
            let english = format!("{}. {}. {}", p.title_en, p.title_en, p.abstract_en);
            let en = english_terms(analyzer, &english, &stop_en, &mut surfaces);
            let chinese = format!(
                "{}。{}。{}。{}",
                p.title_zh, p.title_zh, p.summary_zh, p.abstract_zh
            );
            let zh = analyze::chinese_words(&chinese)
                .into_iter()
                .filter(|w| {
                    w.chars().count() >= 2 && w.chars().all(analyze::is_cjk) && !stop_zh.contains(w)
                })
                .collect();
            (DocTerms { en, zh }, surfaces)
        })
        .collect();
    let mut counts: HashMap<String, HashMap<String, u32>> = HashMap::new();
    let mut docs = Vec::with_capacity(per_paper.len());
    for (doc, surfaces) in per_paper {
        for (stem, forms) in surfaces {
            let entry = counts.entry(stem).or_default();
            for (form, n) in forms {
                *entry.entry(form).or_default() += n;
            }
        }
        docs.push(doc);
    }
    let surface = counts
        .into_iter()
        .map(|(stem, forms)| {
            let best = forms
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .map(|(f, _)| f)
                .unwrap_or_default();
            (stem, best)
        })
        .collect();
    (docs, Vocabulary { surface })
}

/// A small deterministic generator (xorshift*), so topics need no extra crate and never vary.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Sparse TF-IDF rows (sublinear tf, L2-normalised) over terms in 3..=N/2 documents.
fn tfidf(docs: &[DocTerms]) -> (Vec<Vec<(u32, f32)>>, usize) {
    let n = docs.len();
    let mut df: HashMap<&str, u32> = HashMap::new();
    for d in docs {
        let unique: HashSet<&str> = d.en.iter().chain(&d.zh).map(String::as_str).collect();
        for t in unique {
            *df.entry(t).or_default() += 1;
        }
    }
    let mut terms: Vec<&str> = df
        .iter()
        .filter(|&(_, &c)| c >= 3 && (c as usize) * 2 <= n)
        .map(|(&t, _)| t)
        .collect();
    terms.sort_unstable();
    let index: HashMap<&str, u32> = terms
        .iter()
        .enumerate()
        .map(|(i, &t)| (t, i as u32))
        .collect();
    let rows = docs
        .par_iter()
        .map(|d| {
            let mut tf: BTreeMap<u32, f32> = BTreeMap::new();
            for t in d.en.iter().chain(&d.zh) {
                if let Some(&i) = index.get(t.as_str()) {
                    *tf.entry(i).or_default() += 1.0;
                }
            }
            let mut row: Vec<(u32, f32)> = tf
                .into_iter()
                .map(|(i, c)| {
                    let idf = (n as f32 / df[terms[i as usize]] as f32).ln();
                    (i, (1.0 + c.ln()) * idf)
                })
                .collect();
            let norm = row
                .iter()
                .map(|(_, w)| w * w)
                .sum::<f32>()
                .sqrt()
                .max(f32::EPSILON);
            row.iter_mut().for_each(|(_, w)| *w /= norm);
            row
        })
        .collect();
    (rows, terms.len())
}

/// Orthonormalises the columns of `m` (rows x cols, row-major) in place (modified Gram-Schmidt).
fn orthonormalize(m: &mut [f32], rows: usize, cols: usize) {
    for j in 0..cols {
        for k in 0..j {
            let d: f32 = (0..rows).map(|r| m[r * cols + j] * m[r * cols + k]).sum();
            for r in 0..rows {
                m[r * cols + j] -= d * m[r * cols + k];
            }
        }
        let norm = (0..rows)
            .map(|r| m[r * cols + j].powi(2))
            .sum::<f32>()
            .sqrt()
            .max(f32::EPSILON);
        for r in 0..rows {
            m[r * cols + j] /= norm;
        }
    }
}

/// Rows of the sparse matrix times a dense (terms x cols) matrix.
fn sparse_times(rows: &[Vec<(u32, f32)>], dense: &[f32], cols: usize) -> Vec<f32> {
    rows.par_iter()
        .flat_map_iter(|row| {
            let mut out = vec![0f32; cols];
            for &(t, w) in row {
                let base = t as usize * cols;
                for (o, d) in out.iter_mut().zip(&dense[base..base + cols]) {
                    *o += w * d;
                }
            }
            out
        })
        .collect()
}

/// Transposed sparse matrix times a dense (docs x cols) matrix: (terms x cols).
fn sparse_t_times(rows: &[Vec<(u32, f32)>], terms: usize, dense: &[f32], cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; terms * cols];
    for (r, row) in rows.iter().enumerate() {
        let src = &dense[r * cols..(r + 1) * cols];
        for &(t, w) in row {
            let base = t as usize * cols;
            for (o, s) in out[base..base + cols].iter_mut().zip(src) {
                *o += w * s;
            }
        }
    }
    out
}

/// LSA document coordinates (randomized truncated SVD, two power iterations), rows unit length.
fn lsa(rows: &[Vec<(u32, f32)>], terms: usize, dims: usize, rng: &mut Rng) -> Vec<Vec<f32>> {
    let n = rows.len();
    let l = (dims + 10).min(terms.max(1)).min(n.max(1));
    let omega: Vec<f32> = (0..terms * l).map(|_| rng.unit() * 2.0 - 1.0).collect();
    let mut q = sparse_times(rows, &omega, l);
    orthonormalize(&mut q, n, l);
    for _ in 0..2 {
        let mut z = sparse_t_times(rows, terms, &q, l);
        orthonormalize(&mut z, terms, l);
        q = sparse_times(rows, &z, l);
        orthonormalize(&mut q, n, l);
    }
    // B^T = A^T Q (terms x l); B B^T = (A^T Q)^T (A^T Q) is l x l: its eigenvectors rotate Q
    // onto the leading left singular vectors.
    let bt = sparse_t_times(rows, terms, &q, l);
    let mut bbt = nalgebra::DMatrix::<f64>::zeros(l, l);
    for i in 0..l {
        for j in i..l {
            let v: f64 = (0..terms)
                .map(|t| f64::from(bt[t * l + i]) * f64::from(bt[t * l + j]))
                .sum();
            bbt[(i, j)] = v;
            bbt[(j, i)] = v;
        }
    }
    let eigen = nalgebra::SymmetricEigen::new(bbt);
    let mut order: Vec<usize> = (0..l).collect();
    order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
    let keep = &order[..dims.min(l)];
    (0..n)
        .map(|r| {
            let mut v: Vec<f32> = keep
                .iter()
                .map(|&c| {
                    let sigma = eigen.eigenvalues[c].max(0.0).sqrt();
                    let u: f64 = (0..l)
                        .map(|i| f64::from(q[r * l + i]) * eigen.eigenvectors[(i, c)])
                        .sum();
                    (u * sigma) as f32
                })
                .collect();
            normalize(&mut v);
            v
        })
        .collect()
}

/// Spherical k-means with k-means++ seeding: (assignment, centroids).
fn kmeans(points: &[Vec<f32>], k: usize, rng: &mut Rng) -> (Vec<usize>, Vec<Vec<f32>>) {
    let n = points.len();
    let k = k.clamp(1, n.max(1));
    let mut centroids = vec![points[(rng.next() % n as u64) as usize].clone()];
    let mut best: Vec<f32> = points.iter().map(|p| 1.0 - dot(p, &centroids[0])).collect();
    while centroids.len() < k {
        let total: f32 = best.iter().map(|d| d.max(0.0).powi(2)).sum();
        let mut target = rng.unit() * total;
        let mut pick = n - 1;
        for (i, d) in best.iter().enumerate() {
            target -= d.max(0.0).powi(2);
            if target <= 0.0 {
                pick = i;
                break;
            }
        }
        centroids.push(points[pick].clone());
        let c = centroids.len() - 1;
        for (b, p) in best.iter_mut().zip(points) {
            *b = b.min(1.0 - dot(p, &centroids[c]));
        }
    }
    let mut assignment = vec![0usize; n];
    for _ in 0..60 {
        let next: Vec<usize> = points
            .par_iter()
            .map(|p| nearest(p, &centroids).0)
            .collect();
        let changed = next != assignment;
        assignment = next;
        centroids = recentre(points, &assignment, &centroids);
        if !changed {
            break;
        }
    }
    (assignment, centroids)
}

fn nearest(p: &[f32], centroids: &[Vec<f32>]) -> (usize, f32) {
    centroids
        .iter()
        .enumerate()
        .map(|(i, c)| (i, dot(p, c)))
        .fold(
            (0, f32::NEG_INFINITY),
            |best, x| if x.1 > best.1 { x } else { best },
        )
}

fn recentre(points: &[Vec<f32>], assignment: &[usize], old: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let dims = points.first().map_or(0, Vec::len);
    let mut sums = vec![vec![0f32; dims]; old.len()];
    for (p, &a) in points.iter().zip(assignment) {
        for (s, x) in sums[a].iter_mut().zip(p) {
            *s += x;
        }
    }
    sums.into_iter()
        .zip(old)
        .map(|(mut s, o)| {
            if s.iter().all(|&x| x == 0.0) {
                return o.clone();
            }
            normalize(&mut s);
            s
        })
        .collect()
}

/// Dissolves topics under `min_size` into their members' next-nearest topics, then renumbers
/// topics by size (0 = largest).
fn dissolve_small(
    points: &[Vec<f32>],
    mut assignment: Vec<usize>,
    mut centroids: Vec<Vec<f32>>,
    min_size: usize,
) -> (Vec<usize>, Vec<Vec<f32>>) {
    loop {
        let mut sizes = vec![0usize; centroids.len()];
        assignment.iter().for_each(|&a| sizes[a] += 1);
        let smallest = (0..centroids.len())
            .filter(|&c| sizes[c] < min_size)
            .min_by_key(|&c| (sizes[c], c));
        let Some(small) = smallest.filter(|_| centroids.len() > 1) else {
            let mut order: Vec<usize> = (0..centroids.len()).collect();
            order.sort_by_key(|&c| (std::cmp::Reverse(sizes[c]), c));
            let mut rename = vec![0usize; centroids.len()];
            for (new, &old) in order.iter().enumerate() {
                rename[old] = new;
            }
            let centroids = order.iter().map(|&c| centroids[c].clone()).collect();
            return (assignment.iter().map(|&a| rename[a]).collect(), centroids);
        };
        centroids.remove(small);
        assignment = points
            .iter()
            .zip(&assignment)
            .map(|(p, &a)| match a.cmp(&small) {
                std::cmp::Ordering::Equal => nearest(p, &centroids).0,
                std::cmp::Ordering::Greater => a - 1,
                std::cmp::Ordering::Less => a,
            })
            .collect();
    }
}

/// Top label terms per topic by class-based TF-IDF times concentration.
fn labels(
    groups: &[Vec<&Vec<String>>],
    how_many: usize,
    surface: &dyn Fn(&str) -> String,
) -> Vec<Vec<String>> {
    let mut total: HashMap<&str, f32> = HashMap::new();
    let per_group: Vec<HashMap<&str, f32>> = groups
        .iter()
        .map(|docs| {
            let mut counts: HashMap<&str, f32> = HashMap::new();
            for terms in docs {
                for t in terms.iter() {
                    *counts.entry(t.as_str()).or_default() += 1.0;
                }
            }
            for (t, c) in &counts {
                *total.entry(t).or_default() += c;
            }
            counts
        })
        .collect();
    let avg_words = total.values().sum::<f32>() / groups.len().max(1) as f32;
    per_group
        .iter()
        .map(|counts| {
            let size: f32 = counts.values().sum::<f32>().max(1.0);
            let mut scored: Vec<(&str, f32)> = counts
                .iter()
                .filter(|&(_, &c)| c >= 3.0)
                .map(|(&t, &c)| {
                    let f = total[t];
                    let bigram_bonus = if t.contains(' ') { 1.5 } else { 1.0 };
                    (
                        t,
                        c / size * (1.0 + avg_words / f).ln() * (c / f).sqrt() * bigram_bonus,
                    )
                })
                .collect();
            scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
            let mut chosen: Vec<String> = Vec::new();
            let mut chosen_stems: Vec<&str> = Vec::new();
            for (t, _) in scored {
                // A word already inside a chosen phrase (or a phrase of chosen words) adds nothing.
                let overlaps = chosen_stems.iter().any(|c| {
                    c.split(' ').any(|w| w == t)
                        || t.split(' ').any(|w| w == *c)
                        || (t.contains(' ') && t.split(' ').all(|w| chosen_stems.contains(&w)))
                });
                if overlaps {
                    continue;
                }
                chosen_stems.push(t);
                chosen.push(surface(t));
                if chosen.len() == how_many {
                    break;
                }
            }
            chosen
        })
        .collect()
}

/// Fits topics over `papers` (`vectors[i]` is paper i's embedding vector).
pub fn fit(
    papers: &[Paper],
    vectors: &[Vec<f32>],
    params: TopicParams,
    on_step: &(dyn Fn(&str) + Sync),
) -> TopicModel {
    let started = Instant::now();
    let mut rng = Rng(params.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    on_step("terms");
    let (docs, vocabulary) = doc_terms(papers);
    on_step("lsa");
    let (rows, terms) = tfidf(&docs);
    let lsa_points = lsa(&rows, terms, params.lsa_dims, &mut rng);
    let points: Vec<Vec<f32>> = match params.representation {
        Representation::Lsa => lsa_points,
        Representation::Vectors => vectors.to_vec(),
        Representation::Both => lsa_points
            .iter()
            .zip(vectors)
            .map(|(a, b)| {
                let mut v: Vec<f32> = a.iter().chain(b).copied().collect();
                normalize(&mut v);
                v
            })
            .collect(),
    };
    on_step("clustering");
    let k = params
        .topics
        .unwrap_or_else(|| ((papers.len() as f64 / 15.0).sqrt().round() as usize).clamp(2, 60));
    let (assignment, centroids) = kmeans(&points, k, &mut rng);
    let (assignment, centroids) = dissolve_small(&points, assignment, centroids, params.min_size);
    on_step("labels");
    let model = describe(
        papers,
        vectors,
        &docs,
        &vocabulary,
        &points,
        &assignment,
        &centroids,
        params,
    );
    TopicModel {
        seconds: started.elapsed().as_secs_f64(),
        ..model
    }
}

#[allow(clippy::too_many_arguments)]
fn describe(
    papers: &[Paper],
    vectors: &[Vec<f32>],
    docs: &[DocTerms],
    vocabulary: &Vocabulary,
    points: &[Vec<f32>],
    assignment: &[usize],
    centroids: &[Vec<f32>],
    params: TopicParams,
) -> TopicModel {
    let k = centroids.len();
    let closeness: Vec<f32> = points
        .iter()
        .zip(assignment)
        .map(|(p, &a)| dot(p, &centroids[a]))
        .collect();
    let mean = closeness.iter().sum::<f32>() / closeness.len().max(1) as f32;
    let sd = (closeness.iter().map(|c| (c - mean).powi(2)).sum::<f32>()
        / closeness.len().max(1) as f32)
        .sqrt();
    // Far below the typical closeness: an outlier (shown as topic -1, its nearest topic kept).
    let outlier_below = mean - 2.0 * sd;
    let en_groups: Vec<Vec<&Vec<String>>> = (0..k)
        .map(|c| {
            docs.iter()
                .zip(assignment)
                .filter(|&(_, &a)| a == c)
                .map(|(d, _)| &d.en)
                .collect()
        })
        .collect();
    let zh_groups: Vec<Vec<&Vec<String>>> = (0..k)
        .map(|c| {
            docs.iter()
                .zip(assignment)
                .filter(|&(_, &a)| a == c)
                .map(|(d, _)| &d.zh)
                .collect()
        })
        .collect();
    let surface = |t: &str| {
        vocabulary
            .surface
            .get(t)
            .cloned()
            .unwrap_or_else(|| t.to_string())
    };
    let label_en = labels(&en_groups, 25, &surface);
    let label_zh = labels(&zh_groups, 25, &|t: &str| t.to_string());
    let topics = (0..k)
        .map(|c| {
            let mut members: Vec<usize> =
                (0..papers.len()).filter(|&i| assignment[i] == c).collect();
            members.sort_by(|&a, &b| closeness[b].total_cmp(&closeness[a]).then(a.cmp(&b)));
            let own: Vec<&[f32]> = members
                .iter()
                .filter_map(|&i| vectors.get(i).map(Vec::as_slice))
                .collect();
            Topic {
                id: c,
                size: members.len(),
                label_en: label_en[c].clone(),
                label_zh: label_zh[c].clone(),
                representative: members
                    .iter()
                    .take(3)
                    .map(|&i| papers[i].arxiv_id.clone())
                    .collect(),
                centroid: crate::embed::mean_direction(&own),
            }
        })
        .collect();
    let assignments = papers
        .iter()
        .enumerate()
        .map(|(i, p)| Assignment {
            arxiv_id: p.arxiv_id.clone(),
            topic: if closeness[i] < outlier_below {
                -1
            } else {
                assignment[i] as i64
            },
            nearest: assignment[i],
            closeness: closeness[i],
        })
        .collect();
    TopicModel {
        params,
        topics,
        assignments,
        seconds: 0.0,
    }
}

/// Assigns papers the model has not seen (indexed after the fit) to the topic whose embedding
/// centroid is nearest, keeping every existing topic, id and label. Returns whether any was added.
pub fn extend(model: &mut TopicModel, papers: &[Paper], vectors: &[Vec<f32>]) -> bool {
    let known: HashSet<&str> = model
        .assignments
        .iter()
        .map(|a| a.arxiv_id.as_str())
        .collect();
    let centroids: Vec<Vec<f32>> = model.topics.iter().map(|t| t.centroid.clone()).collect();
    let mut added = Vec::new();
    for (p, v) in papers.iter().zip(vectors) {
        if known.contains(p.arxiv_id.as_str()) || centroids.is_empty() {
            continue;
        }
        let (best, closeness) = nearest(v, &centroids);
        let id = model.topics[best].id;
        added.push(Assignment {
            arxiv_id: p.arxiv_id.clone(),
            topic: id as i64,
            nearest: id,
            closeness,
        });
    }
    for a in &added {
        if let Some(t) = model.topics.iter_mut().find(|t| t.id == a.nearest) {
            t.size += 1;
        }
    }
    let changed = !added.is_empty();
    model.assignments.extend(added);
    changed
}

/// The reference labels for NMI/ARI: a paper's primary category where the digest names it,
/// grouped as the sample listings are (cs.* and stat.* by category, other archives whole).
pub fn category_group(p: &Paper) -> Option<String> {
    let category = p.category.clone()?;
    let archive = category.split('.').next().unwrap_or_default().to_string();
    Some(if archive == "cs" || archive == "stat" {
        category
    } else {
        archive
    })
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

pub fn quality(papers: &[Paper], model: &TopicModel) -> TopicQuality {
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
        nmi: crate::eval::nmi(&truth, &pred),
        ari: crate::eval::ari(&truth, &pred),
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

/// Paper counts per topic and month (`YYYY-MM` of first submission), outliers by nearest topic.
pub fn over_time(papers: &[Paper], model: &TopicModel) -> BTreeMap<usize, BTreeMap<String, usize>> {
    let mut table: BTreeMap<usize, BTreeMap<String, usize>> = BTreeMap::new();
    for (p, a) in papers.iter().zip(&model.assignments) {
        if let Some((y, m)) = p.year_month() {
            *table
                .entry(a.nearest)
                .or_default()
                .entry(format!("{y}-{m:02}"))
                .or_default() += 1;
        }
    }
    table
}

/// Gives refitted topics the ids of the old topics they continue: greedily by embedding-centroid
/// cosine (at least `min_cosine`), largest new topics first; unmatched topics get fresh ids.
pub fn keep_ids(old: &TopicModel, new: &mut TopicModel, min_cosine: f32) {
    let mut order: Vec<usize> = (0..new.topics.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(new.topics[i].size));
    let mut taken: HashSet<usize> = HashSet::new();
    let mut rename: HashMap<usize, usize> = HashMap::new();
    for &i in &order {
        let best = old
            .topics
            .iter()
            .filter(|t| !taken.contains(&t.id))
            .map(|t| (t.id, dot(&t.centroid, &new.topics[i].centroid)))
            .filter(|&(_, c)| c >= min_cosine)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((id, _)) = best {
            taken.insert(id);
            rename.insert(new.topics[i].id, id);
        }
    }
    let mut next = old.topics.iter().map(|t| t.id + 1).max().unwrap_or(0);
    for &i in &order {
        let current = new.topics[i].id;
        if let std::collections::hash_map::Entry::Vacant(slot) = rename.entry(current) {
            while taken.contains(&next) {
                next += 1;
            }
            slot.insert(next);
            taken.insert(next);
        }
    }
    for t in &mut new.topics {
        t.id = rename[&t.id];
    }
    for a in &mut new.assignments {
        a.nearest = rename[&a.nearest];
        if a.topic >= 0 {
            a.topic = a.nearest as i64;
        }
    }
}

/// A coarser level: topics are merged pairwise by Ward's criterion on their embedding centroids
/// (closeness weighted by size, so one broad topic does not swallow the rest, as plain centroid
/// linkage did: 78% of papers in one topic) until `target` remain; labels and representatives
/// are recomputed for the merged topics.
pub fn coarsen(
    model: &TopicModel,
    papers: &[Paper],
    vectors: &[Vec<f32>],
    target: usize,
) -> TopicModel {
    let mut groups: Vec<(Vec<usize>, Vec<f32>, usize)> = model
        .topics
        .iter()
        .map(|t| (vec![t.id], t.centroid.clone(), t.size))
        .collect();
    while groups.len() > target.max(1) {
        let mut best = (0, 1, f32::INFINITY);
        for i in 0..groups.len() {
            for j in i + 1..groups.len() {
                let (ni, nj) = (groups[i].2 as f32, groups[j].2 as f32);
                let cost = ni * nj / (ni + nj) * 2.0 * (1.0 - dot(&groups[i].1, &groups[j].1));
                if cost < best.2 {
                    best = (i, j, cost);
                }
            }
        }
        let (i, j, _) = best;
        let (ids, centroid, size) = groups.remove(j);
        let merged = &mut groups[i];
        let total = (merged.2 + size) as f32;
        let mut c: Vec<f32> = merged
            .1
            .iter()
            .zip(&centroid)
            .map(|(a, b)| (a * merged.2 as f32 + b * size as f32) / total)
            .collect();
        normalize(&mut c);
        merged.0.extend(ids);
        merged.1 = c;
        merged.2 += size;
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.2));
    let coarse_of: HashMap<usize, usize> = groups
        .iter()
        .enumerate()
        .flat_map(|(c, g)| g.0.iter().map(move |&id| (id, c)))
        .collect();
    let assignment: Vec<usize> = model
        .assignments
        .iter()
        .map(|a| coarse_of.get(&a.nearest).copied().unwrap_or(0))
        .collect();
    let centroids: Vec<Vec<f32>> = groups.into_iter().map(|g| g.1).collect();
    // Closeness at this level is measured in the embedding space the merge used.
    let points: Vec<Vec<f32>> = vectors.to_vec();
    let (docs, vocabulary) = doc_terms(papers);
    describe(
        papers,
        vectors,
        &docs,
        &vocabulary,
        &points,
        &assignment,
        &centroids,
        model.params,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paper(id: usize, en: &str, zh: &str) -> Paper {
        Paper {
            arxiv_id: format!("2401.{id:05}"),
            title_en: en.to_string(),
            abstract_en: format!("{en} {en}"),
            title_zh: zh.to_string(),
            summary_zh: zh.to_string(),
            abstract_zh: zh.to_string(),
            ..Paper::default()
        }
    }

    fn two_topic_collection() -> Vec<Paper> {
        let mut papers = Vec::new();
        for i in 0..20 {
            papers.push(paper(
                i,
                &format!("Hallucination detection benchmark for language generation variant {i}"),
                "大模型幻觉检测基准与评估",
            ));
            papers.push(paper(
                100 + i,
                &format!(
                    "Portfolio optimization with volatility forecasting for stock markets case {i}"
                ),
                "股票市场波动率预测与投资组合优化",
            ));
        }
        papers
    }

    fn fit_two_topics() -> (Vec<Paper>, TopicModel) {
        let papers = two_topic_collection();
        let vectors = vec![vec![1.0f32, 0.0]; papers.len()];
        let params = TopicParams {
            topics: Some(2),
            min_size: 2,
            ..TopicParams::default()
        };
        let model = fit(&papers, &vectors, params, &|_| {});
        (papers, model)
    }

    #[test]
    fn two_obvious_topics_are_found_and_labelled_with_their_own_words() {
        let (_, model) = fit_two_topics();
        assert_eq!(model.topics.len(), 2);
        let topic_of = |id: &str| {
            model
                .assignments
                .iter()
                .find(|a| a.arxiv_id == id)
                .map(|a| a.nearest)
        };
        assert_eq!(topic_of("2401.00000"), topic_of("2401.00019"));
        assert_ne!(topic_of("2401.00000"), topic_of("2401.00100"));
        let hallucination = topic_of("2401.00000").unwrap_or(0);
        let finance = 1 - hallucination;
        let en = model.topics[hallucination].label_en.join(" ");
        assert!(en.contains("hallucination"), "{en}");
        assert!(
            model.topics[finance]
                .label_en
                .join(" ")
                .contains("portfolio")
        );
        assert!(
            model.topics[hallucination]
                .label_zh
                .iter()
                .any(|w| w.contains("幻觉")),
            "{:?}",
            model.topics[hallucination].label_zh
        );
        for t in &model.topics {
            for w in t.label_en.iter().chain(&t.label_zh) {
                assert!(
                    !LABEL_STOP_EN.split_whitespace().any(|s| s == w),
                    "stop word {w}"
                );
                assert!(!w.chars().all(|c| c.is_ascii_digit()), "number {w}");
            }
        }
    }

    #[test]
    fn refitted_topics_keep_the_ids_of_the_topics_they_continue() {
        let topic = |id, centroid: Vec<f32>, size| Topic {
            id,
            size,
            label_en: vec![],
            label_zh: vec![],
            representative: vec![],
            centroid,
        };
        let old = TopicModel {
            params: TopicParams::default(),
            topics: vec![topic(0, vec![1.0, 0.0], 10), topic(1, vec![0.0, 1.0], 5)],
            assignments: vec![],
            seconds: 0.0,
        };
        let mut new = TopicModel {
            topics: vec![
                topic(0, vec![0.0, 1.0], 9),
                topic(1, vec![0.6, 0.8], 8),
                topic(2, vec![1.0, 0.0], 3),
            ],
            ..old.clone()
        };
        keep_ids(&old, &mut new, 0.9);
        let ids: Vec<usize> = new.topics.iter().map(|t| t.id).collect();
        assert_eq!(
            ids,
            vec![1, 2, 0],
            "continued topics keep their ids; the new one gets a fresh id"
        );
    }

    #[test]
    fn the_same_input_gives_the_same_topics() {
        let (_, a) = fit_two_topics();
        let (_, b) = fit_two_topics();
        assert_eq!(a.topics, b.topics);
        assert_eq!(a.assignments, b.assignments);
    }
}
