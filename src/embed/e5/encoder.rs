//! The e5 encoder's forward pass: a post-LayerNorm BERT (12 layers, GELU), mean pooling over the
//! tokens, L2 normalisation. Several texts run as one matrix of their tokens end to end (no
//! padding); attention stays within each text. Matrix products are f32: a batch's are GEMMs
//! (ndarray's `matrixmultiply`, one thread each: parallelism is across batches), a query's run
//! the few-row kernel (`kernel`) on an exact 8-bit copy of the weights, on every core.

use std::borrow::Cow;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, s};
use rayon::prelude::*;

use super::q4::{BLOCK, BLOCK_BYTES, dequantize_block};
use crate::embed::kernel::attention::{self, AttentionScratch, HeadColumns};
use crate::embed::kernel::int8::{PackedMatrix, QuantRows8};
use crate::embed::kernel::{self, PassageKernel, QuantMatrix, WeightRows, activations};

/// The integer kernels' level when they run (the f32 path keeps its own GELU and softmax).
fn int8_level() -> Option<kernel::Int8Level> {
    match kernel::passage_kernel() {
        PassageKernel::Int8(level) => Some(level),
        PassageKernel::F32 => None,
    }
}
use crate::embed::vector::normalize;

/// The model's position table length: the most tokens one text can have.
pub(in crate::embed) const MAX_POSITIONS: usize = 512;

/// The 4-bit token table, borrowed from the model file's bytes.
pub(in crate::embed) struct TokenTable {
    bytes: Cow<'static, [u8]>,
    range: std::ops::Range<usize>,
    row_bytes: usize,
}

/// The query path's 8-bit copy of the layers' matrices, made at a process's second query (so a
/// process that only embeds passages, or one query as a CLI search does, never pays the ~0.1 s
/// it takes).
#[derive(Default)]
pub(in crate::embed) struct QueryPath {
    layers: OnceLock<Option<Vec<QueryLayer>>>,
    /// Few-row forward passes run so far without the 8-bit copy.
    queries_without: AtomicUsize,
}

impl TokenTable {
    pub(in crate::embed) fn new(
        bytes: Cow<'static, [u8]>,
        range: std::ops::Range<usize>,
        hidden: usize,
    ) -> Self {
        TokenTable {
            bytes,
            range,
            row_bytes: hidden / BLOCK * BLOCK_BYTES,
        }
    }

    /// Adds row `row`, dequantized, to `out`.
    fn add_row(&self, row: u32, out: &mut [f32]) {
        let start = self.range.start + row as usize * self.row_bytes;
        let bytes = &self.bytes[start..start + self.row_bytes];
        let mut block = [0f32; BLOCK];
        for (q, o) in bytes
            .chunks_exact(BLOCK_BYTES)
            .zip(out.chunks_exact_mut(BLOCK))
        {
            dequantize_block(q, &mut block);
            o.iter_mut().zip(&block).for_each(|(o, b)| *o += b);
        }
    }
}

/// One encoder layer, f32; matrices are `[out, in]` as in the model file.
pub(in crate::embed) struct Layer {
    pub(in crate::embed) qkv_w: Array2<f32>,
    pub(in crate::embed) qkv_b: Vec<f32>,
    pub(in crate::embed) ao_w: Array2<f32>,
    pub(in crate::embed) ao_b: Vec<f32>,
    pub(in crate::embed) aln: [Vec<f32>; 2],
    pub(in crate::embed) fi_w: Array2<f32>,
    pub(in crate::embed) fi_b: Vec<f32>,
    pub(in crate::embed) fo_w: Array2<f32>,
    pub(in crate::embed) fo_b: Vec<f32>,
    pub(in crate::embed) oln: [Vec<f32>; 2],
}

/// A layer's matrices as 8-bit integers and scales, exactly (the few-row kernel's input: a
/// query's products stream the weights from memory, and this is a quarter of their f32 bytes).
struct QueryLayer {
    qkv: QuantMatrix,
    ao: QuantMatrix,
    fi: QuantMatrix,
    fo: QuantMatrix,
}

