//! One head's scaled dot-product attention over one text's tokens, for the integer passage
//! path. A head multiplies matrices of the text's tokens by 32 (e5-small's head width):
//! `matrixmultiply`'s GEMM packs both operands of every such product, which took as long as the
//! products themselves (perf, one passage: packing 9.4% of the time, its kernel 8.3%). Here the
//! keys are transposed once, then each output is accumulated in registers, a fused multiply-add
//! per term in a fixed order: every level (and the portable `mul_add`) gives the same bits.

use super::Int8Level;
use super::activations;

/// Query rows computed together: each key or value loaded serves four of them, and with a
/// chunk of [`Widths`] columns they keep eight independent chains of multiply-adds (fewer
/// waited on each other's latency: measured, half the speed of the GEMM they replace).
const ROWS: usize = 4;
/// The narrow width for what is left of a row after the wide chunks.
const NARROW: usize = 8;

/// Where one head reads its queries, keys and values: columns of the rows of a text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadColumns {
    /// First column of the head's queries.
    pub(crate) query: usize,
    /// First column of its keys.
    pub(crate) key: usize,
    /// First column of its values.
    pub(crate) value: usize,
    /// Its width (query, key and value alike).
    pub(crate) width: usize,
}

/// The buffers a head reuses from one call to the next.
#[derive(Default)]
pub(crate) struct AttentionScratch {
    keys_t: Vec<f32>,
    scores: Vec<f32>,
}

/// Attention of every row of `qkv` (one text's tokens, `stride` floats a row) for the head at
/// `cols`, scores scaled by `scale`; each token's result written to `out` at
/// `row * out_stride + out_col`, `cols.width` floats.
pub(crate) fn attend(
    level: Int8Level,
    (qkv, stride): (&[f32], usize),
    cols: HeadColumns,
    scale: f32,
    (out, out_stride, out_col): (&mut [f32], usize, usize),
    scratch: &mut AttentionScratch,
) {
    let tokens = qkv.len() / stride;
    if tokens == 0 {
        return;
    }
    transpose_keys(qkv, stride, cols, tokens, &mut scratch.keys_t);
    // Every score is written before it is read: no zeroing (144 heads a text).
    scratch.scores.resize(tokens * tokens, 0.0);
    let head = Head {
        qkv,
        stride,
        cols,
        tokens,
        keys_t: &scratch.keys_t,
    };
    let out = Out {
        out,
        stride: out_stride,
        col: out_col,
    };
    #[cfg(target_arch = "x86_64")]
    if level >= Int8Level::Avx512Vnni {
        // SAFETY: the level is at most the CPU's, which then has AVX-512F, AVX2 and FMA.
        return unsafe { attend_avx512(&head, scale, &mut scratch.scores, out) };
    }
    #[cfg(target_arch = "x86_64")]
    if level >= Int8Level::Avx2 {
        // SAFETY: the level is at most the CPU's, which then has AVX2 and FMA.
        return unsafe { attend_avx2(&head, scale, &mut scratch.scores, out) };
    }
    let _ = level;
    attend_all::<NARROW>(&head, scale, &mut scratch.scores, out);
}

/// One head's inputs.
struct Head<'a> {
    qkv: &'a [f32],
    stride: usize,
    cols: HeadColumns,
    tokens: usize,
    /// The keys as `width` rows of `tokens`.
    keys_t: &'a [f32],
}

/// Where a head's results go.
struct Out<'a> {
    out: &'a mut [f32],
    stride: usize,
    col: usize,
}

/// The head's keys as `width` rows of `tokens`: a query's scores are then a sum of key rows.
fn transpose_keys(
    qkv: &[f32],
    stride: usize,
    cols: HeadColumns,
    tokens: usize,
    keys_t: &mut Vec<f32>,
) {
    // Every key is written below: no zeroing.
    keys_t.resize(cols.width * tokens, 0.0);
    for (j, row) in qkv.chunks_exact(stride).enumerate() {
        for (d, &k) in row[cols.key..][..cols.width].iter().enumerate() {
            keys_t[d * tokens + j] = k;
        }
    }
}

