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

use std::collections::HashMap;

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use tantivy::tokenizer::{TextAnalyzer, TokenStream};

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

type StopWords = FxHashSet<&'static str>;

fn stop_set(list: &'static str) -> StopWords {
    list.split_whitespace().collect()
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
pub(crate) struct Vocabulary<'p> {
    /// id -> English stem, stem bigram or Chinese word.
    terms: Vec<String>,
    /// What the English analyzer made of each word of the papers' English text (stems as ids):
    /// the surface forms are counted without analysing the words again.
    words: FxHashMap<&'p str, Word<u32>>,
}

impl Vocabulary<'_> {
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
        let wanted = Wanted::new(self, ids);
        let stop_en = stop_set(LABEL_STOP_EN);
        let counts = papers
            .par_chunks(CHUNK)
            .map_init(analyze::english_analyzer, |analyzer, chunk| {
                wanted.count_forms(self, analyzer, &stop_en, chunk)
            })
            .reduce(FxHashMap::default, |mut all, part| {
                for (key, n) in part {
                    *all.entry(key).or_default() += n;
                }
                all
            });
        let mut best: FxHashMap<u32, (String, u32)> = FxHashMap::default();
        for ((id, form), n) in counts {
            let better = best
                .get(&id)
                .is_none_or(|(f, m)| n.cmp(m).then(f.cmp(&form)).is_gt());
            if better {
                best.insert(id, (form, n));
            }
        }
        Shown {
            vocabulary: self,
            forms: best.into_iter().map(|(id, (form, _))| (id, form)).collect(),
        }
    }
}

/// The English terms whose surface forms are counted, by their stems: a word is looked up once
/// per chunk, and a pair of words by the small indexes of their stems, not by a string built
/// for every pair.
struct Wanted {
    /// Stem -> its index here, for every stem a wanted term is made of.
    stems: FxHashMap<String, u32>,
    /// Stem index -> the wanted term that is that stem alone.
    single: Vec<Option<u32>>,
    /// (first stem, second stem) -> the wanted bigram.
    pairs: FxHashMap<(u32, u32), u32>,
}

/// A chunk's count of one surface form of a wanted term: (term, first word's form, second
/// word's form or `NO_FORM` for a single word); forms index the chunk's own list.
type FormKey = (u32, u32, u32);
const NO_FORM: u32 = u32::MAX;

impl Wanted {
    fn new(vocabulary: &Vocabulary, ids: &[u32]) -> Wanted {
        let mut wanted = Wanted {
            stems: FxHashMap::default(),
            single: Vec::new(),
            pairs: FxHashMap::default(),
        };
        for &id in ids {
            let term = vocabulary.term(id);
            match term.split_once(' ') {
                Some((a, b)) => {
                    let pair = (wanted.stem(a), wanted.stem(b));
                    wanted.pairs.entry(pair).or_insert(id);
                }
                None => {
                    let s = wanted.stem(term) as usize;
                    wanted.single[s].get_or_insert(id);
                }
            }
        }
        wanted
    }

    fn stem(&mut self, stem: &str) -> u32 {
        if let Some(&s) = self.stems.get(stem) {
            return s;
        }
        let s = self.single.len() as u32;
        self.stems.insert(stem.to_string(), s);
        self.single.push(None);
        s
    }

    /// Surface form counts of the wanted terms in one chunk's English text, forms as strings.
    fn count_forms(
        &self,
        vocabulary: &Vocabulary,
        analyzer: &mut TextAnalyzer,
        stop_en: &StopWords,
        chunk: &[Paper],
    ) -> FxHashMap<(u32, String), u32> {
        // A kept word: its stem's index here (if a wanted term uses it) and its form's index.
        let mut words: FxHashMap<&str, Word<(Option<u32>, u32)>> = FxHashMap::default();
        let mut forms: Vec<String> = Vec::new();
        let mut counts: FxHashMap<FormKey, u32> = FxHashMap::default();
        for p in chunk {
            kept_words(
                &english_parts(p),
                &mut words,
                &mut forms,
                |forms, word| {
                    let mut stem_of = |stem: &str| match self.stems.get(stem) {
                        Some(&s) => {
                            forms.push(word.to_lowercase());
                            (Some(s), forms.len() as u32 - 1)
                        }
                        None => (None, NO_FORM),
                    };
                    match vocabulary.words.get(word) {
                        Some(&verdict) => verdict.map(|id| stem_of(vocabulary.term(id))),
                        None => {
                            analyse_english(analyzer, stop_en, word).map(|(stem, _)| stem_of(&stem))
                        }
                    }
                },
                |_, previous, (stem, form)| {
                    let Some(stem) = stem else { return };
                    if let Some(id) = self.single[stem as usize] {
                        *counts.entry((id, form, NO_FORM)).or_default() += 1;
                    }
                    if let Some((Some(prev), prev_form)) = previous
                        && let Some(&id) = self.pairs.get(&(prev, stem))
                    {
                        *counts.entry((id, prev_form, form)).or_default() += 1;
                    }
                },
            );
        }
        let mut out: FxHashMap<(u32, String), u32> = FxHashMap::default();
        for ((id, a, b), n) in counts {
            let form = if b == NO_FORM {
                forms[a as usize].clone()
            } else {
                format!("{} {}", forms[a as usize], forms[b as usize])
            };
            *out.entry((id, form)).or_default() += n;
        }
        out
    }
}