impl QueryLayer {
    fn exact(layer: &Layer) -> Option<Self> {
        Some(QueryLayer {
            qkv: QuantMatrix::exact(layer.qkv_w.view())?,
            ao: QuantMatrix::exact(layer.ao_w.view())?,
            fi: QuantMatrix::exact(layer.fi_w.view())?,
            fo: QuantMatrix::exact(layer.fo_w.view())?,
        })
    }
}

/// A layer's matrices repacked for the integer kernels (`kernel::int8`): the passage path.
struct PackedLayer {
    qkv: PackedMatrix,
    ao: PackedMatrix,
    fi: PackedMatrix,
    fo: PackedMatrix,
}

impl PackedLayer {
    fn pack(layer: &Layer) -> Option<Self> {
        Some(PackedLayer {
            qkv: kernel::pack(layer.qkv_w.view())?,
            ao: kernel::pack(layer.ao_w.view())?,
            fi: kernel::pack(layer.fi_w.view())?,
            fo: kernel::pack(layer.fo_w.view())?,
        })
    }
}

/// The passage path's packed layers, made at the first many-row forward pass (~0.1 s; a process
/// that only embeds queries never pays it). `None` inside when some matrix is not 4-bit blocks
/// (the f32 GEMM runs then).
#[derive(Default)]
pub(in crate::embed) struct PassagePath {
    layers: OnceLock<Option<Vec<PackedLayer>>>,
}

/// The encoder.
pub(in crate::embed) struct Encoder {
    pub(in crate::embed) hidden: usize,
    pub(in crate::embed) heads: usize,
    pub(in crate::embed) eps: f32,
    pub(in crate::embed) word: TokenTable,
    pub(in crate::embed) pos: Vec<f32>,
    pub(in crate::embed) type0: Vec<f32>,
    pub(in crate::embed) ln: [Vec<f32>; 2],
    pub(in crate::embed) layers: Vec<Layer>,
    pub(in crate::embed) query_path: QueryPath,
    pub(in crate::embed) passage_path: PassagePath,
}

/// Buffers of one forward pass, kept between batches so they are allocated once per thread.
#[derive(Default)]
pub(in crate::embed) struct Scratch {
    x: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    tmp: Vec<f32>,
    mid: Vec<f32>,
    scores: Vec<f32>,
    heads: AttentionScratch,
    q8: QuantRows8,
}

/// `buf` resized to `rows * cols` and viewed as a matrix.
fn matrix(buf: &mut Vec<f32>, rows: usize, cols: usize) -> ArrayViewMut2<'_, f32> {
    buf.resize(rows * cols, 0.0);
    ArrayViewMut2::from_shape((rows, cols), &mut buf[..]).expect("buffer sized to the shape")
}

/// `y = x · wᵀ + bias` (`w` is `[out, in]`). Many rows (a batch of passages): ndarray's
/// `matrixmultiply` on this thread (the `gemm` crate was tried and measured slower on these shapes
/// here, BENCHMARKS.md, "e5"). A few rows (a query): the few-row kernel, on the 8-bit copy of the
/// weights when there is one, its outputs shared among the cores.
fn linear(
    x: ArrayView2<f32>,
    w: &Array2<f32>,
    quant: Option<&QuantMatrix>,
    packed: Option<&PackedMatrix>,
    q8: &mut QuantRows8,
    bias: &[f32],
    mut y: ArrayViewMut2<f32>,
) {
    let int8 = match (kernel::passage_kernel(), packed, x.as_slice()) {
        (PassageKernel::Int8(level), Some(w), Some(xs)) => Some((level, w, xs)),
        _ => None,
    };
    if x.nrows() <= FEW_ROWS {
        let rows = quant.map_or(WeightRows::F32(w.view()), |q| WeightRows::Quant(q.view()));
        few_rows(x, rows, y.view_mut());
    } else if let Some((level, w, xs)) = int8 {
        q8.quantize(xs, x.ncols(), level);
        kernel::int8_product_t(level, q8, w, y.view_mut());
    } else {
        general_mat_mul(1.0, &x, &w.t(), 0.0, &mut y);
    }
    match y.as_slice_mut() {
        // Slices: the rows' iterators did not vectorise (~6% of a passage's time).
        Some(values) => values
            .chunks_exact_mut(bias.len().max(1))
            .for_each(|row| row.iter_mut().zip(bias).for_each(|(v, b)| *v += b)),
        None => y
            .rows_mut()
            .into_iter()
            .for_each(|mut row| row.iter_mut().zip(bias).for_each(|(v, b)| *v += b)),
    }
}

