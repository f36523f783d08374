//! Text -> unit-length `f32` vector with the static bilingual model in `data/model/`
//! (distilled from USE multilingual v3 by `tools/distill_model.py`).
//!
//! A text's vector is the sum of its SentencePiece tokens' rows (SIF weights are folded into the
//! rows), normalised to unit length, so cosine similarity is a dot product. The model is loaded
//! once; embedding many texts runs in parallel.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use safetensors::{Dtype, SafeTensors};
use tokenizers::Tokenizer;

use crate::error::{Error, Result};
use crate::paper::Paper;
use serde::{Deserialize, Serialize};

/// The tokenizer file of a model directory.
pub(crate) const TOKENIZER_FILE: &str = "tokenizer.json";
/// The weights file of a model directory.
pub(crate) const WEIGHTS_FILE: &str = "model.safetensors";

/// Token rows, as stored: int8 with a per-row scale (the shipped model) or f16 (for comparison).
enum Rows {
    Int8 { values: Vec<i8>, scales: Vec<f32> },
    Float(Vec<f32>),
}

/// A loaded embedding model: text in, unit vector out.
pub struct Embedder {
    tokenizer: Tokenizer,
    rows: Rows,
    vocab: usize,
    dims: usize,
    model_id: String,
    checksum: String,
}

fn model_error(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::Model {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Where the embedding model comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ModelSource {
    /// The model built into the binary (`data/model/` at build time), so an installed
    /// `paperscope` needs no files beside it.
    #[default]
    Shipped,
    /// A model directory holding `tokenizer.json` and `model.safetensors`.
    Dir(PathBuf),
}

impl ModelSource {
    /// Loads the model.
    pub fn load(&self) -> Result<Embedder> {
        match self {
            ModelSource::Shipped => Embedder::shipped(),
            ModelSource::Dir(dir) => Embedder::load(dir),
        }
    }
}

/// The shipped model's files, compiled in: ~37 MB of the binary, and no lookup rule that could
/// fail on a machine where the source tree is not.
static SHIPPED_TOKENIZER: &[u8] = include_bytes!("../data/model/tokenizer.json");
static SHIPPED_WEIGHTS: &[u8] = include_bytes!("../data/model/model.safetensors");

impl Embedder {
    /// The model shipped with paperscope (built into the binary).
    pub fn shipped() -> Result<Self> {
        Self::from_bytes(
            SHIPPED_TOKENIZER,
            SHIPPED_WEIGHTS,
            Path::new("<built-in model>"),
        )
    }

    /// Loads the model in `dir` (`tokenizer.json` and `model.safetensors`).
    pub fn load(dir: &Path) -> Result<Self> {
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
    fn from_bytes(tokenizer: &[u8], weights: &[u8], origin: &Path) -> Result<Self> {
        let tokenizer_path = origin.join(TOKENIZER_FILE);
        let tokenizer = Tokenizer::from_bytes(tokenizer)
            .map_err(|e| model_error(&tokenizer_path, format!("not a tokenizer.json ({e})")))?;
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
        if stored != vocab * dims || tokenizer.get_vocab_size(false) > vocab {
            return Err(model_error(
                &weights_path,
                "table size does not match the tokenizer",
            ));
        }
        Ok(Embedder {
            tokenizer,
            rows,
            vocab,
            dims,
            model_id,
            checksum: format!("crc32:{:08x}", crc32fast::hash(bytes)),
        })
    }

    /// Vector dimensions.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The model's name, from its weights file.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// A fast fingerprint of the weights file (CRC-32), recorded in each index manifest.
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    /// Token ids of `text` (no special tokens); empty when tokenization fails.
    pub fn token_ids(&self, text: &str) -> Vec<u32> {
        self.tokenizer
            .encode_fast(text, false)
            .map(|e| e.get_ids().to_vec())
            .unwrap_or_default()
    }

    /// The unit-length vector of `text`; all zeros for a text with no tokens.
    pub fn embed(&self, text: &str) -> Vec<f32> {
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
            Rows::Int8 { values, scales } => {
                let scale = scales[id];
                for (x, &q) in v.iter_mut().zip(&values[range]) {
                    *x += scale * f32::from(q);
                }
            }
            Rows::Float(values) => {
                for (x, &r) in v.iter_mut().zip(&values[range]) {
                    *x += r;
                }
            }
        }
    }

    /// Embeds many texts in parallel, calling `on_done` after each.
    pub fn embed_batch<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        on_done: impl Fn() + Sync,
    ) -> Vec<Vec<f32>> {
        texts
            .par_iter()
            .map(|t| {
                let v = self.embed(t.as_ref());
                on_done();
                v
            })
            .collect()
    }
}

/// Scales `v` to unit length in place (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Dot product. Eight independent partial sums let the compiler use SIMD lanes (a single running
/// float sum cannot be reordered, so it stays scalar: measured 4x slower on 256 dims).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// Normalised sum of several unit vectors (their "mean direction").
pub(crate) fn mean_direction(vectors: &[&[f32]]) -> Vec<f32> {
    let dims = vectors.first().map_or(0, |v| v.len());
    let mut sum = vec![0f32; dims];
    for v in vectors {
        for (s, x) in sum.iter_mut().zip(v.iter()) {
            *s += x;
        }
    }
    normalize(&mut sum);
    sum
}

/// The SHA-256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// How a paper's vector is made from its fields (measured in BENCHMARKS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recipe {
    /// One text of everything, both languages.
    OneText,
    /// Mean direction of the one-text vector and a titles vector (titles + summary).
    OneTextPlusTitles,
    /// Mean direction of the English-side and Chinese-side vectors.
    Sides,
    /// Mean direction of the English side, the Chinese side and the titles.
    SidesPlusTitles,
}

