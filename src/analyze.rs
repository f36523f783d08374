//! Analyzers registered on the Tantivy index: English (lowercase + stem), Chinese (jieba
//! `cut_for_search`), and mixed (each script run to its own analyzer) for the combined field
//! and for queries, which are often a mix ("LLM 幻觉").

use std::sync::LazyLock;

use jieba_rs::Jieba;
use tantivy::Index;
use tantivy::tokenizer::{
    BoxTokenStream, Language, LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer, Stemmer,
    TextAnalyzer, Token, TokenStream, Tokenizer, TokenizerManager,
};

/// Name of the English analyzer (lowercase, stem) registered on the index.
pub(crate) const ENGLISH: &str = "paperscope_en";
/// Name of the Chinese analyzer (jieba `cut_for_search`).
pub(crate) const CHINESE: &str = "paperscope_zh";
/// Name of the mixed analyzer: each script run to its own analyzer.
pub(crate) const MIXED: &str = "paperscope_mixed";

/// Building the jieba dictionary costs 80-100 ms, most of a cold search's budget: it is built
/// the first time Han text is cut (never for an English query's ranking), and every tokenizer
/// shares this one.
static JIEBA: LazyLock<Jieba> = LazyLock::new(Jieba::new);

/// Builds jieba's dictionary now, if it is not built yet: a process that will cut Chinese
/// text (a search's snippets) calls it on a spare thread while it loads everything else.
pub fn prepare_chinese() {
    LazyLock::force(&JIEBA);
}

use crate::text::is_han;

/// Lowercases and stems English words; acronym plurals (`LLMs`) are singularised too.
pub(crate) fn english_analyzer() -> TextAnalyzer {
    TextAnalyzer::from(EnglishTokenizer {
        lowercased: TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .build(),
        stemmer: TextAnalyzer::builder(RawTokenizer::default())
            .filter(Stemmer::new(Language::English))
            .build(),
    })
}

/// Tantivy's lowercasing English stemmer, plus the plural of acronyms: Snowball leaves `llms`,
/// `gpus`, `cnns` alone (no vowel before the `s`), so `LLMs` would never match `LLM`.
/// Stems come from a per-thread cache: a word's stem never changes, and stemming every
/// occurrence was a tenth of indexing's CPU.
#[derive(Clone)]
pub(crate) struct EnglishTokenizer {
    lowercased: TextAnalyzer,
    /// Stems one whole word (`RawTokenizer` makes the word one token).
    stemmer: TextAnalyzer,
}

thread_local! {
    // Words stemmed on this thread, lowercased word -> stem. Emptied when it reaches
    // STEM_CACHE_WORDS, so a long run over many distinct words stays small.
    static STEMS: std::cell::RefCell<std::collections::HashMap<String, String>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}
const STEM_CACHE_WORDS: usize = 200_000;

/// The Snowball stem of `word` (lowercase), from this thread's cache or `stemmer`.
fn stem_into(stemmer: &mut TextAnalyzer, word: &mut String) {
    STEMS.with_borrow_mut(|stems| {
        if let Some(stem) = stems.get(word.as_str()) {
            word.clone_from(stem);
            return;
        }
        let stem = {
            let mut stream = stemmer.token_stream(word);
            if stream.advance() {
                stream.token().text.clone()
            } else {
                word.clone()
            }
        };
        if stems.len() >= STEM_CACHE_WORDS {
            stems.clear();
        }
        stems.insert(std::mem::replace(word, stem.clone()), stem);
    });
}

impl Tokenizer for EnglishTokenizer {
    type TokenStream<'a> = EnglishTokenStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> EnglishTokenStream<'a> {
        EnglishTokenStream {
            lowercased: self.lowercased.token_stream(text),
            stemmer: &mut self.stemmer,
            text,
        }
    }
}

/// The lowercased words of a text, each stemmed as it is reached.
pub(crate) struct EnglishTokenStream<'a> {
    lowercased: BoxTokenStream<'a>,
    stemmer: &'a mut TextAnalyzer,
    text: &'a str,
}

impl TokenStream for EnglishTokenStream<'_> {
    fn advance(&mut self) -> bool {
        if !self.lowercased.advance() {
            return false;
        }
        let token = self.lowercased.token_mut();
        stem_into(self.stemmer, &mut token.text);
        let original = self
            .text
            .get(token.offset_from..token.offset_to)
            .unwrap_or_default();
        if let Some(singular) = acronym_singular(original, &token.text) {
            token.text = singular;
        }
        true
    }
    fn token(&self) -> &Token {
        self.lowercased.token()
    }
    fn token_mut(&mut self) -> &mut Token {
        self.lowercased.token_mut()
    }
}