/// Terms as they are shown (see [`Vocabulary::shown_forms`]).
pub(crate) struct Shown<'v> {
    vocabulary: &'v Vocabulary<'v>,
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

/// A term as one chunk's table holds it.
enum Term {
    /// An English stem or a Chinese word.
    Word(String),
    /// An English bigram, by the ids of its two stems (which come before it).
    Pair(u32, u32),
}

/// Terms -> ids, ids in order of first sight. Bigrams are interned as pairs of the stems' ids:
/// building each pair's string to look it up was most of the interning's cost.
#[derive(Default)]
struct Interner {
    words: FxHashMap<String, u32>,
    pairs: FxHashMap<(u32, u32), u32>,
}

impl Interner {
    fn len(&self) -> u32 {
        (self.words.len() + self.pairs.len()) as u32
    }

    /// The id of `word`, and whether it is new.
    fn word(&mut self, word: &str) -> (u32, bool) {
        if let Some(&id) = self.words.get(word) {
            return (id, false);
        }
        let id = self.len();
        self.words.insert(word.to_string(), id);
        (id, true)
    }

    /// The id of the bigram of the terms `first` and `second`, and whether it is new.
    fn pair(&mut self, first: u32, second: u32) -> (u32, bool) {
        let next = self.len();
        let id = *self.pairs.entry((first, second)).or_insert(next);
        (id, id == next)
    }
}

/// A chunk's term table: its interner and its terms in id order.
#[derive(Default)]
struct ChunkTable {
    interner: Interner,
    terms: Vec<Term>,
}

impl ChunkTable {
    fn word(&mut self, word: &str) -> u32 {
        let (id, new) = self.interner.word(word);
        if new {
            self.terms.push(Term::Word(word.to_string()));
        }
        id
    }

    fn pair(&mut self, first: u32, second: u32) -> u32 {
        let (id, new) = self.interner.pair(first, second);
        if new {
            self.terms.push(Term::Pair(first, second));
        }
        id
    }
}

/// One chunk's papers, with ids into the chunk's own table.
struct Chunk<'t> {
    terms: Vec<Term>,
    docs: Vec<DocTerms>,
    /// Its English words' verdicts.
    words: FxHashMap<&'t str, Word<u32>>,
}

/// The English text of a paper that its terms come from, in order: titles count twice. (The
/// parts are read as one text "title. title. abstract": no word spans two parts.)
fn english_parts(p: &Paper) -> [&str; 3] {
    [&p.title_en, &p.title_en, &p.abstract_en]
}

/// What the English analyzer makes of one word.
#[derive(Clone, Copy)]
enum Word<T> {
    /// Nothing (a word too long): the words either side of it still make a bigram.
    Removed,
    /// A token that is no term (a stop word, a number, two letters): it ends a bigram.
    Dropped,
    /// A term.
    Kept(T),
}

impl<T> Word<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Word<U> {
        match self {
            Word::Removed => Word::Removed,
            Word::Dropped => Word::Dropped,
            Word::Kept(t) => Word::Kept(f(t)),
        }
    }
}

/// The English analyzer's verdict on one word (a run of letters and digits, as its tokenizer
/// splits text): kept, with its stem and lowercase surface form, or why not.
fn analyse_english(
    analyzer: &mut TextAnalyzer,
    stop_en: &StopWords,
    word: &str,
) -> Word<(String, String)> {
    let mut stream = analyzer.token_stream(word);
    if !stream.advance() {
        return Word::Removed;
    }
    let stem = std::mem::take(&mut stream.token_mut().text);
    let surface = word.to_lowercase();
    let keep = stem.len() > 2
        && stem.chars().any(char::is_alphabetic)
        && !stop_en.contains(surface.as_str())
        && !stop_en.contains(stem.as_str());
    if keep {
        Word::Kept((stem, surface))
    } else {
        Word::Dropped
    }
}

