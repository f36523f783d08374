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
//! in chunk order, so ids never depend on the thread count. Surface forms are found afterwards,
//! for the terms a label shows only.

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

/// Every term of the collection, by id.
pub(crate) struct Vocabulary {
    /// id -> English stem, stem bigram or Chinese word.
    terms: Vec<String>,
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

    /// How the terms `ids` are shown: English stems in their commonest surface form in
    /// `papers` ("hallucin" as "hallucination"), Chinese words as themselves. Surface forms are
    /// counted for the terms asked for only, in a second reading of the English text: counted
    /// for every term while the terms were read, they took most of the topic fit's memory
    /// (a table per term: ~1 GB at 100k papers).
    pub(crate) fn shown_forms(&self, papers: &[Paper], ids: &[u32]) -> Shown<'_> {
        let wanted: HashMap<&str, u32> = ids.iter().map(|&id| (self.term(id), id)).collect();
        let stop_en = stop_set(LABEL_STOP_EN);
        let counts = papers
            .par_chunks(CHUNK)
            .map_init(analyze::english_analyzer, |analyzer, chunk| {
                let mut counts: HashMap<u32, HashMap<String, u32>> = HashMap::new();
                let mut bigram = String::new();
                for p in chunk {
                    let text = english_text(p);
                    english_tokens(analyzer, &text, &stop_en, |previous, stem, surface| {
                        let mut count = |id: u32, form: String| {
                            *counts.entry(id).or_default().entry(form).or_default() += 1;
                        };
                        if let Some(&id) = wanted.get(stem) {
                            count(id, surface.to_string());
                        }
                        if let Some((prev_stem, prev_surface)) = previous {
                            bigram.clear();
                            bigram.push_str(prev_stem);
                            bigram.push(' ');
                            bigram.push_str(stem);
                            if let Some(&id) = wanted.get(bigram.as_str()) {
                                count(id, format!("{prev_surface} {surface}"));
                            }
                        }
                    });
                }
                counts
            })
            .reduce(HashMap::new, |mut all, part| {
                for (id, forms) in part {
                    let into = all.entry(id).or_default();
                    for (form, n) in forms {
                        *into.entry(form).or_default() += n;
                    }
                }
                all
            });
        let forms = counts
            .into_iter()
            .filter_map(|(id, forms)| {
                forms
                    .into_iter()
                    .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                    .map(|(form, _)| (id, form))
            })
            .collect();
        Shown {
            vocabulary: self,
            forms,
        }
    }
}

/// Terms as they are shown (see [`Vocabulary::shown_forms`]).
pub(crate) struct Shown<'v> {
    vocabulary: &'v Vocabulary,
    /// id -> commonest surface form, for the English terms asked for.
    forms: HashMap<u32, String>,
}

impl Shown<'_> {
    /// How the term `id` is shown (its term when it was not asked for, or has no surface form).
    pub(crate) fn of(&self, id: u32) -> &str {
        self.forms
            .get(&id)
            .map_or_else(|| self.vocabulary.term(id), String::as_str)
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

/// One chunk's papers, with ids into the chunk's own table.
struct Chunk {
    terms: Vec<String>,
    docs: Vec<DocTerms>,
}

/// The English text of a paper that its terms come from: titles count twice.
fn english_text(p: &Paper) -> String {
    format!("{}. {}. {}", p.title_en, p.title_en, p.abstract_en)
}

/// Calls `visit(previous, stem, surface)` for every English token kept as a term, in order:
/// its stem, its lowercase surface form and, when the token before it was kept too, that
/// token's stem and surface (the two make a bigram).
fn english_tokens(
    analyzer: &mut tantivy::tokenizer::TextAnalyzer,
    text: &str,
    stop_en: &HashSet<String>,
    mut visit: impl FnMut(Option<(&str, &str)>, &str, &str),
) {
    use tantivy::tokenizer::TokenStream;
    let mut stream = analyzer.token_stream(text);
    let mut previous: Option<(String, String)> = None;
    while stream.advance() {
        let token = stream.token();
        let surface = text
            .get(token.offset_from..token.offset_to)
            .unwrap_or_default()
            .to_lowercase();
        let keep = token.text.len() > 2
            && token.text.chars().any(char::is_alphabetic)
            && !stop_en.contains(&surface)
            && !stop_en.contains(&token.text);
        if !keep {
            previous = None;
            continue;
        }
        visit(
            previous.as_ref().map(|(s, f)| (s.as_str(), f.as_str())),
            &token.text,
            &surface,
        );
        previous = Some((token.text.clone(), surface));
    }
}

/// The words of one chunk's text, interned into its table.
struct ChunkTerms<'a> {
    stop_en: &'a HashSet<String>,
    stop_zh: &'a HashSet<String>,
    interner: Interner,
}

