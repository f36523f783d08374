//! Loading e5 from `data/model/e5/model.safetensors` (written by `tools/convert_e5.py`), and the
//! model's text-level work: prefixes, cutting, batching texts of similar length.
//!
//! The encoder's 4-bit (ggml Q4_0) matrices are dequantized to f32 at load (21M weights): the f32
//! GEMM path is much faster here than 4-bit kernels. The 112,728-row token table stays 4-bit and
//! borrowed from the file's bytes; only the rows a text uses are dequantized.

use std::borrow::Cow;
use std::path::Path;

use ndarray::Array2;
use rayon::prelude::*;
use safetensors::{Dtype, SafeTensors};

use super::encoder::{Encoder, Layer, Scratch, TokenTable};
use super::q4::{BLOCK, BLOCK_BYTES, dequantize_block};
use super::tokenizer::Tokenizer;
use crate::embed::kernel::{PassageKernel, passage_kernel};
use crate::embed::loaded::{Loaded, model_error};
use crate::error::Result;

/// Passages are cut to this many tokens, `<s>` and `</s>` included (the model reads up to 512):
/// an abstract's first 128 tokens carry most of its meaning and cost a quarter of 512 (attention
/// grows with the square). The retrieval measurements (BENCHMARKS.md) were made with it.
pub const MAX_PASSAGE_TOKENS: usize = 128;

/// The model shipped in the binary.
static SHIPPED: &[u8] = include_bytes!("../../../data/model/e5/model.safetensors");

/// Tokens per batch of texts run through the encoder together on the integer kernels: a text of
/// the 128-token cut, or a few short ones. They run at full speed from a few rows, and a batch's
/// activations then stay in L2 while the weights stream past (at 1,024 tokens the feed-forward
/// layer's 6 MB did not: 27 -> 33-41 texts/s on two cores, measured with `e5_kernels speed`).
const INT8_BATCH_TOKENS: usize = 128;

/// Tokens per batch on the f32 path: its GEMM packs the weights for each product, which pays
/// off over many rows (at 128 tokens it ran 25% slower).
const F32_BATCH_TOKENS: usize = 1024;

/// Tokens per batch for this process's passage kernel.
fn batch_tokens() -> usize {
    match passage_kernel() {
        PassageKernel::F32 => F32_BATCH_TOKENS,
        PassageKernel::Int8(_) => INT8_BATCH_TOKENS,
    }
}

/// Which prefix a text takes (e5 was trained with them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::embed) enum Side {
    Query,
    Passage,
}

impl Side {
    fn prefix(self) -> &'static str {
        match self {
            Side::Query => "query: ",
            Side::Passage => "passage: ",
        }
    }
}

/// multilingual-e5-small: tokenizer and encoder.
pub(in crate::embed) struct E5Model {
    tokenizer: Tokenizer,
    encoder: Encoder,
    bos: u32,
    eos: u32,
    unk: u32,
}

/// Tensors and metadata of the weights file, each error naming the file.
struct Reader<'a> {
    tensors: SafeTensors<'a>,
    metadata: std::collections::HashMap<String, String>,
    path: &'a Path,
}

