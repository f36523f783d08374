//! The static bilingual model in `data/model/` (distilled from USE multilingual v3 by
//! `tools/distill_model.py`): a text's vector is the sum of its SentencePiece tokens' rows (SIF
//! weights are folded into the rows), normalised to unit length.

use std::path::Path;

use safetensors::{Dtype, SafeTensors};
use tokenizers::Tokenizer;

use super::loaded::{Loaded, model_error};
use super::static_tokenizer::SpmTokenizer;
use super::vector::normalize;
use crate::error::Result;

/// The tokenizer file of a model directory.
pub(crate) const TOKENIZER_FILE: &str = "tokenizer.json";
/// The weights file of a model directory.
pub(crate) const WEIGHTS_FILE: &str = "model.safetensors";

/// Token rows, as stored: int8 with a per-row scale (the shipped model) or f16 (for comparison).
enum Rows {
    Int8 { values: Vec<i8>, scales: Vec<f32> },
    Float(Vec<f32>),
}

/// The tokenizer of a model: our own for the configuration the shipped model has (ids checked
/// equal to the crate's), the `tokenizers` crate for any other `tokenizer.json`.
enum TextTokenizer {
    Spm(SpmTokenizer),
    Crate(Box<Tokenizer>),
}

impl TextTokenizer {
    fn from_bytes(bytes: &[u8], path: &Path) -> Result<TextTokenizer> {
        if let Some(spm) = SpmTokenizer::from_json(bytes) {
            return Ok(TextTokenizer::Spm(spm));
        }
        Tokenizer::from_bytes(bytes)
            .map(|t| TextTokenizer::Crate(Box::new(t)))
            .map_err(|e| model_error(path, format!("not a tokenizer.json ({e})")))
    }

    fn vocab_size(&self) -> usize {
        match self {
            TextTokenizer::Spm(t) => t.vocab_size(),
            TextTokenizer::Crate(t) => t.get_vocab_size(false),
        }
    }

    fn encode(&self, text: &str) -> Vec<u32> {
        match self {
            TextTokenizer::Spm(t) => t.encode(text),
            TextTokenizer::Crate(t) => t
                .encode_fast(text, false)
                .map(|e| e.get_ids().to_vec())
                .unwrap_or_default(),
        }
    }
}

/// The loaded static model.
pub(super) struct StaticModel {
    tokenizer: TextTokenizer,
    rows: Rows,
    vocab: usize,
    dims: usize,
}

/// The shipped model's files, compiled in: ~37 MB of the binary, and no lookup rule that could
/// fail on a machine where the source tree is not.
static SHIPPED_TOKENIZER: &[u8] = include_bytes!("../../data/model/tokenizer.json");
static SHIPPED_WEIGHTS: &[u8] = include_bytes!("../../data/model/model.safetensors");

impl StaticModel {
    /// The model shipped with paperscope (built into the binary).
    pub(super) fn shipped() -> Result<Loaded<Self>> {
        Self::from_bytes(
            SHIPPED_TOKENIZER,
            SHIPPED_WEIGHTS,
            Path::new("<built-in model>"),
        )
    }

    /// Loads the model in `dir` (`tokenizer.json` and `model.safetensors`).
    pub(super) fn load(dir: &Path) -> Result<Loaded<Self>> {
        let tokenizer_path = dir.join(TOKENIZER_FILE);
        if !tokenizer_path.is_file() {
            return Err(model_error(&tokenizer_path, "file is missing"));
        }
        let tokenizer =
            std::fs::read(&tokenizer_path).map_err(|e| model_error(&tokenizer_path, e))?;
        let weights_path = dir.join(WEIGHTS_FILE);
        let weights = std::fs::read(&weights_path).map_err(|e| model_error(&weights_path, e))?;
        Self::from_bytes(&tokenizer, &weights, dir)
    }