/// `GPUs` (capitals then `s`) or `llms` (no vowel before the `s`) -> the singular.
fn acronym_singular(original: &str, stemmed: &str) -> Option<String> {
    let stem = stemmed.strip_suffix('s')?;
    let original_stem = original.strip_suffix('s')?;
    let capitals = original_stem.len() >= 2
        && original_stem
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    let no_vowel = stem.len() >= 2
        && stem.bytes().all(|b| b.is_ascii_alphanumeric())
        && !stem.bytes().any(|b| b"aeiouy".contains(&b));
    (capitals || no_vowel).then(|| stem.to_string())
}

/// Segments Han text with jieba (search mode) and lowercases the Latin words inside it.
pub(crate) fn chinese_analyzer() -> TextAnalyzer {
    TextAnalyzer::from(ChineseTokenizer::default())
}

/// Sends Han runs to jieba and everything else to the English analyzer: for the combined
/// field and for queries that mix the two (`LLM 幻觉`).
pub(crate) fn mixed_analyzer() -> TextAnalyzer {
    TextAnalyzer::from(MixedTokenizer {
        english: english_analyzer(),
        buffer: TokenBuffer::default(),
    })
}

/// Registers the three analyzers on `index` under their names.
pub(crate) fn register(index: &Index) {
    register_on(index.tokenizers());
}

/// Tantivy's tokenizers and the three analyzers, for an index that takes its tokenizers when
/// it is created (a single-segment writer analyses with them from the start).
pub(crate) fn tokenizers() -> TokenizerManager {
    let tokenizers = TokenizerManager::default();
    register_on(&tokenizers);
    tokenizers
}

fn register_on(tokenizers: &TokenizerManager) {
    tokenizers.register(ENGLISH, english_analyzer());
    tokenizers.register(CHINESE, chinese_analyzer());
    tokenizers.register(MIXED, mixed_analyzer());
}

/// Question words and function words dropped from queries (not from documents): measured on
/// tests/queries.tsv, dropping them lifted question queries' nDCG@10 from 0.55 to 0.59 and
/// changed nothing else. Stored as the analyzer's own terms (`does` -> `doe`).
const QUERY_STOP_WORDS: &str = "a an the of in on for to and or is are be can how what why which \
    do does did with by from as at it its this that these those we our their there was were has \
    have had been will would should could may might not no into about than then so such via using \
    use 的 了 是 在 和 与 及 如何 怎么 怎样 什么 哪些 能否 可以 是否 吗 呢 为什么 我们 一个 一种 进行 \
    通过 对 中 上 用 以";

/// The stop words' terms without Han characters (from the English analyzer) and with them
/// (from jieba), apart: an English query's terms are checked against the first set alone (a
/// Han run's terms are all Han), so ranking it never builds jieba's dictionary.
static STOP_TERMS: [LazyLock<std::collections::HashSet<String>>; 2] = [
    LazyLock::new(|| stop_terms(false)),
    LazyLock::new(|| stop_terms(true)),
];

fn stop_terms(han: bool) -> std::collections::HashSet<String> {
    let analyzer = &mut if han {
        chinese_analyzer()
    } else {
        english_analyzer()
    };
    script_runs(QUERY_STOP_WORDS)
        .into_iter()
        .filter(|&(_, _, is_han)| is_han == han)
        .flat_map(|(_, run, _)| terms(analyzer, run))
        .collect()
}

/// Whether `term` (an analyzer's term) is a query stop word's.
fn is_stop_term(term: &str) -> bool {
    let han = term.chars().any(is_han);
    STOP_TERMS[usize::from(han)].contains(term)
}

static STOP_WORDS: LazyLock<std::collections::HashSet<&'static str>> =
    LazyLock::new(|| QUERY_STOP_WORDS.split_whitespace().collect());

/// A query without its question and function words, as text: what the meaning side embeds.
/// Measured on tests/queries.tsv: vector-only nDCG@10 0.452 -> 0.472 (questions 0.29 -> 0.35).
pub fn strip_query_stop_words(text: &str) -> String {
    let mut kept: Vec<String> = Vec::new();
    for (_, run, han) in script_runs(text) {
        if han {
            let content = strip_han_run(run);
            if !content.is_empty() {
                kept.push(content);
            }
        } else {
            kept.extend(
                run.split_whitespace()
                    .filter(|w| {
                        let bare = w
                            .trim_matches(|c: char| !c.is_alphanumeric())
                            .to_lowercase();
                        !STOP_WORDS.contains(bare.as_str())
                    })
                    .map(str::to_string),
            );
        }
    }
    let stripped = kept.join(" ");
    if stripped.trim().is_empty() {
        text.to_string()
    } else {
        stripped
    }
}