impl<'a> Reader<'a> {
    fn tensor(&self, name: &str, dtype: Dtype) -> Result<&'a [u8]> {
        let view = self
            .tensors
            .tensor(name)
            .map_err(|e| model_error(self.path, format!("no `{name}` tensor ({e})")))?;
        if view.dtype() != dtype {
            return Err(model_error(self.path, format!("`{name}` is not {dtype:?}")));
        }
        Ok(view.data())
    }

    fn u32s(&self, name: &str) -> Result<Vec<u32>> {
        Ok(self
            .tensor(name, Dtype::U32)?
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    fn f32s(&self, name: &str, len: usize) -> Result<Vec<f32>> {
        let values: Vec<f32> = self
            .tensor(name, Dtype::F32)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if values.len() != len {
            return Err(model_error(
                self.path,
                format!("`{name}` has {} values, not {len}", values.len()),
            ));
        }
        Ok(values)
    }

    /// A Q4_0 matrix of `rows` x `cols`, dequantized.
    fn q4_matrix(&self, name: &str, rows: usize, cols: usize) -> Result<Array2<f32>> {
        self.q4_stacked(&[name], rows, cols)
    }

    /// Q4_0 matrices of `rows` x `cols` each, dequantized straight into one matrix stacked
    /// row-wise: a stack made by concatenating afterwards would write its 1.8 MB a layer twice,
    /// and memory writes are most of a cold start's load time.
    fn q4_stacked(&self, names: &[&str], rows: usize, cols: usize) -> Result<Array2<f32>> {
        let mut values = vec![0f32; names.len() * rows * cols];
        for (name, out) in names.iter().zip(values.chunks_exact_mut(rows * cols)) {
            let bytes = self.tensor(name, Dtype::U8)?;
            if bytes.len() != rows * cols / BLOCK * BLOCK_BYTES {
                return Err(model_error(
                    self.path,
                    format!("`{name}` has the wrong size"),
                ));
            }
            for (block, out) in bytes
                .chunks_exact(BLOCK_BYTES)
                .zip(out.chunks_exact_mut(BLOCK))
            {
                dequantize_block(block, out);
            }
        }
        Array2::from_shape_vec((names.len() * rows, cols), values)
            .map_err(|e| model_error(self.path, format!("`{}`: {e}", names.join("+"))))
    }

    fn number<T: std::str::FromStr>(&self, key: &str) -> Result<T> {
        self.metadata
            .get(key)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| model_error(self.path, format!("metadata `{key}` is missing or bad")))
    }
}

impl E5Model {
    /// The model built into the binary.
    pub(in crate::embed) fn shipped() -> Result<Loaded<Self>> {
        Self::from_bytes(
            Cow::Borrowed(SHIPPED),
            Path::new("<built-in model>/e5/model.safetensors"),
        )
    }

    /// The model in the file `path`.
    pub(in crate::embed) fn load(path: &Path) -> Result<Loaded<Self>> {
        let bytes = std::fs::read(path).map_err(|e| model_error(path, e))?;
        Self::from_bytes(Cow::Owned(bytes), path)
    }