impl Recipe {
    /// Every recipe, for comparisons.
    pub const ALL: [Recipe; 4] = [
        Recipe::OneText,
        Recipe::OneTextPlusTitles,
        Recipe::Sides,
        Recipe::SidesPlusTitles,
    ];
}

/// English title and abstract.
pub(crate) fn english_side(p: &Paper) -> String {
    format!("{}. {}", p.title_en, p.abstract_en)
}

/// Chinese title, one-line summary and abstract.
pub(crate) fn chinese_side(p: &Paper) -> String {
    format!("{}。{}。{}", p.title_zh, p.summary_zh, p.abstract_zh)
}

fn titles(p: &Paper) -> String {
    format!("{}. {}。{}", p.title_en, p.title_zh, p.summary_zh)
}

impl Embedder {
    /// The vector of a paper, made from its fields by `recipe`.
    pub(crate) fn paper_vector(&self, p: &Paper, recipe: Recipe) -> Vec<f32> {
        match recipe {
            Recipe::OneText => self.embed(&format!("{} {}", english_side(p), chinese_side(p))),
            Recipe::OneTextPlusTitles => {
                let all = self.embed(&format!("{} {}", english_side(p), chinese_side(p)));
                mean_direction(&[&all, &self.embed(&titles(p))])
            }
            Recipe::Sides => {
                mean_direction(&[&self.embed(&english_side(p)), &self.embed(&chinese_side(p))])
            }
            Recipe::SidesPlusTitles => mean_direction(&[
                &self.embed(&english_side(p)),
                &self.embed(&chinese_side(p)),
                &self.embed(&titles(p)),
            ]),
        }
    }

    /// The vectors of many papers in parallel, calling `on_done` after each.
    pub fn paper_vectors(
        &self,
        papers: &[Paper],
        recipe: Recipe,
        on_done: impl Fn() + Sync,
    ) -> Vec<Vec<f32>> {
        papers
            .par_iter()
            .map(|p| {
                let v = self.paper_vector(p, recipe);
                on_done();
                v
            })
            .collect()
    }
}