/// At most this many rows (a query's tokens) and a product takes the few-row kernel.
const FEW_ROWS: usize = 32;

/// Outputs per task of a few-row product: small enough that a core which finishes first takes
/// work from the other, large enough that scheduling stays negligible.
const OUTPUTS_PER_TASK: usize = 192;

/// `y = x · wᵀ`, the outputs split in halves across the cores until a part is small.
fn few_rows(x: ArrayView2<f32>, w: WeightRows, y: ArrayViewMut2<f32>) {
    if w.nrows() <= OUTPUTS_PER_TASK {
        return w.product_t(x, y);
    }
    let middle = w.nrows() / 2;
    let (left, right) = y.split_at(Axis(1), middle);
    let (top, bottom) = w.split_at(middle);
    rayon::join(|| few_rows(x, top, left), || few_rows(x, bottom, right));
}

/// `x = LayerNorm(x + y)` row by row.
fn add_layer_norm(x: &mut [f32], y: Option<&[f32]>, ln: &[Vec<f32>; 2], hidden: usize, eps: f32) {
    for (t, row) in x.chunks_exact_mut(hidden).enumerate() {
        if let Some(y) = y {
            row.iter_mut()
                .zip(&y[t * hidden..(t + 1) * hidden])
                .for_each(|(a, b)| *a += b);
        }
        let mean = row.iter().sum::<f32>() / hidden as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / hidden as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, w), b) in row.iter_mut().zip(&ln[0]).zip(&ln[1]) {
            *v = (*v - mean) * inv * w + b;
        }
    }
}

/// erf by Abramowitz & Stegun 7.1.26 (error < 1.5e-7): std has no `erf`.
fn erf(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let y = 1.0 - poly * (-x * x).exp();
    if x < 0.0 { -y } else { y }
}

fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// Softmax of each row of `m`, scaled by `scale` first.
fn softmax_rows(mut m: ArrayViewMut2<f32>, scale: f32) {
    for mut row in m.rows_mut() {
        let max = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) * scale;
        let mut sum = 0.0;
        row.iter_mut().for_each(|v| {
            *v = (*v * scale - max).exp();
            sum += *v;
        });
        row.iter_mut().for_each(|v| *v /= sum);
    }
}

impl Encoder {
    pub(in crate::embed) fn hidden(&self) -> usize {
        self.hidden
    }

    /// The unit vectors of `seqs` (token-table rows, `<s>` .. `</s>`) into `out`.
    pub(in crate::embed) fn forward(
        &self,
        seqs: &[&[u32]],
        scratch: &mut Scratch,
        out: &mut [Vec<f32>],
    ) {
        let h = self.hidden;
        let total: usize = seqs.iter().map(|s| s.len()).sum();
        let quant = if total <= FEW_ROWS {
            self.query_layers()
        } else {
            None
        };
        let packed = if total > FEW_ROWS {
            self.passage_layers()
        } else {
            None
        };
        self.embed_tokens(seqs, &mut scratch.x, total, packed.and(int8_level()));
        for (l, layer) in self.layers.iter().enumerate() {
            let packed = packed.map(|p| &p[l]);
            self.layer(layer, quant.map(|q| &q[l]), packed, seqs, total, scratch);
        }
        let mut start = 0;
        for (seq, v) in seqs.iter().zip(out.iter_mut()) {
            v.clear();
            v.resize(h, 0.0);
            for row in scratch.x[start * h..(start + seq.len()) * h].chunks_exact(h) {
                v.iter_mut().zip(row).for_each(|(a, b)| *a += b);
            }
            normalize(v);
            start += seq.len();
        }
    }

