//! The static model's SentencePiece unigram tokenizer, giving the ids the `tokenizers` crate gives
//! for the same `tokenizer.json`, without building that crate's model: its `Unigram` makes a
//! `String` and a hash-map node per piece and per trie byte (~0.5 s for 128k pieces, the whole
//! cold-search budget several times over), and its encoding allocates a `String` per token.
//!
//! Only the configuration `tools/distill_model.py` writes is handled here (precompiled charsmap,
//! runs of spaces collapsed, strip, Metaspace `▁` prepended and split, Unigram without byte
//! fallback); [`SpmTokenizer::from_json`] answers `None` for any other file and the caller keeps
//! the crate. Each step below follows the crate's own (0.23) so the ids stay equal:
//! - the charsmap is applied per extended grapheme cluster ([`Precompiled::normalize_string`],
//!   the crate's code);
//! - a word is the text from one `▁` to the next, and its Viterbi path keeps the first of equal
//!   scores, adds f64 scores, and an unknown character costs the lowest score - 10;
//! - consecutive unknown pieces are fused into one token, whose id is the piece it spells if any.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;
use serde_json::Value;
use tokenizers::normalizers::Precompiled;

/// The metaspace marker that stands for a space (and starts the text).
const META: char = '\u{2581}';
/// What an unknown character costs below the lowest piece score (SentencePiece's constant).
const UNK_PENALTY: f64 = 10.0;

/// The tokenizer: normaliser, the pieces as a trie of characters, and their scores.
pub(super) struct SpmTokenizer {
    charsmap: Precompiled,
    trie: Trie,
    scores: Vec<f64>,
    unk_id: u32,
    /// Tells this tokenizer's entries apart in the per-thread word cache.
    serial: u64,
    unk_score: f64,
}

/// Words (from one `▁` to the next) whose ids each thread keeps: an English text repeats its
/// words, and a lookup costs a fraction of a Viterbi pass. Longer words (a run of Chinese with
/// no space is one word) rarely repeat and are not kept.
const CACHED_WORDS: usize = 1 << 16;
const CACHED_WORD_CHARS: usize = 24;

/// The per-thread word cache; `serial` names the tokenizer whose ids it holds.
#[derive(Default)]
struct WordCache {
    serial: u64,
    words: HashMap<Box<[char]>, Box<[u32]>>,
}

thread_local! {
    static WORDS: RefCell<WordCache> = RefCell::default();
}

/// Serial numbers of tokenizers, from 1 (a fresh cache's 0 matches none).
static SERIAL: AtomicU64 = AtomicU64::new(1);

/// Bits of a node number, and of a character, in a packed edge.
const BITS: u32 = 21;
const FIELD: u64 = (1 << BITS) - 1;
/// The (node, char) part of a packed edge.
const KEY: u64 = (1 << (2 * BITS)) - 1;

/// A character trie whose edges live in one open-addressing table of packed
/// `child << 42 | node << 21 | char` words (one cache line read per step; `u64::MAX`, whose char
/// field is no character, marks a free slot). The node that ends piece `id` is numbered `id`, so
/// a step tells at once whether a piece ends there; the root and the nodes inside pieces are
/// numbered from the vocabulary's size up. Built in one pass over the pieces, shortest first (a
/// piece's node then never exists before it as an inner node).
struct Trie {
    edges: Vec<u64>,
    shift: u32,
    /// Number of pieces: nodes below it end a piece.
    pieces: u32,
}

impl Trie {
    /// The trie of `pieces`; `None` when two pieces are equal or there are too many nodes to pack.
    fn build(pieces: &[&str]) -> Option<Trie> {
        let count = pieces.len() as u32;
        let mut by_length: Vec<(usize, u32)> = pieces
            .iter()
            .enumerate()
            .map(|(id, p)| (p.chars().count(), id as u32))
            .collect();
        by_length.sort_unstable();
        let mut trie = Trie::with_slots((pieces.len() * 4).next_power_of_two(), count);
        let mut next_inner = count + 1;
        let mut edges = 0;
        for (_, id) in by_length {
            let mut chars = pieces[id as usize].chars().peekable();
            let mut node = trie.root();
            while let Some(c) = chars.next() {
                let last = chars.peek().is_none();
                node = match trie.child(node, c) {
                    Some(_) if last => return None,
                    Some(child) => child,
                    None => {
                        let child = if last { id } else { next_inner };
                        next_inner += u32::from(!last);
                        if u64::from(next_inner) > FIELD {
                            return None;
                        }
                        trie.insert(node, c, child);
                        edges += 1;
                        if edges * 2 > trie.edges.len() {
                            trie = trie.grown();
                        }
                        child
                    }
                };
            }
        }
        Some(trie)
    }