/// Calls `visit(context, previous, this)` for every kept word of `parts` (read in order as one
/// text), `previous` being the word before it when that was kept too (the two make a bigram).
/// A word is analysed (by `analyse`) once per `words` table: a word's verdict never changes, and
/// the analyzer's stream over every occurrence was most of the topic fit's CPU.
fn kept_words<'t, C, T: Copy>(
    parts: &[&'t str],
    words: &mut FxHashMap<&'t str, Word<T>>,
    context: &mut C,
    mut analyse: impl FnMut(&mut C, &str) -> Word<T>,
    mut visit: impl FnMut(&mut C, Option<T>, T),
) {
    let mut previous = None;
    for part in parts {
        // The analyzer's tokenizer (tantivy's SimpleTokenizer) splits exactly here.
        for word in part.split(|c: char| !c.is_alphanumeric()) {
            if word.is_empty() {
                continue;
            }
            let verdict = match words.get(word) {
                Some(&v) => v,
                None => *words.entry(word).or_insert(analyse(context, word)),
            };
            match verdict {
                Word::Removed => {}
                Word::Dropped => previous = None,
                Word::Kept(t) => {
                    visit(context, previous, t);
                    previous = Some(t);
                }
            }
        }
    }
}

/// The words of one chunk's text, interned into its table.
struct ChunkTerms<'a, 't> {
    /// The verdicts of the words of earlier chunks (stems as vocabulary ids), and the terms
    /// those ids stand for: a word is analysed once in the whole collection.
    known: &'a FxHashMap<&'t str, Word<u32>>,
    terms: &'a [String],
    stop_en: &'a StopWords,
    stop_zh: &'a StopWords,
    table: ChunkTable,
    /// Each English word's verdict, its stem as an id.
    words: FxHashMap<&'t str, Word<u32>>,
    /// Each Chinese word's id, or `None` when it is no term.
    zh_words: FxHashMap<&'t str, Option<u32>>,
}

impl<'t> ChunkTerms<'_, 't> {
    fn english(&mut self, analyzer: &mut TextAnalyzer, parts: &[&'t str]) -> Vec<u32> {
        let (known, terms, stop_en) = (self.known, self.terms, self.stop_en);
        let mut out = Vec::new();
        kept_words(
            parts,
            &mut self.words,
            &mut self.table,
            |table, word| match known.get(word) {
                Some(&verdict) => verdict.map(|id| table.word(&terms[id as usize])),
                None => analyse_english(analyzer, stop_en, word).map(|(stem, _)| table.word(&stem)),
            },
            |table, previous, id| {
                if let Some(prev) = previous {
                    out.push(table.pair(prev, id));
                }
                out.push(id);
            },
        );
        out
    }

    /// Chinese words of the title (counted twice), summary and abstract. jieba cuts each run of
    /// Han text on its own, so cutting the parts apart gives the words of cutting them joined.
    fn chinese(&mut self, p: &'t Paper) -> Vec<u32> {
        let title = self.chinese_part(&p.title_zh);
        let mut out = title.clone();
        out.extend(title);
        for part in [&p.summary_zh, &p.abstract_zh] {
            let words = self.chinese_part(part);
            out.extend(words);
        }
        out
    }

    /// The kept words of one text: two or more Han characters, no stop word. Each word's
    /// verdict is looked up once per chunk.
    fn chinese_part(&mut self, text: &'t str) -> Vec<u32> {
        let mut out = Vec::new();
        for w in analyze::chinese_words(text) {
            let id = match self.zh_words.get(w) {
                Some(&id) => id,
                None => {
                    let keep = w.chars().nth(1).is_some()
                        && w.chars().all(crate::text::is_cjk)
                        && !self.stop_zh.contains(w);
                    let id = keep.then(|| self.table.word(w));
                    self.zh_words.insert(w, id);
                    id
                }
            };
            out.extend(id);
        }
        out
    }
}

/// Papers read together, each chunk on one core with its own term table: large enough that
/// merging the tables stays small beside reading the text.
const CHUNK: usize = 2048;

/// Chunks read before their tables are merged into the vocabulary: the chunks' tables repeat
/// the common terms, so holding all of them at once cost more than the vocabulary itself.
const WAVE: usize = 8;