    /// The 8-bit layers when the CPU runs the few-row kernel and every matrix converts exactly,
    /// from the second query on (the first runs the f32 few-row kernel).
    fn query_layers(&self) -> Option<&[QueryLayer]> {
        let path = &self.query_path;
        if !kernel::simd()
            || (path.layers.get().is_none()
                && path.queries_without.fetch_add(1, Ordering::Relaxed) == 0)
        {
            return None;
        }
        let layers = path.layers.get_or_init(|| {
            self.layers
                .par_iter()
                .map(QueryLayer::exact)
                .collect::<Option<Vec<_>>>()
        });
        layers.as_deref()
    }

    /// The packed layers when the passage kernel is an integer one and every matrix packs.
    fn passage_layers(&self) -> Option<&[PackedLayer]> {
        if kernel::passage_kernel() == PassageKernel::F32 {
            return None;
        }
        let layers = self.passage_path.layers.get_or_init(|| {
            self.layers
                .par_iter()
                .map(PackedLayer::pack)
                .collect::<Option<Vec<_>>>()
        });
        layers.as_deref()
    }

    /// Word + position + type embeddings, LayerNorm (`fast`: the integer path's level).
    fn embed_tokens(
        &self,
        seqs: &[&[u32]],
        x: &mut Vec<f32>,
        total: usize,
        fast: Option<kernel::Int8Level>,
    ) {
        let h = self.hidden;
        x.clear();
        x.resize(total * h, 0.0);
        let mut rows = x.chunks_exact_mut(h);
        for seq in seqs {
            for (p, (&token, row)) in seq.iter().zip(rows.by_ref()).enumerate() {
                self.word.add_row(token, row);
                let pos = &self.pos[p.min(MAX_POSITIONS - 1) * h..][..h];
                for ((v, a), b) in row.iter_mut().zip(pos).zip(&self.type0) {
                    *v += a + b;
                }
            }
        }
        self.layer_norm(fast, x, None, &self.ln);
    }

    fn layer(
        &self,
        layer: &Layer,
        quant: Option<&QueryLayer>,
        packed: Option<&PackedLayer>,
        seqs: &[&[u32]],
        total: usize,
        sc: &mut Scratch,
    ) {
        let (h, ff) = (self.hidden, layer.fi_b.len());
        let x = ArrayView2::from_shape((total, h), &sc.x[..]).expect("x is total x hidden");
        let qkv = matrix(&mut sc.qkv, total, 3 * h);
        let p = packed.map(|p| &p.qkv);
        linear(
            x,
            &layer.qkv_w,
            quant.map(|q| &q.qkv),
            p,
            &mut sc.q8,
            &layer.qkv_b,
            qkv,
        );
        let fast = packed.and(int8_level());
        match fast {
            Some(level) => self.attention_int8(level, seqs, sc),
            None => self.attention(seqs, sc),
        }
        let ctx = ArrayView2::from_shape((total, h), &sc.ctx[..]).expect("ctx is total x hidden");
        let tmp = matrix(&mut sc.tmp, total, h);
        let p = packed.map(|p| &p.ao);
        linear(
            ctx,
            &layer.ao_w,
            quant.map(|q| &q.ao),
            p,
            &mut sc.q8,
            &layer.ao_b,
            tmp,
        );
        self.layer_norm(fast, &mut sc.x, Some(&sc.tmp), &layer.aln);
        let x = ArrayView2::from_shape((total, h), &sc.x[..]).expect("x is total x hidden");
        let mid = matrix(&mut sc.mid, total, ff);
        let p = packed.map(|p| &p.fi);
        linear(
            x,
            &layer.fi_w,
            quant.map(|q| &q.fi),
            p,
            &mut sc.q8,
            &layer.fi_b,
            mid,
        );
        match fast {
            Some(level) => activations::gelu(level, &mut sc.mid),
            None => sc.mid.iter_mut().for_each(|v| *v = gelu(*v)),
        }
        let mid = ArrayView2::from_shape((total, ff), &sc.mid[..]).expect("mid is total x ff");
        let tmp = matrix(&mut sc.tmp, total, h);
        let p = packed.map(|p| &p.fo);
        linear(
            mid,
            &layer.fo_w,
            quant.map(|q| &q.fo),
            p,
            &mut sc.q8,
            &layer.fo_b,
            tmp,
        );
        self.layer_norm(fast, &mut sc.x, Some(&sc.tmp), &layer.oln);
    }