/// A Han run without its stop words. jieba's words partition the run, so a run that contains
/// no stop word is kept whole without cutting it: a Chinese query's embedding then need not wait
/// for jieba's dictionary.
fn strip_han_run(run: &str) -> String {
    if !STOP_WORDS.iter().any(|w| run.contains(w)) {
        return run.to_string();
    }
    cut_without_stop_words(run)
}

fn cut_without_stop_words(run: &str) -> String {
    JIEBA
        .cut(run, true)
        .iter()
        .map(|w| w.word)
        .filter(|w| !STOP_WORDS.contains(w))
        .collect()
}

/// The ranking terms of a query: its analyzed terms without stop words, unless that leaves none.
pub(crate) fn query_terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let all = terms(analyzer, text);
    let content: Vec<String> = all.iter().filter(|t| !is_stop_term(t)).cloned().collect();
    if content.is_empty() { all } else { content }
}

/// Whole jieba words (`cut`, not the overlapping search-mode pieces), for labels people read,
/// as they stand in `text`: the topics keep Han words only, which have no case, and a copy of
/// every word was more of their CPU than jieba's own cutting.
pub(crate) fn chinese_words(text: &str) -> Vec<&str> {
    JIEBA.cut(text, true).into_iter().map(|w| w.word).collect()
}

/// The terms an analyzer makes of `text`, in order.
pub(crate) fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// Tokens computed up front (jieba segments whole strings at once), kept by the tokenizer
/// from one text to the next so that the tokens' strings reuse their memory: a `String` per
/// word was an allocation and a free per token indexed.
#[derive(Default)]
pub(crate) struct TokenBuffer {
    tokens: Vec<Token>,
    len: usize,
    /// The text the tokens are of: the combined field gets each title twice in a row, and the
    /// second time the tokens are handed out again instead of cut again.
    text: String,
}

/// A clone starts empty: the buffer holds no state, only memory.
impl Clone for TokenBuffer {
    fn clone(&self) -> Self {
        TokenBuffer::default()
    }
}

impl TokenBuffer {
    /// Readies the buffer for the tokens of `text`: false when it holds them already (nothing
    /// that reads a stream changes its tokens: no filter follows these tokenizers), else true
    /// with the buffer emptied, to be filled.
    fn start(&mut self, text: &str) -> bool {
        if self.text == text {
            return false;
        }
        self.text.clear();
        self.text.push_str(text);
        self.len = 0;
        true
    }

    /// Appends a token at the next position, its text written by `write` into a cleared string.
    fn push(&mut self, offset_from: usize, offset_to: usize, write: impl FnOnce(&mut String)) {
        if self.len == self.tokens.len() {
            self.tokens.push(Token::default());
        }
        let token = &mut self.tokens[self.len];
        token.offset_from = offset_from;
        token.offset_to = offset_to;
        token.position = self.len;
        token.position_length = 1;
        token.text.clear();
        write(&mut token.text);
        self.len += 1;
    }

    fn stream(&mut self) -> BufferTokenStream<'_> {
        BufferTokenStream {
            tokens: &mut self.tokens[..self.len],
            next: 0,
        }
    }
}

/// A token stream over a [`TokenBuffer`]'s tokens.
pub(crate) struct BufferTokenStream<'a> {
    tokens: &'a mut [Token],
    next: usize,
}

impl TokenStream for BufferTokenStream<'_> {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }
    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

/// jieba as a Tantivy tokenizer, sharing one dictionary.
#[derive(Clone, Default)]
pub(crate) struct ChineseTokenizer {
    buffer: TokenBuffer,
}

/// Appends jieba's search-mode words of `text` (found at byte `base` of the whole input),
/// dropping punctuation and whitespace, lowercasing Latin words inside Chinese text.
fn push_jieba_tokens(jieba: &Jieba, text: &str, base: usize, tokens: &mut TokenBuffer) {
    for word in jieba.cut_for_search(text, true) {
        if !word
            .word
            .chars()
            .any(|c| is_common_han(c) || c.is_alphanumeric())
        {
            continue;
        }
        let (from, to) = (base + word.byte_start, base + word.byte_end);
        tokens.push(from, to, |text| push_lowercase(text, word.word));
    }
}