    fn with_slots(slots: usize, pieces: u32) -> Trie {
        Trie {
            edges: vec![u64::MAX; slots.max(2)],
            shift: 64 - slots.max(2).trailing_zeros(),
            pieces,
        }
    }

    fn root(&self) -> u32 {
        self.pieces
    }

    fn slot(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// The same trie in a table twice the size (kept at most half full).
    fn grown(self) -> Trie {
        let mut grown = Trie::with_slots(self.edges.len() * 2, self.pieces);
        for &edge in self.edges.iter().filter(|&&e| e != u64::MAX) {
            grown.insert_edge(edge);
        }
        grown
    }

    fn insert(&mut self, node: u32, c: char, child: u32) {
        let key = (u64::from(node) << BITS) | u64::from(c);
        self.insert_edge((u64::from(child) << (2 * BITS)) | key);
    }

    fn insert_edge(&mut self, edge: u64) {
        let key = edge & KEY;
        let mask = self.edges.len() - 1;
        let mut slot = self.slot(key);
        while self.edges[slot] != u64::MAX {
            slot = (slot + 1) & mask;
        }
        self.edges[slot] = edge;
    }

    /// The child of `node` along `c`.
    #[inline]
    fn child(&self, node: u32, c: char) -> Option<u32> {
        let key = (u64::from(node) << BITS) | u64::from(c);
        let mask = self.edges.len() - 1;
        let mut slot = self.slot(key);
        loop {
            let edge = self.edges[slot];
            if edge & KEY == key {
                return Some((edge >> (2 * BITS)) as u32);
            }
            if edge == u64::MAX {
                return None;
            }
            slot = (slot + 1) & mask;
        }
    }

    /// The id of the piece spelled by `chars`.
    fn piece_of(&self, chars: &[char]) -> Option<u32> {
        let mut node = self.root();
        for &c in chars {
            node = self.child(node, c)?;
        }
        Some(node).filter(|&n| n < self.pieces)
    }
}

/// A piece as written in the file: borrowed unless it has escapes.
#[derive(Deserialize)]
struct Piece<'a>(#[serde(borrow)] Cow<'a, str>);

#[derive(Deserialize)]
struct ModelSpec<'a> {
    #[serde(rename = "type")]
    kind: Cow<'a, str>,
    unk_id: Option<u32>,
    #[serde(default)]
    byte_fallback: bool,
    #[serde(borrow)]
    vocab: Vec<(Piece<'a>, f64)>,
}

#[derive(Deserialize)]
struct FileSpec<'a> {
    #[serde(default)]
    added_tokens: Vec<Value>,
    #[serde(default)]
    truncation: Value,
    #[serde(default)]
    padding: Value,
    #[serde(default)]
    post_processor: Value,
    normalizer: Value,
    pre_tokenizer: Value,
    #[serde(borrow)]
    model: ModelSpec<'a>,
}

/// One cell of the Viterbi lattice: the best path to a character boundary.
#[derive(Clone, Copy)]
struct Cell {
    score: f64,
    /// Where the path's last piece starts; `u32::MAX` while the cell is unreached.
    from: u32,
    id: u32,
}

const UNREACHED: Cell = Cell {
    score: 0.0,
    from: u32::MAX,
    id: 0,
};

impl SpmTokenizer {
    /// The tokenizer of a `tokenizer.json`, or `None` when the file is not the configuration this
    /// tokenizer reproduces (or not valid): then the `tokenizers` crate reads it.
    pub(super) fn from_json(bytes: &[u8]) -> Option<SpmTokenizer> {
        let spec: FileSpec = serde_json::from_slice(bytes).ok()?;
        let supported = spec.added_tokens.is_empty()
            && spec.truncation.is_null()
            && spec.padding.is_null()
            && spec.post_processor.is_null()
            && spec.pre_tokenizer
                == serde_json::json!({"type": "Metaspace", "replacement": "\u{2581}",
                    "prepend_scheme": "always", "split": true})
            && spec.model.kind == "Unigram"
            && !spec.model.byte_fallback;
        if !supported {
            return None;
        }
        let charsmap = charsmap_of(spec.normalizer)?;
        let unk_id = spec.model.unk_id?;
        let vocab = spec.model.vocab;
        if unk_id as usize >= vocab.len() || vocab.iter().any(|(p, _)| p.0.is_empty()) {
            return None;
        }
        let pieces: Vec<&str> = vocab.iter().map(|(p, _)| p.0.as_ref()).collect();
        let trie = Trie::build(&pieces)?;
        let scores: Vec<f64> = vocab.iter().map(|(_, s)| *s).collect();
        let min_score = scores.iter().copied().fold(f64::INFINITY, f64::min);
        Some(SpmTokenizer {
            charsmap,
            trie,
            scores,
            unk_id,
            serial: SERIAL.fetch_add(1, Ordering::Relaxed),
            unk_score: min_score - UNK_PENALTY,
        })
    }