    fn from_bytes(bytes: Cow<'static, [u8]>, path: &Path) -> Result<Loaded<Self>> {
        // The weights' CRC: what an index records. The cache key adds the passage kernel
        // (`Embedder::cache_key`).
        let checksum = format!("crc32:{:08x}", crc32fast::hash(&bytes));
        let (parts, word_start) = {
            let tensors = SafeTensors::deserialize(&bytes)
                .map_err(|e| model_error(path, format!("not a safetensors file ({e})")))?;
            let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| model_error(path, e))?;
            let reader = Reader {
                tensors,
                metadata: meta.metadata().clone().unwrap_or_default(),
                path,
            };
            let word = reader.tensor("emb.word", Dtype::U8)?;
            let word_start = word.as_ptr() as usize - bytes.as_ptr() as usize;
            (Parts::read(&reader)?, word_start..word_start + word.len())
        };
        let Parts {
            tokenizer,
            hidden,
            layers,
            heads,
            eps,
            pos,
            type0,
            ln,
            model_id,
            specials: [bos, eos, unk],
        } = parts;
        let rows = tokenizer.ids.len();
        let row_bytes = hidden / BLOCK * BLOCK_BYTES;
        if word_start.len() != rows * row_bytes {
            return Err(model_error(
                path,
                "token table does not match the tokenizer",
            ));
        }
        let [bos, eos, unk] = [bos, eos, unk].map(|id| tokenizer.row_of(id));
        let (Some(bos), Some(eos), Some(unk)) = (bos, eos, unk) else {
            return Err(model_error(path, "a special token is missing"));
        };
        let word = TokenTable::new(bytes, word_start, hidden);
        Ok(Loaded {
            model: E5Model {
                tokenizer,
                encoder: Encoder {
                    hidden,
                    heads,
                    eps,
                    word,
                    pos,
                    type0,
                    ln,
                    layers,
                    query_path: Default::default(),
                    passage_path: Default::default(),
                },
                bos,
                eos,
                unk,
            },
            model_id,
            checksum,
        })
    }

    pub(in crate::embed) fn dims(&self) -> usize {
        self.encoder.hidden()
    }

    /// Model ids of `text`'s tokens.
    pub(in crate::embed) fn token_ids(&self, text: &str) -> Vec<u32> {
        self.tokenizer
            .encode(text)
            .into_iter()
            .map(|row| self.tokenizer.ids[row.unwrap_or(self.unk) as usize])
            .collect()
    }

    /// The token-table rows the encoder reads for `text`: `<s>`, prefix + text, `</s>`; a passage
    /// is cut to [`MAX_PASSAGE_TOKENS`] (the package itself never cuts; it windows at 512).
    fn input_rows(&self, text: &str, side: Side) -> Vec<u32> {
        let content = self.tokenizer.encode(&format!("{}{text}", side.prefix()));
        let limit = match side {
            Side::Query => super::encoder::MAX_POSITIONS,
            Side::Passage => MAX_PASSAGE_TOKENS,
        };
        let mut rows = Vec::with_capacity(content.len().min(limit) + 2);
        rows.push(self.bos);
        rows.extend(
            content
                .iter()
                .take(limit - 2)
                .map(|r| r.unwrap_or(self.unk)),
        );
        rows.push(self.eos);
        rows
    }

    /// One text's vector.
    pub(in crate::embed) fn embed_one(&self, text: &str, side: Side) -> Vec<f32> {
        let rows = self.input_rows(text, side);
        let mut out = vec![vec![0f32; self.dims()]];
        self.encoder
            .forward(&[rows.as_slice()], &mut Scratch::default(), &mut out);
        out.pop().unwrap_or_default()
    }

    /// Many texts' vectors, in order: tokenized in parallel, sorted by length, run in batches of
    /// about [`batch_tokens`] tokens (no padding: a batch is its texts' tokens end to end).
    pub(in crate::embed) fn embed_many<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        side: Side,
        on_done: &(impl Fn(usize) + Sync),
    ) -> Vec<Vec<f32>> {
        let inputs: Vec<Vec<u32>> = texts
            .par_iter()
            .map(|t| self.input_rows(t.as_ref(), side))
            .collect();
        let mut order: Vec<usize> = (0..inputs.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(inputs[i].len()));
        let batches = batches(&order, |i| inputs[i].len(), batch_tokens());
        let done: Vec<(Vec<usize>, Vec<Vec<f32>>)> = batches
            .into_par_iter()
            .map_init(Scratch::default, |scratch, batch| {
                let seqs: Vec<&[u32]> = batch.iter().map(|&i| inputs[i].as_slice()).collect();
                let mut out = vec![vec![0f32; self.dims()]; batch.len()];
                self.encoder.forward(&seqs, scratch, &mut out);
                on_done(batch.len());
                (batch, out)
            })
            .collect();
        let mut vectors = vec![Vec::new(); texts.len()];
        for (batch, out) in done {
            for (i, v) in batch.into_iter().zip(out) {
                vectors[i] = v;
            }
        }
        vectors
    }
}

/// Consecutive runs of `order` whose lengths add up to at most `limit` (at least one text).
fn batches(order: &[usize], len: impl Fn(usize) -> usize, limit: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut tokens = 0;
    for &i in order {
        match out.last_mut() {
            Some(batch) if tokens + len(i) <= limit => batch.push(i),
            _ => {
                out.push(vec![i]);
                tokens = 0;
            }
        }
        tokens += len(i);
    }
    out
}

/// Everything but the token table, read from the file.
struct Parts {
    tokenizer: Tokenizer,
    hidden: usize,
    layers: Vec<Layer>,
    heads: usize,
    eps: f32,
    pos: Vec<f32>,
    type0: Vec<f32>,
    ln: [Vec<f32>; 2],
    model_id: String,
    specials: [u32; 3],
}