/// Appends `word` lowercased as `str::to_lowercase` would, without allocating when no
/// character changes (every Han word).
fn push_lowercase(out: &mut String, word: &str) {
    let unchanged = |c: char| {
        if is_common_han(c) {
            return true;
        }
        let mut lower = c.to_lowercase();
        lower.next() == Some(c) && lower.next().is_none()
    };
    if word.chars().all(unchanged) {
        out.push_str(word);
    } else {
        out.push_str(&word.to_lowercase());
    }
}

/// The CJK Unified Ideographs block, where nearly every Chinese character is: each of them is
/// alphanumeric and its own lowercase, which this range check says without the Unicode tables'
/// lookups (a few percent of indexing's CPU).
fn is_common_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}')
}

impl Tokenizer for ChineseTokenizer {
    type TokenStream<'a> = BufferTokenStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> BufferTokenStream<'a> {
        if self.buffer.start(text) {
            push_jieba_tokens(&JIEBA, text, 0, &mut self.buffer);
        }
        self.buffer.stream()
    }
}

/// Han runs through jieba, other runs through the English analyzer, positions counted across both.
#[derive(Clone)]
pub(crate) struct MixedTokenizer {
    english: TextAnalyzer,
    buffer: TokenBuffer,
}

impl Tokenizer for MixedTokenizer {
    type TokenStream<'a> = BufferTokenStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> BufferTokenStream<'a> {
        let tokens = &mut self.buffer;
        if !tokens.start(text) {
            return tokens.stream();
        }
        for (start, run, han) in script_runs(text) {
            if han {
                push_jieba_tokens(&JIEBA, run, start, tokens);
                continue;
            }
            let mut stream = self.english.token_stream(run);
            while stream.advance() {
                let token = stream.token();
                let (from, to) = (start + token.offset_from, start + token.offset_to);
                tokens.push(from, to, |text| text.push_str(&token.text));
            }
        }
        tokens.stream()
    }
}