/// Every paper's terms, in paper order, and the vocabulary they index.
pub(crate) fn doc_terms(papers: &[Paper]) -> (Vec<DocTerms>, Vocabulary<'_>) {
    let stop_en = stop_set(LABEL_STOP_EN);
    let stop_zh = stop_set(LABEL_STOP_ZH);
    let mut vocabulary = Interner::default();
    let mut terms: Vec<String> = Vec::new();
    let mut known = FxHashMap::default();
    let mut docs = Vec::with_capacity(papers.len());
    for wave in papers.chunks(CHUNK * WAVE) {
        let chunks: Vec<Chunk> = wave
            .par_chunks(CHUNK)
            .map_init(analyze::english_analyzer, |analyzer, chunk| {
                let mut words = ChunkTerms {
                    known: &known,
                    terms: &terms,
                    stop_en: &stop_en,
                    stop_zh: &stop_zh,
                    table: ChunkTable::default(),
                    words: FxHashMap::default(),
                    zh_words: FxHashMap::default(),
                };
                let docs = chunk
                    .iter()
                    .map(|p| DocTerms {
                        en: words.english(analyzer, &english_parts(p)),
                        zh: words.chinese(p),
                    })
                    .collect();
                Chunk {
                    terms: words.table.terms,
                    docs,
                    words: words.words,
                }
            })
            .collect();
        for chunk in chunks {
            let remap = merge(&mut vocabulary, &mut terms, chunk.terms);
            for (word, verdict) in chunk.words {
                known
                    .entry(word)
                    .or_insert_with(|| verdict.map(|id| remap[id as usize]));
            }
            docs.extend(renumber(chunk.docs, &remap));
        }
    }
    let words = known;
    (docs, Vocabulary { terms, words })
}

/// Adds a chunk's table to the vocabulary (new terms get the next ids, in the chunk's order,
/// and their strings in `terms`). Returns each chunk id's vocabulary id.
fn merge(vocabulary: &mut Interner, terms: &mut Vec<String>, chunk_terms: Vec<Term>) -> Vec<u32> {
    let mut remap: Vec<u32> = Vec::with_capacity(chunk_terms.len());
    for term in chunk_terms {
        let id = match term {
            Term::Word(word) => {
                let (id, new) = vocabulary.word(&word);
                if new {
                    terms.push(word);
                }
                id
            }
            Term::Pair(a, b) => {
                let (a, b) = (remap[a as usize], remap[b as usize]);
                let (id, new) = vocabulary.pair(a, b);
                if new {
                    terms.push(format!("{} {}", terms[a as usize], terms[b as usize]));
                }
                id
            }
        };
        remap.push(id);
    }
    remap
}

