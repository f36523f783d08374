//! Terms: the words of each paper that topics are clustered and labelled by.
//!
//! English goes through the analyzer's stemmer (unigrams and adjacent-pair bigrams), each stem
//! remembered in its commonest surface form so labels read as words; Chinese through jieba, keeping
//! words of two or more Han characters. Titles count twice. Function words, digest boilerplate and
//! words every field uses are dropped here, as they are never a label. The TF-IDF rows keep terms
//! in 3..=N/2 documents only.

use std::collections::{BTreeMap, HashMap, HashSet};

use rayon::prelude::*;

use crate::analyze;
use crate::paper::Paper;

/// Function words, digest boilerplate and words every field uses: never a label.
pub(super) const LABEL_STOP_EN: &str = "a an the of in on for to and or is are be can how what why which do does did \
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
pub(crate) struct DocTerms {
    /// Stemmed English unigrams and bigrams ("hallucin", "languag model").
    pub(crate) en: Vec<String>,
    pub(crate) zh: Vec<String>,
}

/// term -> surface form -> occurrences.
type SurfaceCounts = HashMap<String, HashMap<String, u32>>;

/// What the English stems looked like in the text.
pub(crate) struct Vocabulary {
    /// stem -> commonest surface form.
    pub(crate) surface: HashMap<String, String>,
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

/// Every paper's terms, in paper order, and the vocabulary's surface forms.
pub(crate) fn doc_terms(papers: &[Paper]) -> (Vec<DocTerms>, Vocabulary) {
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
                    w.chars().count() >= 2
                        && w.chars().all(crate::text::is_cjk)
                        && !stop_zh.contains(w)
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

/// Sparse TF-IDF rows (sublinear tf, L2-normalised) over terms in 3..=N/2 documents.
pub(super) fn tfidf(docs: &[DocTerms]) -> (Vec<Vec<(u32, f32)>>, usize) {
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