/// Splits text into maximal runs of Han and non-Han characters: `(byte start, run, is_han)`.
pub(crate) fn script_runs(text: &str) -> Vec<(usize, &str, bool)> {
    let mut runs = Vec::new();
    let mut run_start = 0;
    let mut run_han = None;
    for (i, c) in text.char_indices() {
        let han = is_han(c);
        match run_han {
            Some(current) if current != han => {
                runs.push((run_start, &text[run_start..i], current));
                run_start = i;
                run_han = Some(han);
            }
            None => run_han = Some(han),
            _ => {}
        }
    }
    if let Some(han) = run_han {
        runs.push((run_start, &text[run_start..], han));
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_is_lowercased_and_stemmed() {
        let got = terms(
            &mut english_analyzer(),
            "Hallucinations in LLMs, benchmarking!",
        );
        assert_eq!(
            terms(&mut english_analyzer(), "GPUs CNNs bus"),
            vec!["gpu", "cnn", "bus"]
        );
        assert_eq!(got, vec!["hallucin", "in", "llm", "benchmark"]);
    }

    #[test]
    fn chinese_drops_punctuation_and_lowercases_latin() {
        let got = terms(&mut chinese_analyzer(), "大语言模型（LLMs）的幻觉。");
        assert!(got.contains(&"llms".to_string()), "{got:?}");
        assert!(got.contains(&"幻觉".to_string()), "{got:?}");
        assert!(
            got.iter().all(|t| t.chars().any(char::is_alphanumeric)),
            "{got:?}"
        );
    }

    #[test]
    fn query_terms_drop_stop_words_but_never_everything() {
        let mut analyzer = mixed_analyzer();
        assert_eq!(
            query_terms(&mut analyzer, "how does a model forget"),
            vec!["model", "forget"]
        );
        assert_eq!(
            query_terms(&mut analyzer, "如何检测幻觉"),
            vec!["检测", "幻觉"]
        );
        assert_eq!(query_terms(&mut analyzer, "how"), vec!["how"]);
    }

    #[test]
    fn stop_terms_split_by_script_are_the_stop_words_terms() {
        let whole: std::collections::HashSet<String> =
            terms(&mut mixed_analyzer(), QUERY_STOP_WORDS)
                .into_iter()
                .collect();
        let (latin, han) = (&*STOP_TERMS[0], &*STOP_TERMS[1]);
        assert!(latin.iter().all(|t| !t.chars().any(is_han)), "{latin:?}");
        assert!(han.iter().all(|t| t.chars().any(is_han)), "{han:?}");
        assert_eq!(&whole, &latin.union(han).cloned().collect());
    }

    #[test]
    fn stop_words_are_stripped_from_query_text() {
        assert_eq!(
            strip_query_stop_words("how can a model forget data?"),
            "model forget data?"
        );
        assert_eq!(
            strip_query_stop_words("如何检测大模型的幻觉"),
            "检测大模型幻觉"
        );
        assert_eq!(strip_query_stop_words("how"), "how");
    }

    #[test]
    fn a_han_run_without_stop_words_is_kept_whole_as_jieba_would() {
        let digests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digests");
        let found = crate::digest::find_digests(&[digests]);
        let papers = crate::digest::load(&found.files, || {})
            .expect("data/digests loads")
            .papers;
        let mut checked = 0;
        for p in &papers {
            for text in [&p.title_zh, &p.summary_zh, &p.abstract_zh] {
                for (_, run, han) in script_runs(text) {
                    if han {
                        assert_eq!(strip_han_run(run), cut_without_stop_words(run), "{run}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 10_000, "{checked} runs");
    }

    #[test]
    fn common_han_characters_are_alphanumeric_and_their_own_lowercase() {
        for c in '\u{4E00}'..='\u{9FFF}' {
            assert!(is_common_han(c));
            assert!(c.is_alphanumeric(), "{c}");
            assert_eq!(c.to_lowercase().collect::<String>(), c.to_string());
        }
        assert!(!is_common_han('A') && !is_common_han('，') && !is_common_han('\u{3400}'));
    }

    #[test]
    fn positions_are_consecutive() {
        let mut analyzer = mixed_analyzer();
        let mut stream = analyzer.token_stream("检测 LLM 幻觉 with benchmarks 基准测试");
        let mut positions = Vec::new();
        while stream.advance() {
            positions.push(stream.token().position);
        }
        assert_eq!(positions, (0..positions.len()).collect::<Vec<_>>());
    }

    #[test]
    fn mixed_sends_each_script_to_its_analyzer() {
        let got = terms(&mut mixed_analyzer(), "幻觉检测 for Hallucinations");
        assert!(got.contains(&"幻觉".to_string()), "{got:?}");
        assert!(got.contains(&"hallucin".to_string()), "{got:?}");
    }

    #[test]
    fn offsets_point_at_the_token_text() {
        let text = "用LLM检测幻觉";
        let mut analyzer = mixed_analyzer();
        let mut stream = analyzer.token_stream(text);
        while stream.advance() {
            let t = stream.token();
            assert_eq!(text[t.offset_from..t.offset_to].to_lowercase(), t.text);
        }
    }

    /// (text, offsets, position) of every token `analyzer` makes of `text`.
    fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<(String, usize, usize, usize)> {
        let mut out = Vec::new();
        analyzer
            .token_stream(text)
            .process(&mut |t| out.push((t.text.clone(), t.offset_from, t.offset_to, t.position)));
        out
    }

    #[test]
    fn cached_stems_are_tantivys_stemmer_with_acronyms_singular() {
        let mut plain = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .filter(Stemmer::new(Language::English))
            .build();
        let mut english = english_analyzer();
        let digests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digests");
        let found = crate::digest::find_digests(&[digests]);
        let papers = crate::digest::load(&found.files, || {})
            .expect("data/digests loads")
            .papers;
        // Twice: the second pass takes every stem from the cache.
        for p in papers.iter().take(500).chain(papers.iter().take(500)) {
            for text in [&p.title_en, &p.abstract_en] {
                let mut expected = tokens(&mut plain, text);
                for (term, from, to, _) in &mut expected {
                    if let Some(singular) = acronym_singular(&text[*from..*to], term) {
                        *term = singular;
                    }
                }
                assert_eq!(tokens(&mut english, text), expected, "{text}");
            }
        }
    }

    #[test]
    fn a_reused_analyzer_gives_each_text_its_own_tokens() {
        let long = "大语言模型的幻觉检测 with many English words 基准测试和评估方法";
        let short = "幻觉 LLMs";
        for make in [chinese_analyzer, mixed_analyzer] {
            let mut reused = make();
            let _ = tokens(&mut reused, long);
            assert_eq!(tokens(&mut reused, short), tokens(&mut make(), short));
            // The same text again (a title's second copy) is handed its tokens again, and a
            // clone, which starts with an empty buffer, cuts it anew.
            assert_eq!(tokens(&mut reused, short), tokens(&mut make(), short));
            assert_eq!(
                tokens(&mut reused.clone(), short),
                tokens(&mut make(), short)
            );
            assert_eq!(tokens(&mut reused, ""), Vec::new());
        }
    }
}