impl Parts {
    fn read(r: &Reader) -> Result<Parts> {
        let hidden: usize = r.number("hidden")?;
        let heads: usize = r.number("heads")?;
        let ff: usize = r.number("ff")?;
        let n_layers: usize = r.number("layers")?;
        let max_positions: usize = r.number("max_positions")?;
        if !hidden.is_multiple_of(BLOCK)
            || !ff.is_multiple_of(BLOCK)
            || heads == 0
            || !hidden.is_multiple_of(heads)
        {
            return Err(model_error(r.path, "bad dimensions in the metadata"));
        }
        let layers = (0..n_layers)
            .into_par_iter()
            .map(|l| read_layer(r, l, hidden, ff))
            .collect::<Result<Vec<_>>>()?;
        let tokenizer = read_tokenizer(r)?;
        let type_values = r.f32s("emb.type", r.number::<usize>("type_vocab")? * hidden)?;
        Ok(Parts {
            hidden,
            heads,
            eps: r.number("eps")?,
            pos: r.f32s("emb.pos", max_positions * hidden)?,
            type0: type_values[..hidden].to_vec(),
            ln: [r.f32s("emb.ln.w", hidden)?, r.f32s("emb.ln.b", hidden)?],
            model_id: r
                .metadata
                .get("model_id")
                .cloned()
                .ok_or_else(|| model_error(r.path, "no model_id in the metadata"))?,
            specials: [r.number("bos")?, r.number("eos")?, r.number("unk")?],
            tokenizer,
            layers,
        })
    }
}

fn read_layer(r: &Reader, l: usize, hidden: usize, ff: usize) -> Result<Layer> {
    let name = |s: &str| format!("l{l}.{s}");
    let qkv_w = r.q4_stacked(&[&name("q.w"), &name("k.w"), &name("v.w")], hidden, hidden)?;
    let mut qkv_b = r.f32s(&name("q.b"), hidden)?;
    qkv_b.extend(r.f32s(&name("k.b"), hidden)?);
    qkv_b.extend(r.f32s(&name("v.b"), hidden)?);
    Ok(Layer {
        qkv_w,
        qkv_b,
        ao_w: r.q4_matrix(&name("ao.w"), hidden, hidden)?,
        ao_b: r.f32s(&name("ao.b"), hidden)?,
        aln: [
            r.f32s(&name("aln.w"), hidden)?,
            r.f32s(&name("aln.b"), hidden)?,
        ],
        fi_w: r.q4_matrix(&name("fi.w"), ff, hidden)?,
        fi_b: r.f32s(&name("fi.b"), ff)?,
        fo_w: r.q4_matrix(&name("fo.w"), hidden, ff)?,
        fo_b: r.f32s(&name("fo.b"), hidden)?,
        oln: [
            r.f32s(&name("oln.w"), hidden)?,
            r.f32s(&name("oln.b"), hidden)?,
        ],
    })
}

fn read_tokenizer(r: &Reader) -> Result<Tokenizer> {
    let pieces = r.tensor("tok.pieces", Dtype::U8)?.to_vec();
    let offsets = r.u32s("tok.offsets")?;
    let ids = r.u32s("tok.ids")?;
    let scores = r.f32s("tok.scores", ids.len())?;
    let hash = r.u32s("tok.hash")?;
    let norm_cp = r.u32s("tok.norm_cp")?;
    let norm_off = r.u32s("tok.norm_off")?;
    let norm_out = r.u32s("tok.norm_out")?;
    let consistent = offsets.len() == ids.len() + 1
        && offsets.windows(2).all(|w| w[0] <= w[1])
        && offsets
            .last()
            .is_some_and(|&end| end as usize == pieces.len())
        && ids.windows(2).all(|w| w[0] < w[1])
        && hash.len().is_power_of_two()
        && hash.iter().all(|&h| h as usize <= ids.len())
        && norm_off.len() == norm_cp.len() + 1
        && norm_off.windows(2).all(|w| w[0] <= w[1])
        && norm_off
            .last()
            .is_some_and(|&end| end as usize == norm_out.len());
    if !consistent {
        return Err(model_error(r.path, "inconsistent tokenizer tables"));
    }
    let max_piece_bytes = offsets
        .windows(2)
        .map(|w| (w[1] - w[0]) as usize)
        .max()
        .unwrap_or(1);
    Ok(Tokenizer {
        pieces,
        offsets,
        scores,
        ids,
        hash,
        norm_cp,
        norm_off,
        norm_out,
        unk_id: r.number("unk")?,
        unk_score: r.number("unk_score")?,
        max_piece_bytes,
    })
}