/// A chunk's papers with their ids mapped to the vocabulary's.
fn renumber(mut docs: Vec<DocTerms>, remap: &[u32]) -> Vec<DocTerms> {
    docs.par_iter_mut().for_each(|d| {
        for id in d.en.iter_mut().chain(d.zh.iter_mut()) {
            *id = remap[*id as usize];
        }
    });
    docs
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The terms of `p` as the analyzers make them of its whole texts, joined as one string each
    /// (titles twice), without the word and part shortcuts `doc_terms` takes: the reference.
    /// English comes as (bigram with the word before, stem) per kept word, each term with the
    /// surface form it has there.
    type Reference = (Vec<(Option<Seen>, Seen)>, Vec<String>);

    /// A term and its surface form where it was seen.
    type Seen = (String, String);

    fn joined_terms(analyzer: &mut TextAnalyzer, p: &Paper) -> Reference {
        let stop_en = stop_set(LABEL_STOP_EN);
        let stop_zh = stop_set(LABEL_STOP_ZH);
        let text = format!("{}. {}. {}", p.title_en, p.title_en, p.abstract_en);
        let mut en = Vec::new();
        let mut previous: Option<Seen> = None;
        let mut stream = analyzer.token_stream(&text);
        while stream.advance() {
            let token = stream.token();
            let surface = text[token.offset_from..token.offset_to].to_lowercase();
            let stem = token.text.clone();
            let keep = stem.len() > 2
                && stem.chars().any(char::is_alphabetic)
                && !stop_en.contains(surface.as_str())
                && !stop_en.contains(stem.as_str());
            if !keep {
                previous = None;
                continue;
            }
            let bigram = previous.map(|(prev, prev_surface)| {
                (
                    format!("{prev} {stem}"),
                    format!("{prev_surface} {surface}"),
                )
            });
            en.push((bigram, (stem.clone(), surface.clone())));
            previous = Some((stem, surface));
        }
        let chinese = format!(
            "{}。{}。{}。{}",
            p.title_zh, p.title_zh, p.summary_zh, p.abstract_zh
        );
        let zh = analyze::chinese_words(&chinese)
            .into_iter()
            .map(str::to_lowercase)
            .filter(|w| {
                w.chars().count() >= 2
                    && w.chars().all(crate::text::is_cjk)
                    && !stop_zh.contains(w.as_str())
            })
            .collect();
        (en, zh)
    }

    fn data_papers() -> Vec<Paper> {
        let digests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digests");
        let found = crate::digest::find_digests(&[digests]);
        crate::digest::load(&found.files, || {})
            .expect("data/digests loads")
            .papers
    }

    /// Papers whose words test the edges of the word-by-word reading: a word too long to be a
    /// token between two words (they still make a bigram), acronym plurals, letters outside
    /// ASCII, Han characters inside English text, numbers and stop words, and a title ending in
    /// Han text with no punctuation before the copy that follows it.
    fn edge_papers() -> Vec<Paper> {
        let long = "a".repeat(45);
        vec![
            Paper {
                title_en: format!("Graph {long} Transformers for LLMs and GPUs"),
                abstract_en: "Schrödinger équations über 大模型 CNNs 2024 of the \
                    Naïve-Bayes models' x86 RoBERTa-large; Graph Transformers again"
                    .to_string(),
                title_zh: "大模型幻觉检测".to_string(),
                summary_zh: "本文研究大模型的幻觉检测基准".to_string(),
                abstract_zh: "我们提出ＡＢＣ基准与GPT-4评估幻觉检测。".to_string(),
                ..Paper::default()
            },
            Paper {
                title_en: "Title ends with a word".to_string(),
                abstract_en: String::new(),
                title_zh: "股票市场".to_string(),
                summary_zh: String::new(),
                abstract_zh: "股票市场波动率预测".to_string(),
                ..Paper::default()
            },
        ]
    }

    #[test]
    fn terms_read_word_by_word_are_the_analyzers_terms_of_the_joined_text() {
        let mut papers = edge_papers();
        papers.extend(data_papers());
        let (docs, vocabulary) = doc_terms(&papers);
        let mut analyzer = analyze::english_analyzer();
        // Ids are handed out in order of first sight (a word before its bigram, English before
        // Chinese), as one table reading every paper in order would: the columns and labels
        // never depend on the chunking.
        let mut first_sight: HashMap<String, u32> = HashMap::new();
        let mut id_of = |term: &str| {
            let next = first_sight.len() as u32;
            *first_sight.entry(term.to_string()).or_insert(next)
        };
        for (p, d) in papers.iter().zip(&docs) {
            let (en, zh) = joined_terms(&mut analyzer, p);
            let mut expected_en = Vec::new();
            let mut expected_words = Vec::new();
            for (bigram, (stem, _)) in &en {
                let stem_id = id_of(stem);
                if let Some((bigram, _)) = bigram {
                    expected_en.push(id_of(bigram));
                    expected_words.push(bigram.as_str());
                }
                expected_en.push(stem_id);
                expected_words.push(stem.as_str());
            }
            let expected_zh: Vec<u32> = zh.iter().map(|w| id_of(w)).collect();
            let words: Vec<&str> = d.en.iter().map(|&t| vocabulary.term(t)).collect();
            assert_eq!(words, expected_words, "{}", p.title_en);
            assert_eq!(d.en, expected_en, "{}", p.title_en);
            assert_eq!(d.zh, expected_zh, "{}", p.title_zh);
        }
        assert_eq!(first_sight.len(), vocabulary.len());
    }

    #[test]
    fn every_term_is_shown_in_its_commonest_surface_form() {
        let mut papers = edge_papers();
        papers.extend(data_papers());
        let (_, vocabulary) = doc_terms(&papers);
        let ids: Vec<u32> = (0..vocabulary.len() as u32).collect();
        let shown = vocabulary.shown_forms(&papers, &ids);
        let mut forms: HashMap<String, HashMap<String, u32>> = HashMap::new();
        let mut analyzer = analyze::english_analyzer();
        for p in &papers {
            let (en, _) = joined_terms(&mut analyzer, p);
            for (bigram, stem) in en.into_iter() {
                for (term, form) in bigram.into_iter().chain([stem]) {
                    *forms.entry(term).or_default().entry(form).or_default() += 1;
                }
            }
        }
        let mut checked = 0;
        for id in ids {
            let term = vocabulary.term(id);
            let expected = forms.get(term).and_then(|f| {
                f.iter()
                    .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                    .map(|(form, _)| form.as_str())
            });
            assert_eq!(shown.of(id), expected.unwrap_or(term), "{term}");
            checked += usize::from(expected.is_some());
        }
        assert!(checked > 100_000, "{checked} English terms");
    }
}