impl ChunkTerms<'_> {
    fn english(&mut self, analyzer: &mut tantivy::tokenizer::TextAnalyzer, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        let mut bigram = String::new();
        let interner = &mut self.interner;
        english_tokens(analyzer, text, self.stop_en, |previous, stem, _| {
            let id = interner.id(stem);
            if let Some((prev_stem, _)) = previous {
                bigram.clear();
                bigram.push_str(prev_stem);
                bigram.push(' ');
                bigram.push_str(stem);
                out.push(interner.id(&bigram));
            }
            out.push(id);
        });
        out
    }

    fn chinese(&mut self, text: &str) -> Vec<u32> {
        analyze::chinese_words(text)
            .into_iter()
            .filter(|w| {
                w.chars().count() >= 2
                    && w.chars().all(crate::text::is_cjk)
                    && !self.stop_zh.contains(*w)
            })
            .map(|w| self.interner.id(w))
            .collect()
    }
}

/// Papers read together, each chunk on one core with its own term table: large enough that
/// merging the tables stays small beside reading the text.
const CHUNK: usize = 2048;

/// Chunks read before their tables are merged into the vocabulary: the chunks' tables repeat
/// the common terms, so holding all of them at once cost more than the vocabulary itself.
const WAVE: usize = 8;

/// Every paper's terms, in paper order, and the vocabulary they index.
pub(crate) fn doc_terms(papers: &[Paper]) -> (Vec<DocTerms>, Vocabulary) {
    let stop_en = stop_set(LABEL_STOP_EN);
    let stop_zh = stop_set(LABEL_STOP_ZH);
    let mut vocabulary = Interner::default();
    let mut docs = Vec::with_capacity(papers.len());
    for wave in papers.chunks(CHUNK * WAVE) {
        let chunks: Vec<Chunk> = wave
            .par_chunks(CHUNK)
            .map_init(analyze::english_analyzer, |analyzer, chunk| {
                let mut words = ChunkTerms {
                    stop_en: &stop_en,
                    stop_zh: &stop_zh,
                    interner: Interner::default(),
                };
                let docs = chunk
                    .iter()
                    .map(|p| {
                        let chinese = format!(
                            "{}。{}。{}。{}",
                            p.title_zh, p.title_zh, p.summary_zh, p.abstract_zh
                        );
                        DocTerms {
                            en: words.english(analyzer, &english_text(p)),
                            zh: words.chinese(&chinese),
                        }
                    })
                    .collect();
                Chunk {
                    terms: words.interner.into_terms(),
                    docs,
                }
            })
            .collect();
        for chunk in chunks {
            merge(&mut vocabulary, chunk, &mut docs);
        }
    }
    let terms = vocabulary.into_terms();
    (docs, Vocabulary { terms })
}

/// Adds a chunk's table to the vocabulary (new terms get the next ids, in the chunk's order)
/// and its papers, their ids mapped, to `docs`.
fn merge(vocabulary: &mut Interner, chunk: Chunk, docs: &mut Vec<DocTerms>) {
    let remap: Vec<u32> = chunk
        .terms
        .into_iter()
        .map(|t| vocabulary.id_owned(t))
        .collect();
    let mut chunk_docs = chunk.docs;
    chunk_docs.par_iter_mut().for_each(|d| {
        for id in d.en.iter_mut().chain(d.zh.iter_mut()) {
            *id = remap[*id as usize];
        }
    });
    docs.extend(chunk_docs);
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