// The chunk widths: 32 columns are two AVX-512 registers a row, 16 two of AVX2 (eight
// accumulators in all, of the 16 registers AVX2 has).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn attend_avx512(head: &Head, scale: f32, scores: &mut [f32], out: Out) {
    attend_all::<32>(head, scale, scores, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn attend_avx2(head: &Head, scale: f32, scores: &mut [f32], out: Out) {
    attend_all::<16>(head, scale, scores, out)
}

/// Scores, their softmax, then the values weighted by it, in chunks of [`ROWS`] rows by `W`
/// columns. (Plain loops: a closure would not inherit the caller's target features, and
/// `mul_add` would become a call.)
#[inline(always)]
fn attend_all<const W: usize>(head: &Head, scale: f32, scores: &mut [f32], mut out: Out) {
    let t = head.tokens;
    let mut i = 0;
    while i + ROWS <= t {
        score_rows::<ROWS, W>(head, i, scores);
        i += ROWS;
    }
    while i < t {
        score_rows::<1, W>(head, i, scores);
        i += 1;
    }
    activations::softmax_all(scores, t, scale);
    let mut i = 0;
    while i + ROWS <= t {
        weigh_rows::<ROWS, W>(head, i, scores, &mut out);
        i += ROWS;
    }
    while i < t {
        weigh_rows::<1, W>(head, i, scores, &mut out);
        i += 1;
    }
}

/// The scores of queries `i..i + R` against every key.
#[inline(always)]
fn score_rows<const R: usize, const W: usize>(head: &Head, i: usize, scores: &mut [f32]) {
    let t = head.tokens;
    let mut j = 0;
    while j + W <= t {
        score_block::<R, W>(head, i, j, scores);
        j += W;
    }
    while j + NARROW <= t {
        score_block::<R, NARROW>(head, i, j, scores);
        j += NARROW;
    }
    while j < t {
        score_block::<R, 1>(head, i, j, scores);
        j += 1;
    }
}

/// The results of tokens `i..i + R`, every column of the head.
#[inline(always)]
fn weigh_rows<const R: usize, const W: usize>(
    head: &Head,
    i: usize,
    scores: &[f32],
    out: &mut Out,
) {
    let width = head.cols.width;
    let mut d = 0;
    while d + W <= width {
        weigh_block::<R, W>(head, i, d, scores, out);
        d += W;
    }
    while d + NARROW <= width {
        weigh_block::<R, NARROW>(head, i, d, scores, out);
        d += NARROW;
    }
    while d < width {
        weigh_block::<R, 1>(head, i, d, scores, out);
        d += 1;
    }
}

/// Scores of queries `i..i + R` against keys `j..j + W`: a sum over the head's columns in
/// order, one multiply-add each.
#[inline(always)]
fn score_block<const R: usize, const W: usize>(
    head: &Head,
    i: usize,
    j: usize,
    scores: &mut [f32],
) {
    let (t, stride, query) = (head.tokens, head.stride, head.cols.query);
    let mut acc = [[0f32; W]; R];
    for d in 0..head.cols.width {
        let keys = &head.keys_t[d * t + j..][..W];
        for (r, acc) in acc.iter_mut().enumerate() {
            let q = head.qkv[(i + r) * stride + query + d];
            for (a, &k) in acc.iter_mut().zip(keys) {
                *a = q.mul_add(k, *a);
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        scores[(i + r) * t + j..][..W].copy_from_slice(acc);
    }
}

/// Columns `d..d + W` of the results of tokens `i..i + R`: the values weighted by each token's
/// softmaxed scores, summed over the keys in order.
#[inline(always)]
fn weigh_block<const R: usize, const W: usize>(
    head: &Head,
    i: usize,
    d: usize,
    scores: &[f32],
    out: &mut Out,
) {
    let t = head.tokens;
    let first = head.cols.value + d;
    let mut acc = [[0f32; W]; R];
    for (j, row) in head.qkv.chunks_exact(head.stride).enumerate() {
        let values = &row[first..][..W];
        for (r, acc) in acc.iter_mut().enumerate() {
            let p = scores[(i + r) * t + j];
            for (a, &v) in acc.iter_mut().zip(values) {
                *a = p.mul_add(v, *a);
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        let at = (i + r) * out.stride + out.col + d;
        out.out[at..][..W].copy_from_slice(acc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in about -1..1.
    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    /// The textbook computation in f64: scores, softmax, weighted values.
    fn reference(qkv: &[f32], stride: usize, cols: HeadColumns, scale: f32) -> Vec<Vec<f64>> {
        let rows: Vec<&[f32]> = qkv.chunks_exact(stride).collect();
        rows.iter()
            .map(|qr| {
                let scores: Vec<f64> = rows
                    .iter()
                    .map(|kr| {
                        (0..cols.width)
                            .map(|d| qr[cols.query + d] as f64 * kr[cols.key + d] as f64)
                            .sum::<f64>()
                            * scale as f64
                    })
                    .collect();
                let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                let total: f64 = exps.iter().sum();
                (0..cols.width)
                    .map(|d| {
                        rows.iter()
                            .zip(&exps)
                            .map(|(vr, e)| e / total * vr[cols.value + d] as f64)
                            .sum()
                    })
                    .collect()
            })
            .collect()
    }

    /// Token counts around the chunk widths, a head as wide as e5-small's and two narrower.
    #[test]
    fn every_level_gives_the_textbook_attention_and_the_same_bits() {
        let levels = [Int8Level::Portable, Int8Level::Avx2, Int8Level::Avx512Vnni];
        for (seed, &(tokens, width)) in [(1, 32), (7, 32), (33, 32), (128, 32), (41, 13), (9, 8)]
            .iter()
            .enumerate()
        {
            let stride = 3 * width + 5;
            let qkv: Vec<f32> = values(tokens * stride, seed as u32)
                .iter()
                .map(|v| v * 3.0)
                .collect();
            let cols = HeadColumns {
                query: 2,
                key: 2 + width,
                value: 2 + 2 * width,
                width,
            };
            let scale = 1.0 / (width as f32).sqrt();
            let want = reference(&qkv, stride, cols, scale);
            let mut first: Option<Vec<f32>> = None;
            for level in levels
                .into_iter()
                .filter(|&l| l <= super::super::int8::cpu_level())
            {
                let out_stride = width + 3;
                let mut out = vec![f32::NAN; tokens * out_stride];
                let mut scratch = AttentionScratch::default();
                let target = (&mut out[..], out_stride, 1);
                attend(level, (&qkv, stride), cols, scale, target, &mut scratch);
                for (t, row) in want.iter().enumerate() {
                    for (d, &w) in row.iter().enumerate() {
                        let got = out[t * out_stride + 1 + d];
                        assert!(
                            (got as f64 - w).abs() <= 1e-5,
                            "{tokens} tokens, width {width}, {level:?}: [{t}][{d}] {got} vs {w}"
                        );
                    }
                }
                let first = first.get_or_insert_with(|| out.clone());
                let same = first
                    .iter()
                    .zip(&out)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(
                    same,
                    "{tokens} tokens, width {width}: {level:?} differs in bits"
                );
            }
        }
    }
}
