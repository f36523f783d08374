//! Terms: the words of each paper that topics are clustered and labelled by.
//!
//! English goes through the analyzer's stemmer (unigrams and adjacent-pair bigrams), each stem
//! remembered in its commonest surface form so labels read as words; Chinese through jieba, keeping
//! words of two or more Han characters. Titles count twice. Function words, digest boilerplate and
//! words every field uses are dropped here, as they are never a label. The TF-IDF rows keep terms
//! in 3..=N/2 documents only, and at most the [`MAX_TERMS`] commonest of them.
//!
//! Terms are interned: a paper's terms are ids into one [`Vocabulary`]. At 100k papers the
//! papers' terms as strings took ~6 GB; as ids they take a few hundred MB. Papers are read in
//! chunks on every core, each chunk interning into its own table, and the tables are then merged
//! in chunk order, so ids never depend on the thread count.

use std::collections::{HashMap, HashSet};

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

/// Most columns the TF-IDF matrix (and so the LSA) keeps: the terms in the most documents.
/// Rarer terms add little to a 100-dimension LSA but grow its cost with the collection (data/'s
/// 8,320 papers keep ~30k terms; BENCHMARKS.md "Topics" measures the cap).
pub(super) const MAX_TERMS: usize = 40_000;

/// A paper's terms for clustering and labels, as ids into its [`Vocabulary`].
pub(crate) struct DocTerms {
    /// Stemmed English unigrams and bigrams ("hallucin", "languag model").
    pub(crate) en: Vec<u32>,
    /// Chinese words of two or more Han characters.
    pub(crate) zh: Vec<u32>,
}

/// Every term of the collection, by id, and how the English ones looked in the text.
pub(crate) struct Vocabulary {
    /// id -> English stem, stem bigram or Chinese word.
    terms: Vec<String>,
    /// id -> commonest surface form of an English term.
    surface: Vec<Option<String>>,
}

impl Vocabulary {
    /// Terms known.
    pub(crate) fn len(&self) -> usize {
        self.terms.len()
    }

    /// The term `id` stands for.
    pub(crate) fn term(&self, id: u32) -> &str {
        &self.terms[id as usize]
    }

    /// How the term `id` is shown: an English stem in its commonest surface form ("hallucin" as
    /// "hallucination"), a Chinese word as itself.
    pub(crate) fn shown(&self, id: u32) -> &str {
        self.surface[id as usize]
            .as_deref()
            .unwrap_or_else(|| self.term(id))
    }
}

/// Term -> id, ids in order of first sight.
#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
}

impl Interner {
    fn id(&mut self, term: &str) -> u32 {
        if let Some(&id) = self.ids.get(term) {
            return id;
        }
        self.id_owned(term.to_string())
    }

    fn id_owned(&mut self, term: String) -> u32 {
        let next = self.ids.len() as u32;
        *self.ids.entry(term).or_insert(next)
    }

    /// The terms by id.
    fn into_terms(self) -> Vec<String> {
        let mut terms = vec![String::new(); self.ids.len()];
        for (term, id) in self.ids {
            terms[id as usize] = term;
        }
        terms
    }
}

/// Surface form -> occurrences, by term id (empty for Chinese words).
type SurfaceCounts = Vec<HashMap<String, u32>>;

fn count_surface(surfaces: &mut SurfaceCounts, id: u32, form: &str) {
    let id = id as usize;
    if surfaces.len() <= id {
        surfaces.resize_with(id + 1, HashMap::new);
    }
    match surfaces[id].get_mut(form) {
        Some(count) => *count += 1,
        None => {
            surfaces[id].insert(form.to_string(), 1);
        }
    }
}

/// One chunk's papers, with ids into the chunk's own table.
struct Chunk {
    terms: Vec<String>,
    surfaces: SurfaceCounts,
    docs: Vec<DocTerms>,
}

/// The words of one chunk's text, interned into its table.
struct ChunkTerms<'a> {
    stop_en: &'a HashSet<String>,
    stop_zh: &'a HashSet<String>,
    interner: Interner,
    surfaces: SurfaceCounts,
}

impl ChunkTerms<'_> {
    fn english(&mut self, analyzer: &mut tantivy::tokenizer::TextAnalyzer, text: &str) -> Vec<u32> {
        use tantivy::tokenizer::TokenStream;
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        let mut previous: Option<(String, String)> = None;
        let (mut bigram, mut bigram_surface) = (String::new(), String::new());
        while stream.advance() {
            let token = stream.token();
            let surface = text
                .get(token.offset_from..token.offset_to)
                .unwrap_or_default()
                .to_lowercase();
            let keep = token.text.len() > 2
                && token.text.chars().any(char::is_alphabetic)
                && !self.stop_en.contains(&surface)
                && !self.stop_en.contains(&token.text);
            if !keep {
                previous = None;
                continue;
            }
            let id = self.interner.id(&token.text);
            count_surface(&mut self.surfaces, id, &surface);
            if let Some((stem, prev_surface)) = &previous {
                bigram.clear();
                bigram.push_str(stem);
                bigram.push(' ');
                bigram.push_str(&token.text);
                bigram_surface.clear();
                bigram_surface.push_str(prev_surface);
                bigram_surface.push(' ');
                bigram_surface.push_str(&surface);
                let pair = self.interner.id(&bigram);
                count_surface(&mut self.surfaces, pair, &bigram_surface);
                out.push(pair);
            }
            out.push(id);
            previous = Some((token.text.clone(), surface));
        }
        out
    }

    fn chinese(&mut self, text: &str) -> Vec<u32> {
        analyze::chinese_words(text)
            .into_iter()
            .filter(|w| {
                w.chars().count() >= 2
                    && w.chars().all(crate::text::is_cjk)
                    && !self.stop_zh.contains(w)
            })
            .map(|w| self.interner.id_owned(w))
            .collect()
    }
}