    /// Number of pieces.
    pub(super) fn vocab_size(&self) -> usize {
        self.scores.len()
    }

    /// Token ids of `text`.
    pub(super) fn encode(&self, text: &str) -> Vec<u32> {
        let chars = self.normalize(text);
        let mut ids = Vec::with_capacity(chars.len() / 3 + 1);
        let mut lattice = Vec::new();
        WORDS.with_borrow_mut(|cache| {
            if cache.serial != self.serial || cache.words.len() >= CACHED_WORDS {
                cache.words.clear();
                cache.serial = self.serial;
            }
            for word in words(&chars) {
                if word.len() > CACHED_WORD_CHARS {
                    self.encode_word(word, &mut lattice, &mut ids);
                } else if let Some(known) = cache.words.get(word) {
                    ids.extend_from_slice(known);
                } else {
                    let first = ids.len();
                    self.encode_word(word, &mut lattice, &mut ids);
                    cache.words.insert(word.into(), ids[first..].into());
                }
            }
        });
        ids
    }

    /// The normalised text as characters: runs of spaces as one `▁`, a `▁` in front.
    fn normalize(&self, text: &str) -> Vec<char> {
        let mapped = self.charsmap.normalize_string(text);
        let trimmed = mapped.trim();
        let mut chars = Vec::with_capacity(trimmed.len() + 1);
        if !trimmed.is_empty() && !trimmed.starts_with(META) {
            chars.push(META);
        }
        let mut after_space = false;
        for c in trimmed.chars() {
            if c == ' ' {
                if !after_space {
                    chars.push(META);
                }
                after_space = true;
            } else {
                chars.push(c);
                after_space = false;
            }
        }
        chars
    }

    /// Appends the ids of one word's best path to `ids`.
    fn encode_word(&self, word: &[char], lattice: &mut Vec<Cell>, ids: &mut Vec<u32>) {
        let n = word.len();
        lattice.clear();
        lattice.resize(n + 1, UNREACHED);
        lattice[0].from = 0;
        for start in 0..n {
            let base = lattice[start].score;
            let mut single = false;
            let mut node = self.trie.root();
            for (end, &c) in word.iter().enumerate().skip(start) {
                let Some(child) = self.trie.child(node, c) else {
                    break;
                };
                node = child;
                if node >= self.trie.pieces {
                    continue;
                }
                single |= end == start;
                offer(
                    &mut lattice[end + 1],
                    base + self.scores[node as usize],
                    start,
                    node,
                );
            }
            if !single {
                offer(
                    &mut lattice[start + 1],
                    base + self.unk_score,
                    start,
                    self.unk_id,
                );
            }
        }
        self.push_path(word, lattice, ids);
    }

    /// Appends the path ending at the lattice's last cell, unknown runs fused.
    fn push_path(&self, word: &[char], lattice: &[Cell], ids: &mut Vec<u32>) {
        let first = ids.len();
        let mut end = word.len();
        // End of the run of unknown pieces being fused (walking backwards), if any.
        let mut unknown_end = None;
        while end > 0 {
            let cell = lattice[end];
            let from = cell.from as usize;
            if cell.id == self.unk_id {
                unknown_end.get_or_insert(end);
            } else {
                if let Some(run_end) = unknown_end.take() {
                    ids.push(self.fused(&word[end..run_end]));
                }
                ids.push(cell.id);
            }
            end = from;
        }
        if let Some(run_end) = unknown_end {
            ids.push(self.fused(&word[..run_end]));
        }
        ids[first..].reverse();
    }

    /// The id of a run of unknown pieces fused into one token: the piece it spells, if any.
    fn fused(&self, chars: &[char]) -> u32 {
        self.trie.piece_of(chars).unwrap_or(self.unk_id)
    }
}