    /// A model from the bytes of its two files; `origin` names them in errors.
    fn from_bytes(tokenizer: &[u8], weights: &[u8], origin: &Path) -> Result<Loaded<Self>> {
        let tokenizer_path = origin.join(TOKENIZER_FILE);
        let tokenizer = TextTokenizer::from_bytes(tokenizer, &tokenizer_path)?;
        let weights_path = origin.join(WEIGHTS_FILE);
        let bytes = weights;
        let tensors = SafeTensors::deserialize(bytes)
            .map_err(|e| model_error(&weights_path, format!("not a safetensors file ({e})")))?;
        let (_, metadata) =
            SafeTensors::read_metadata(bytes).map_err(|e| model_error(&weights_path, e))?;
        let model_id = metadata
            .metadata()
            .as_ref()
            .and_then(|m| m.get("model_id").cloned())
            .ok_or_else(|| model_error(&weights_path, "no model_id in the metadata"))?;
        let embeddings = tensors
            .tensor("embeddings")
            .map_err(|e| model_error(&weights_path, format!("no `embeddings` tensor ({e})")))?;
        let [vocab, dims] = embeddings.shape() else {
            return Err(model_error(&weights_path, "`embeddings` is not a matrix"));
        };
        let (vocab, dims) = (*vocab, *dims);
        let rows = match embeddings.dtype() {
            Dtype::I8 => {
                let scales = tensors
                    .tensor("scales")
                    .map_err(|e| model_error(&weights_path, format!("no `scales` tensor ({e})")))?;
                if scales.dtype() != Dtype::F32 || scales.shape() != [vocab] {
                    return Err(model_error(&weights_path, "`scales` must be f32 [vocab]"));
                }
                Rows::Int8 {
                    values: embeddings.data().iter().map(|&b| b as i8).collect(),
                    scales: scales
                        .data()
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                }
            }
            Dtype::F16 => Rows::Float(
                embeddings
                    .data()
                    .chunks_exact(2)
                    .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                    .collect(),
            ),
            other => {
                return Err(model_error(
                    &weights_path,
                    format!("unsupported dtype {other:?}"),
                ));
            }
        };
        let stored = match &rows {
            Rows::Int8 { values, .. } => values.len(),
            Rows::Float(values) => values.len(),
        };
        if stored != vocab * dims || tokenizer.vocab_size() > vocab {
            return Err(model_error(
                &weights_path,
                "table size does not match the tokenizer",
            ));
        }
        Ok(Loaded {
            model: StaticModel {
                tokenizer,
                rows,
                vocab,
                dims,
            },
            model_id,
            checksum: format!("crc32:{:08x}", crc32fast::hash(bytes)),
        })
    }

    /// Vector dimensions.
    pub(super) fn dims(&self) -> usize {
        self.dims
    }

    /// Token ids of `text` (no special tokens); empty when tokenization fails.
    pub(super) fn token_ids(&self, text: &str) -> Vec<u32> {
        self.tokenizer.encode(text)
    }

    /// The unit-length vector of `text`; all zeros for a text with no tokens.
    pub(super) fn embed(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0f32; self.dims];
        for id in self.token_ids(text) {
            self.add_row(id as usize, &mut v);
        }
        normalize(&mut v);
        v
    }

    fn add_row(&self, id: usize, v: &mut [f32]) {
        if id >= self.vocab {
            return;
        }
        let range = id * self.dims..(id + 1) * self.dims;
        match &self.rows {
            Rows::Int8 { values, scales } => add_scaled(v, &values[range], scales[id]),
            Rows::Float(values) => {
                for (x, &r) in v.iter_mut().zip(&values[range]) {
                    *x += r;
                }
            }
        }
    }
}

/// `v += scale * row`, with AVX2 when the CPU has it: the release build targets baseline x86-64
/// (4 lanes), and at ~300 tokens a text this is a quarter of the embedding once the tokenizer
/// is fast. A multiply then an add, never fused, so each lane rounds as the portable loop does
/// and the vectors stay bit for bit the same.
fn add_scaled(v: &mut [f32], row: &[i8], scale: f32) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { add_scaled_avx2(v, row, scale) };
    }
    add_scaled_portable(v, row, scale);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn add_scaled_avx2(v: &mut [f32], row: &[i8], scale: f32) {
    add_scaled_portable(v, row, scale);
}

/// Inlined into the AVX2 function above, where the compiler vectorises it 8 lanes wide.
#[inline(always)]
fn add_scaled_portable(v: &mut [f32], row: &[i8], scale: f32) {
    for (x, &q) in v.iter_mut().zip(row) {
        *x += scale * f32::from(q);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::Recipe;

    /// The vectors as they were made before this crate had its own tokenizer: the `tokenizers`
    /// crate's ids, rows added one value at a time.
    fn vector_as_before(model: &StaticModel, crate_tokenizer: &Tokenizer, text: &str) -> Vec<f32> {
        let Rows::Int8 { values, scales } = &model.rows else {
            panic!("the shipped model is int8");
        };
        let ids = crate_tokenizer.encode_fast(text, false).expect("encodes");
        let mut v = vec![0f32; model.dims];
        for &id in ids.get_ids() {
            let id = id as usize;
            let row = &values[id * model.dims..(id + 1) * model.dims];
            for (x, &q) in v.iter_mut().zip(row) {
                *x += scales[id] * f32::from(q);
            }
        }
        normalize(&mut v);
        v
    }

    #[test]
    fn vectors_of_real_papers_are_those_of_the_tokenizers_crate_bit_for_bit() {
        let model = StaticModel::shipped().expect("shipped model").model;
        assert!(matches!(model.tokenizer, TextTokenizer::Spm(_)));
        let crate_tokenizer = Tokenizer::from_bytes(SHIPPED_TOKENIZER).expect("tokenizer.json");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digests");
        let files = crate::digest::digest_files(&[dir]).expect("data/digests");
        let files: Vec<_> = files.into_iter().step_by(8).collect();
        let papers = crate::digest::load(&files, || {}).expect("digests").papers;
        assert!(papers.len() > 100, "{} papers", papers.len());
        for paper in &papers {
            for text in Recipe::SidesPlusTitles.texts(paper) {
                let before = vector_as_before(&model, &crate_tokenizer, &text);
                assert_eq!(model.embed(&text), before, "{text}");
            }
        }
    }
}