/// Papers read together, each chunk on one core with its own term table: large enough that
/// merging the tables stays small beside reading the text.
const CHUNK: usize = 2048;

/// Every paper's terms, in paper order, and the vocabulary they index.
pub(crate) fn doc_terms(papers: &[Paper]) -> (Vec<DocTerms>, Vocabulary) {
    let stop_en = stop_set(LABEL_STOP_EN);
    let stop_zh = stop_set(LABEL_STOP_ZH);
    let chunks: Vec<Chunk> = papers
        .par_chunks(CHUNK)
        .map_init(analyze::english_analyzer, |analyzer, chunk| {
            let mut words = ChunkTerms {
                stop_en: &stop_en,
                stop_zh: &stop_zh,
                interner: Interner::default(),
                surfaces: Vec::new(),
            };
            let docs = chunk
                .iter()
                .map(|p| {
                    let english = format!("{}. {}. {}", p.title_en, p.title_en, p.abstract_en);
                    let chinese = format!(
                        "{}。{}。{}。{}",
                        p.title_zh, p.title_zh, p.summary_zh, p.abstract_zh
                    );
                    DocTerms {
                        en: words.english(analyzer, &english),
                        zh: words.chinese(&chinese),
                    }
                })
                .collect();
            Chunk {
                terms: words.interner.into_terms(),
                surfaces: words.surfaces,
                docs,
            }
        })
        .collect();
    merge(chunks)
}

/// One vocabulary from the chunks' tables, ids given in chunk order.
fn merge(chunks: Vec<Chunk>) -> (Vec<DocTerms>, Vocabulary) {
    let mut global = Interner::default();
    let mut forms: SurfaceCounts = Vec::new();
    let mut docs = Vec::new();
    for chunk in chunks {
        let remap: Vec<u32> = chunk
            .terms
            .into_iter()
            .map(|t| global.id_owned(t))
            .collect();
        for (local, counts) in chunk.surfaces.into_iter().enumerate() {
            for (form, n) in counts {
                let id = remap[local] as usize;
                if forms.len() <= id {
                    forms.resize_with(id + 1, HashMap::new);
                }
                *forms[id].entry(form).or_default() += n;
            }
        }
        let mut chunk_docs = chunk.docs;
        chunk_docs.par_iter_mut().for_each(|d| {
            for id in d.en.iter_mut().chain(d.zh.iter_mut()) {
                *id = remap[*id as usize];
            }
        });
        docs.extend(chunk_docs);
    }
    let terms = global.into_terms();
    forms.resize_with(terms.len(), HashMap::new);
    let surface = forms
        .into_par_iter()
        .map(|counts| {
            counts
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .map(|(form, _)| form)
        })
        .collect();
    (docs, Vocabulary { terms, surface })
}

/// Sparse TF-IDF rows (sublinear tf, L2-normalised) over the terms in 3..=N/2 documents, at most
/// `max_terms` of them (those in the most documents); columns are in the terms' alphabetical
/// order. Returns the rows and the number of columns.
pub(super) fn tfidf(
    docs: &[DocTerms],
    vocabulary: &Vocabulary,
    max_terms: usize,
) -> (Vec<Vec<(u32, f32)>>, usize) {
    let n = docs.len();
    let mut df = vec![0u32; vocabulary.len()];
    let mut last_doc = vec![u32::MAX; vocabulary.len()];
    for (d, doc) in docs.iter().enumerate() {
        for &t in doc.en.iter().chain(&doc.zh) {
            if last_doc[t as usize] != d as u32 {
                last_doc[t as usize] = d as u32;
                df[t as usize] += 1;
            }
        }
    }
    let mut kept: Vec<u32> = (0..vocabulary.len() as u32)
        .filter(|&t| df[t as usize] >= 3 && (df[t as usize] as usize) * 2 <= n)
        .collect();
    if kept.len() > max_terms {
        kept.sort_by(|&a, &b| {
            df[b as usize]
                .cmp(&df[a as usize])
                .then_with(|| vocabulary.term(a).cmp(vocabulary.term(b)))
        });
        kept.truncate(max_terms);
    }
    kept.sort_by(|&a, &b| vocabulary.term(a).cmp(vocabulary.term(b)));
    let mut column = vec![u32::MAX; vocabulary.len()];
    for (c, &t) in kept.iter().enumerate() {
        column[t as usize] = c as u32;
    }
    let rows = docs
        .par_iter()
        .map(|d| {
            let mut columns: Vec<u32> =
                d.en.iter()
                    .chain(&d.zh)
                    .map(|&t| column[t as usize])
                    .filter(|&c| c != u32::MAX)
                    .collect();
            columns.sort_unstable();
            let mut row: Vec<(u32, f32)> = columns
                .chunk_by(|a, b| a == b)
                .map(|run| {
                    let idf = (n as f32 / df[kept[run[0] as usize] as usize] as f32).ln();
                    (run[0], (1.0 + (run.len() as f32).ln()) * idf)
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
    (rows, kept.len())
}