/// Takes a candidate path into `cell` when it is the first or strictly better.
#[inline]
fn offer(cell: &mut Cell, score: f64, from: usize, id: u32) {
    if cell.from == u32::MAX || score > cell.score {
        *cell = Cell {
            score,
            from: from as u32,
            id,
        };
    }
}

/// The words of a normalised text: each `▁` starts one.
fn words(chars: &[char]) -> impl Iterator<Item = &[char]> {
    let mut rest = chars;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let len = rest[1..]
            .iter()
            .position(|&c| c == META)
            .map_or(rest.len(), |p| p + 1);
        let (word, tail) = rest.split_at(len);
        rest = tail;
        Some(word)
    })
}

/// The charsmap of a normaliser that is exactly [Precompiled, collapse runs of spaces, strip].
fn charsmap_of(normalizer: Value) -> Option<Precompiled> {
    let Value::Object(mut sequence) = normalizer else {
        return None;
    };
    if sequence.get("type")? != "Sequence" {
        return None;
    }
    let Value::Array(steps) = sequence.remove("normalizers")? else {
        return None;
    };
    let rest_supported = steps.len() == 3
        && steps[1]
            == serde_json::json!({"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "})
        && steps[2]
            == serde_json::json!({"type": "Strip", "strip_left": true, "strip_right": true});
    if !rest_supported || steps[0].get("type")? != "Precompiled" {
        return None;
    }
    // Its base64 field deserializes only from borrowed text, not from a `Value`.
    let text = serde_json::to_string(&steps[0]).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    fn model_file() -> Vec<u8> {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/model/tokenizer.json");
        std::fs::read(path).expect("data/model/tokenizer.json")
    }

    /// Every line of data/digests as written (English and Chinese, markup included), each pair
    /// of neighbouring lines joined by a newline, and texts made to hit the rare paths.
    fn texts() -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digests");
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .expect("data/digests")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        paths.sort();
        let mut texts = Vec::new();
        for path in paths {
            let text = std::fs::read_to_string(path).expect("digest");
            let lines: Vec<&str> = text.split('\n').collect();
            texts.extend(lines.iter().map(|l| l.to_string()));
            // Newlines inside a text: a few joined pairs per file are enough.
            texts.extend(
                lines
                    .windows(2)
                    .step_by(64)
                    .map(|w| format!("{}\n{}", w[0], w[1])),
            );
        }
        let rare = [
            "",
            " ",
            "  \t\n ",
            "a  b\t\tc\r\nd",
            "\u{3000}全角\u{3000}\u{3000}空格\u{3000}",
            "a\u{2581} b",
            "\u{2581}\u{2581}x\u{2581}",
            "<unk> <s></s> extra_token_id_1",
            "e\u{301}te\u{301}\u{301}\u{301}\u{301}",
            "👩\u{200d}💻 🇨🇳🇺🇸 ﬁ ℌ ①",
            "각 한국어",
            "ꙮ𓀀𓀁 𐍈x𐍈",
            "\u{7f}\u{0}\u{1b}[0m",
            "ＡＢＣ１２３！？（）",
        ];
        texts.extend(rare.iter().map(|t| t.to_string()));
        texts
    }

    #[test]
    fn ids_equal_the_tokenizers_crates_on_all_of_data() {
        let bytes = model_file();
        let ours = SpmTokenizer::from_json(&bytes).expect("the shipped configuration");
        let theirs = tokenizers::Tokenizer::from_bytes(&bytes).expect("tokenizer.json");
        let texts = texts();
        let differing: Vec<&String> = texts
            .par_iter()
            .filter(|t| {
                let expected = theirs.encode_fast(t.as_str(), false).expect("encodes");
                ours.encode(t) != expected.get_ids()
            })
            .collect();
        assert!(texts.len() > 60_000, "{} texts", texts.len());
        assert!(
            differing.is_empty(),
            "{} differ, first: {:?}",
            differing.len(),
            differing.first()
        );
    }

    #[test]
    fn other_configurations_are_left_to_the_crate() {
        let text = String::from_utf8(model_file()).expect("utf-8");
        let split_off = text.replacen("\"split\":true", "\"split\":false", 1);
        assert!(SpmTokenizer::from_json(split_off.as_bytes()).is_none());
        assert!(SpmTokenizer::from_json(b"{}").is_none());
    }

    #[test]
    fn words_start_at_each_metaspace() {
        let chars: Vec<char> = "▁a▁▁bc▁".chars().collect();
        let words: Vec<String> = words(&chars).map(|w| w.iter().collect()).collect();
        assert_eq!(words, ["▁a", "▁", "▁bc", "▁"]);
    }
}