    /// `x` plus `residual` when given, layer-normalised by `ln`: the integer path's vectorised
    /// kernel when `fast`, else the f32 path's own (whose vectors, and cache key, stay as
    /// they were).
    fn layer_norm(
        &self,
        fast: Option<kernel::Int8Level>,
        x: &mut [f32],
        residual: Option<&[f32]>,
        ln: &[Vec<f32>; 2],
    ) {
        match fast {
            Some(level) => activations::layer_norm(level, x, residual, [&ln[0], &ln[1]], self.eps),
            None => add_layer_norm(x, residual, ln, self.hidden, self.eps),
        }
    }

    /// [`Self::attention`] through the integer path's head kernel (no GEMM packing).
    fn attention_int8(&self, level: kernel::Int8Level, seqs: &[&[u32]], sc: &mut Scratch) {
        let h = self.hidden;
        let hd = h / self.heads;
        let total: usize = seqs.iter().map(|s| s.len()).sum();
        sc.ctx.resize(total * h, 0.0);
        let scale = 1.0 / (hd as f32).sqrt();
        let mut start = 0;
        for seq in seqs {
            let (a, b) = (start, start + seq.len());
            let rows = &sc.qkv[a * 3 * h..b * 3 * h];
            let out = &mut sc.ctx[a * h..b * h];
            for head in 0..self.heads {
                let c = head * hd;
                let cols = HeadColumns {
                    query: c,
                    key: h + c,
                    value: 2 * h + c,
                    width: hd,
                };
                attention::attend(
                    level,
                    (rows, 3 * h),
                    cols,
                    scale,
                    (&mut *out, h, c),
                    &mut sc.heads,
                );
            }
            start = b;
        }
    }

    /// Scaled dot-product attention of each text's tokens among themselves, head by head
    /// (the f32 path).
    fn attention(&self, seqs: &[&[u32]], sc: &mut Scratch) {
        let h = self.hidden;
        let hd = h / self.heads;
        let total: usize = seqs.iter().map(|s| s.len()).sum();
        let qkv = ArrayView2::from_shape((total, 3 * h), &sc.qkv[..]).expect("qkv shape");
        let mut ctx = matrix(&mut sc.ctx, total, h);
        let scale = 1.0 / (hd as f32).sqrt();
        let mut start = 0;
        for seq in seqs {
            let (a, b) = (start, start + seq.len());
            for head in 0..self.heads {
                let c = head * hd;
                let q = qkv.slice(s![a..b, c..c + hd]);
                let k = qkv.slice(s![a..b, h + c..h + c + hd]);
                let v = qkv.slice(s![a..b, 2 * h + c..2 * h + c + hd]);
                let mut scores = matrix(&mut sc.scores, seq.len(), seq.len());
                general_mat_mul(1.0, &q, &k.t(), 0.0, &mut scores);
                softmax_rows(scores.view_mut(), scale);
                let mut out = ctx.slice_mut(s![a..b, c..c + hd]);
                general_mat_mul(1.0, &scores.view(), &v, 0.0, &mut out);
            }
            start = b;
        }
    }
}
