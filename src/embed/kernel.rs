//! The matrix product of a few rows (a query's 5-30 tokens) by an encoder weight matrix, with
//! AVX2 + FMA when the CPU has them (checked once, at run time).
//!
//! A GEMM library packs the whole weight matrix into its own layout on every call, which for a
//! few rows costs more than the arithmetic: with 85 MB of weights a query spent most of its time
//! copying them. Here each weight row is read once, in place, and multiplied with every token row
//! while it sits in L1. Even so a few-row product only streams weights from memory (a core reads
//! ~5-9 GB/s here), so the query path reads them as 8-bit integers with a scale per 32 weights
//! ([`QuantMatrix`]): the model's weights are 4-bit, so this copy is exact and a quarter of f32.
//! With AVX-512 the quantized product runs 16 lanes wide (the arithmetic is then half the time).
//! Without the target features the dot products are not vectorised well (a plain-Rust version
//! measured slower than the GEMM), so the encoder keeps the GEMM there.

use std::sync::LazyLock;

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2, Axis};

pub(crate) mod activations;
pub(crate) mod attention;
pub(crate) mod int8;

pub use int8::Int8Level;
use int8::{GROUP_ROWS, PackedMatrix, QuantRows8};

/// The environment variable that caps the passage kernels (`f32`, `portable`, `avx2`,
/// `avx512`): how the bench and the tests measure each path on one machine.
pub const KERNEL_ENV: &str = "PAPERSCOPE_KERNEL";

/// Which kernels the encoder's many-row products (passage batches) run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassageKernel {
    /// f32 weights and activations through `matrixmultiply`'s GEMM: the path before the
    /// integer kernels, kept where the CPU lacks AVX2 (and as the bench's baseline).
    F32,
    /// 8-bit activations against the 4-bit weights, integer products ([`int8`]).
    Int8(Int8Level),
}

impl PassageKernel {
    /// The kernel `cap` asks for (a [`KERNEL_ENV`] value), never above this CPU's; without a
    /// cap (or an unknown one) the widest integer kernel, or f32 on a CPU without AVX2.
    pub fn choose(cap: Option<&str>) -> Self {
        let cpu = int8::cpu_level();
        let int8 = |level: Int8Level| PassageKernel::Int8(level.min(cpu));
        match cap.map(str::trim) {
            Some("f32") => PassageKernel::F32,
            Some("portable") => int8(Int8Level::Portable),
            Some("avx2") => int8(Int8Level::Avx2),
            Some("avx512") => int8(Int8Level::Avx512Vnni),
            _ if cpu >= Int8Level::Avx2 => int8(cpu),
            _ => PassageKernel::F32,
        }
    }

    /// What the vectors' cache key adds for this kernel: 8-bit activations change the vectors
    /// (cosine >= 0.99 to f32's), so they never share a cache with the f32 path's. Every integer
    /// level gives the same bits, so they share one. `v2`: the integer path's attention, layer
    /// norm and their sums run in fixed lanes since, which moved its vectors by float rounding
    /// (cosine to the first version's >= 0.99999), and a cache never mixes the two.
    pub fn key_suffix(self) -> &'static str {
        match self {
            PassageKernel::F32 => "",
            PassageKernel::Int8(_) => "-8v2",
        }
    }
}

/// This process's passage kernel (chosen once, [`KERNEL_ENV`] read then).
static PASSAGE_KERNEL: LazyLock<PassageKernel> =
    LazyLock::new(|| PassageKernel::choose(std::env::var(KERNEL_ENV).ok().as_deref()));

/// This process's passage kernel.
pub fn passage_kernel() -> PassageKernel {
    *PASSAGE_KERNEL
}

/// `w` repacked for the integer kernels, when its values are exactly 4-bit blocks and its shape
/// fits (rows a multiple of 16, columns of 32).
pub(super) fn pack(w: ArrayView2<f32>) -> Option<PackedMatrix> {
    let quant = QuantMatrix::exact(w)?;
    PackedMatrix::pack(&quant.q, &quant.scales, quant.cols)
}

/// Weight-row groups per task, at least: about 4M products, so a task is ~0.1 ms and a single
/// text's product (128 rows) still splits across the cores.
const PRODUCTS_PER_TASK: usize = 4 << 20;

/// `y = x · wᵀ` with the integer kernels of `level`, the weight-row groups split in halves across
/// the cores until a part is small (within a batch already running on every core the halves run
/// on this thread).
pub(super) fn int8_product_t(
    level: Int8Level,
    x: &QuantRows8,
    w: &PackedMatrix,
    y: ArrayViewMut2<f32>,
) {
    assert_eq!((y.nrows(), y.ncols()), (x.nrows(), w.nrows()));
    int8_groups(level, x, w, 0..w.nrows() / GROUP_ROWS, y);
}

fn int8_groups(
    level: Int8Level,
    x: &QuantRows8,
    w: &PackedMatrix,
    groups: std::ops::Range<usize>,
    mut y: ArrayViewMut2<f32>,
) {
    let per_group = x.nrows() * w.ncols() * GROUP_ROWS;
    if groups.len() > 1 && groups.len() * per_group > 2 * PRODUCTS_PER_TASK {
        let mid = groups.start + groups.len() / 2;
        let (left, right) = y.split_at(Axis(1), (mid - groups.start) * GROUP_ROWS);
        rayon::join(
            || int8_groups(level, x, w, groups.start..mid, left),
            || int8_groups(level, x, w, mid..groups.end, right),
        );
        return;
    }
    assert!(
        y.ncols() == 0 || y.strides()[1] == 1,
        "output columns contiguous"
    );
    let stride = y.strides()[0].max(0) as usize;
    // SAFETY: the level is at most the CPU's (PassageKernel::choose, or the tests' levels()); y
    // is this task's own view, `x.nrows()` rows of `groups.len() * 16` contiguous columns.
    unsafe { int8::product(level, x, w, groups, y.as_mut_ptr(), stride) };
}

/// The widest kernels this CPU runs, each level implying those below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Simd {
    None,
    Avx2Fma,
    Avx512,
}

/// This CPU's level (detected once per process).
static SIMD: LazyLock<Simd> = LazyLock::new(detect);

/// Whether this CPU runs the AVX2 + FMA kernels.
static AVX2_FMA: LazyLock<bool> = LazyLock::new(|| *SIMD >= Simd::Avx2Fma);

#[cfg(target_arch = "x86_64")]
fn detect() -> Simd {
    if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
        Simd::None
    } else if is_x86_feature_detected!("avx512f") {
        Simd::Avx512
    } else {
        Simd::Avx2Fma
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Simd {
    Simd::None
}

/// `y = x · wᵀ` (`w` is `[out, in]`, `y` is `[rows of x, out]`), on this thread: the SIMD kernel
/// when the CPU has it and `x` and `w` are contiguous, the GEMM otherwise.
pub(super) fn product_t(x: ArrayView2<f32>, w: ArrayView2<f32>, y: ArrayViewMut2<f32>) {
    debug_assert_eq!(x.ncols(), w.ncols());
    debug_assert_eq!((y.nrows(), y.ncols()), (x.nrows(), w.nrows()));
    #[cfg(target_arch = "x86_64")]
    if let (true, Some(xs), Some(ws)) = (*AVX2_FMA, x.as_slice(), w.as_slice())
        && x.ncols() > 0
    {
        // SAFETY: AVX2_FMA says the CPU has both features the kernel is compiled with.
        unsafe { avx2::product_t(xs, ws, x.ncols(), y) };
        return;
    }
    gemm_t(x, w, y);
}

/// The portable path: `matrixmultiply`'s GEMM.
fn gemm_t(x: ArrayView2<f32>, w: ArrayView2<f32>, mut y: ArrayViewMut2<f32>) {
    general_mat_mul(1.0, &x, &w.t(), 0.0, &mut y);
}

/// Weights per scale in a [`QuantMatrix`]: the model file's Q4_0 block.
const GROUP: usize = 32;

/// A `[out, in]` matrix held as small integers with one f32 scale per 32 weights along a row:
/// the exact form of weights dequantized from 4-bit blocks, a quarter of their f32 bytes.
pub(super) struct QuantMatrix {
    cols: usize,
    q: Vec<i8>,
    scales: Vec<f32>,
}

/// Consecutive rows of a [`QuantMatrix`].
#[derive(Clone, Copy)]
pub(super) struct QuantRows<'a> {
    cols: usize,
    q: &'a [i8],
    scales: &'a [f32],
}

impl QuantMatrix {
    /// `w` as integers and scales, or `None` when some 32 weights of a row are not exactly
    /// `scale * q` with `q` in -8..=8 (or a row's length is not a multiple of 32).
    pub(super) fn exact(w: ArrayView2<f32>) -> Option<Self> {
        let cols = w.ncols();
        let values = w.as_slice()?;
        if cols == 0 || !cols.is_multiple_of(GROUP) {
            return None;
        }
        let mut q = vec![0i8; values.len()];
        let mut scales = Vec::with_capacity(values.len() / GROUP);
        for (group, out) in values.chunks_exact(GROUP).zip(q.chunks_exact_mut(GROUP)) {
            scales.push(quantize_group(group, out)?);
        }
        Some(QuantMatrix { cols, q, scales })
    }

    /// All rows.
    pub(super) fn view(&self) -> QuantRows<'_> {
        QuantRows {
            cols: self.cols,
            q: &self.q,
            scales: &self.scales,
        }
    }
}

/// The scale `s` with `group == s * out` exactly, `out` in -8..=8; `None` if there is none.
/// A 4-bit block's largest magnitude is `m * s` for an integer `m` in 1..=8 (most often 8).
fn quantize_group(group: &[f32], out: &mut [i8]) -> Option<f32> {
    let largest = group.iter().fold(0f32, |a, &v| a.max(v.abs()));
    if largest == 0.0 {
        out.fill(0);
        return Some(0.0);
    }
    (1..=8u8)
        .rev()
        .map(|m| largest / f32::from(m))
        .find(|&scale| multiples_of(group, scale, out))
}

/// Whether every value is `scale` times an integer in -8..=8 (written to `out`). Division of an
/// exact multiple is exact, so truncating the quotient loses nothing when the answer is yes; no
/// early exit, so the loop vectorises (the first query of a process pays for this pass).
fn multiples_of(group: &[f32], scale: f32, out: &mut [i8]) -> bool {
    let mut exact = true;
    for (&v, o) in group.iter().zip(out.iter_mut()) {
        let n = (v / scale) as i32;
        *o = n as i8;
        exact &= n as f32 * scale == v && n.abs() <= 8;
    }
    exact
}

impl<'a> QuantRows<'a> {
    /// Number of rows.
    pub(super) fn nrows(&self) -> usize {
        self.q.len() / self.cols
    }

    /// Rows `..mid` and `mid..`.
    pub(super) fn split_at(self, mid: usize) -> (Self, Self) {
        let (q0, q1) = self.q.split_at(mid * self.cols);
        let (s0, s1) = self.scales.split_at(mid * self.cols / GROUP);
        let part = |q, scales| QuantRows {
            cols: self.cols,
            q,
            scales,
        };
        (part(q0, s0), part(q1, s1))
    }

    /// Rows `start..start + out.len() / cols` as f32, into `out`.
    fn dequantize(&self, start: usize, out: &mut [f32]) {
        let q = &self.q[start * self.cols..][..out.len()];
        let scales = &self.scales[start * self.cols / GROUP..];
        for ((q, o), &scale) in q
            .chunks_exact(GROUP)
            .zip(out.chunks_exact_mut(GROUP))
            .zip(scales)
        {
            for (o, &q) in o.iter_mut().zip(q) {
                *o = f32::from(q) * scale;
            }
        }
    }
}

/// `y = x · wᵀ` for a [`QuantMatrix`]'s rows, on this thread: the SIMD kernel when the CPU has
/// it, a plain loop otherwise (correct but slow: the encoder takes this path only with SIMD).
pub(super) fn quant_product_t(x: ArrayView2<f32>, w: QuantRows, y: ArrayViewMut2<f32>) {
    quant_product_at(*SIMD, x, w, y)
}

/// [`quant_product_t`] with the kernels of `level` (at most this CPU's).
fn quant_product_at(level: Simd, x: ArrayView2<f32>, w: QuantRows, y: ArrayViewMut2<f32>) {
    debug_assert_eq!(x.ncols(), w.cols);
    debug_assert_eq!((y.nrows(), y.ncols()), (x.nrows(), w.nrows()));
    assert!(level <= *SIMD, "{level:?} kernels on a CPU without them");
    let x = x.as_standard_layout();
    #[cfg(target_arch = "x86_64")]
    if let Some(xs) = x.as_slice() {
        match level {
            // SAFETY: the CPU has AVX-512F (asserted above), which the kernel is compiled with.
            Simd::Avx512 => return unsafe { avx512::quant_product_t(xs, w, y) },
            // SAFETY: the CPU has AVX2 and FMA (asserted above), which the kernel is compiled with.
            Simd::Avx2Fma => return unsafe { avx2::quant_product_t(xs, w, y) },
            Simd::None => {}
        }
    }
    quant_portable(x.view(), w, y);
}

/// [`quant_product_t`] without SIMD.
fn quant_portable(x: ArrayView2<f32>, w: QuantRows, mut y: ArrayViewMut2<f32>) {
    let mut row = vec![0f32; w.cols];
    for o in 0..w.nrows() {
        w.dequantize(o, &mut row);
        for (t, xt) in x.rows().into_iter().enumerate() {
            y[[t, o]] = xt.iter().zip(&row).map(|(a, b)| a * b).sum();
        }
    }
}

/// Whether [`product_t`] and [`quant_product_t`] run SIMD kernels on this CPU.
pub(super) fn simd() -> bool {
    *AVX2_FMA
}

/// Consecutive rows of a weight matrix, in either form, to split among cores.
#[derive(Clone, Copy)]
pub(super) enum WeightRows<'a> {
    F32(ArrayView2<'a, f32>),
    Quant(QuantRows<'a>),
}

impl<'a> WeightRows<'a> {
    /// Number of rows (outputs of the product).
    pub(super) fn nrows(&self) -> usize {
        match self {
            WeightRows::F32(w) => w.nrows(),
            WeightRows::Quant(w) => w.nrows(),
        }
    }

    /// Rows `..mid` and `mid..`.
    pub(super) fn split_at(self, mid: usize) -> (Self, Self) {
        match self {
            WeightRows::F32(w) => {
                let (a, b) = w.split_at(ndarray::Axis(0), mid);
                (WeightRows::F32(a), WeightRows::F32(b))
            }
            WeightRows::Quant(w) => {
                let (a, b) = w.split_at(mid);
                (WeightRows::Quant(a), WeightRows::Quant(b))
            }
        }
    }

    /// `y = x · selfᵀ` on this thread.
    pub(super) fn product_t(self, x: ArrayView2<f32>, y: ArrayViewMut2<f32>) {
        match self {
            WeightRows::F32(w) => product_t(x, w, y),
            WeightRows::Quant(w) => quant_product_t(x, w, y),
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use ndarray::ArrayViewMut2;

    use super::{GROUP, QuantRows};

    /// Weight rows and token rows of one register block: 4 x 2 accumulators, 4 weight vectors
    /// and a token vector fill 13 of the 16 registers.
    const W_ROWS: usize = 4;
    const X_ROWS: usize = 2;

    /// `y = x · wᵀ` for row-major `x` `[rows, k]` and `w` `[out, k]`.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn product_t(x: &[f32], w: &[f32], k: usize, mut y: ArrayViewMut2<f32>) {
        let mut o = 0;
        while o < w.len() / k {
            let wn = (w.len() / k - o).min(W_ROWS);
            rows_block(x, &w[o * k..(o + wn) * k], k, &mut y, o);
            o += wn;
        }
    }

    /// `y = x · wᵀ` for row-major `x` and a [`QuantRows`]: each block of weight rows is
    /// dequantized into a buffer that stays in L1 while every token row meets it.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn quant_product_t(x: &[f32], w: QuantRows, mut y: ArrayViewMut2<f32>) {
        let k = w.cols;
        let mut buffer = vec![0f32; W_ROWS * k];
        let mut o = 0;
        while o < w.nrows() {
            let wn = (w.nrows() - o).min(W_ROWS);
            let rows = &mut buffer[..wn * k];
            dequantize(w, o, rows);
            rows_block(x, rows, k, &mut y, o);
            o += wn;
        }
    }

    /// Columns `o..` of `y` from the (up to [`W_ROWS`]) weight rows `w`: every token row of `x`.
    #[target_feature(enable = "avx2,fma")]
    fn rows_block(x: &[f32], w: &[f32], k: usize, y: &mut ArrayViewMut2<f32>, o: usize) {
        let (rows, wn) = (x.len() / k, w.len() / k);
        let mut t = 0;
        while t < rows {
            let xn = (rows - t).min(X_ROWS);
            let xb = &x[t * k..(t + xn) * k];
            match (wn, xn) {
                (W_ROWS, X_ROWS) => put(y, t, o, block::<W_ROWS, X_ROWS>(xb, w, k)),
                (W_ROWS, _) => put(y, t, o, block::<W_ROWS, 1>(xb, w, k)),
                (_, X_ROWS) => rows_one_by_one::<X_ROWS>(xb, w, k, y, t, o),
                _ => rows_one_by_one::<1>(xb, w, k, y, t, o),
            }
            t += xn;
        }
    }

    /// The last 1-3 weight rows of a matrix, one at a time.
    #[target_feature(enable = "avx2,fma")]
    fn rows_one_by_one<const T: usize>(
        x: &[f32],
        w: &[f32],
        k: usize,
        y: &mut ArrayViewMut2<f32>,
        t: usize,
        o: usize,
    ) {
        for (r, row) in w.chunks_exact(k).enumerate() {
            put(y, t, o + r, block::<1, T>(x, row, k));
        }
    }

    pub(super) fn put<const R: usize, const T: usize>(
        y: &mut ArrayViewMut2<f32>,
        t: usize,
        o: usize,
        sums: [[f32; R]; T],
    ) {
        for (j, row) in sums.iter().enumerate() {
            for (r, &v) in row.iter().enumerate() {
                y[[t + j, o + r]] = v;
            }
        }
    }

    /// The dot products of `T` token rows (`x`, `[T, k]`) with `R` weight rows (`w`, `[R, k]`).
    #[target_feature(enable = "avx2,fma")]
    fn block<const R: usize, const T: usize>(x: &[f32], w: &[f32], k: usize) -> [[f32; R]; T] {
        assert!(x.len() >= T * k && w.len() >= R * k);
        let (xp, wp) = (x.as_ptr(), w.as_ptr());
        let mut acc = [[_mm256_setzero_ps(); R]; T];
        let lanes = k / 8 * 8;
        let mut i = 0;
        while i < lanes {
            let mut wv = [_mm256_setzero_ps(); R];
            for (r, v) in wv.iter_mut().enumerate() {
                // SAFETY: r < R, i + 8 <= k, and w holds R rows of k (asserted above).
                *v = unsafe { _mm256_loadu_ps(wp.add(r * k + i)) };
            }
            for (j, acc_j) in acc.iter_mut().enumerate() {
                // SAFETY: j < T, i + 8 <= k, and x holds T rows of k (asserted above).
                let xv = unsafe { _mm256_loadu_ps(xp.add(j * k + i)) };
                for (a, &wr) in acc_j.iter_mut().zip(&wv) {
                    *a = _mm256_fmadd_ps(xv, wr, *a);
                }
            }
            i += 8;
        }
        let mut sums = [[0f32; R]; T];
        for (j, row) in sums.iter_mut().enumerate() {
            for (r, s) in row.iter_mut().enumerate() {
                let tail: f32 = (lanes..k).map(|i| x[j * k + i] * w[r * k + i]).sum();
                *s = hsum(acc[j][r]) + tail;
            }
        }
        sums
    }

    /// Rows `start..` of `w` as f32, into `out` (whole rows).
    #[target_feature(enable = "avx2,fma")]
    fn dequantize(w: QuantRows, start: usize, out: &mut [f32]) {
        let q = &w.q[start * w.cols..][..out.len()];
        let scales = &w.scales[start * w.cols / GROUP..][..out.len() / GROUP];
        for ((q, o), &scale) in q
            .chunks_exact(GROUP)
            .zip(out.chunks_exact_mut(GROUP))
            .zip(scales)
        {
            let scale = _mm256_set1_ps(scale);
            for (q8, o8) in q.chunks_exact(8).zip(o.chunks_exact_mut(8)) {
                assert!(q8.len() == 8 && o8.len() == 8);
                // SAFETY: q8 holds 8 bytes, all the 64-bit load reads.
                let bytes = unsafe { _mm_loadl_epi64(q8.as_ptr().cast()) };
                let v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes)), scale);
                // SAFETY: o8 holds 8 f32, all the store writes.
                unsafe { _mm256_storeu_ps(o8.as_mut_ptr(), v) };
            }
        }
    }

    /// The sum of a register's eight lanes.
    #[target_feature(enable = "avx2,fma")]
    fn hsum(v: __m256) -> f32 {
        let quad = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
        _mm_cvtss_f32(_mm_add_ss(pair, _mm_movehdup_ps(pair)))
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use ndarray::ArrayViewMut2;

    use super::avx2::put;
    use super::{GROUP, QuantRows};

    /// Weight rows and token rows of one register block: 4 x 4 accumulators, 4 weight vectors
    /// and a token vector use 21 of the 32 registers.
    const W_ROWS: usize = 4;
    const X_ROWS: usize = 4;

    /// `y = x · wᵀ` for row-major `x` and a [`QuantRows`] (rows a multiple of 32 long): each
    /// block of weight rows is dequantized into a buffer that stays in L1 while every token row
    /// meets it.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn quant_product_t(x: &[f32], w: QuantRows, mut y: ArrayViewMut2<f32>) {
        let k = w.cols;
        let mut buffer = vec![0f32; W_ROWS * k];
        let mut o = 0;
        while o < w.nrows() {
            let wn = (w.nrows() - o).min(W_ROWS);
            let rows = &mut buffer[..wn * k];
            dequantize(w, o, rows);
            let mut t = 0;
            while t < x.len() / k {
                let xn = (x.len() / k - t).min(X_ROWS);
                let xb = &x[t * k..(t + xn) * k];
                match xn {
                    4 => tokens::<4>(xb, rows, k, &mut y, t, o),
                    3 => tokens::<3>(xb, rows, k, &mut y, t, o),
                    2 => tokens::<2>(xb, rows, k, &mut y, t, o),
                    _ => tokens::<1>(xb, rows, k, &mut y, t, o),
                }
                t += xn;
            }
            o += wn;
        }
    }

    /// `T` token rows against up to [`W_ROWS`] weight rows (4 at once, fewer one by one).
    #[target_feature(enable = "avx512f")]
    fn tokens<const T: usize>(
        x: &[f32],
        w: &[f32],
        k: usize,
        y: &mut ArrayViewMut2<f32>,
        t: usize,
        o: usize,
    ) {
        if w.len() == W_ROWS * k {
            return put(y, t, o, block::<W_ROWS, T>(x, w, k));
        }
        for (r, row) in w.chunks_exact(k).enumerate() {
            put(y, t, o + r, block::<1, T>(x, row, k));
        }
    }

    /// The dot products of `T` token rows (`x`, `[T, k]`) with `R` weight rows (`w`, `[R, k]`),
    /// `k` a multiple of 16.
    #[target_feature(enable = "avx512f")]
    fn block<const R: usize, const T: usize>(x: &[f32], w: &[f32], k: usize) -> [[f32; R]; T] {
        assert!(x.len() >= T * k && w.len() >= R * k && k.is_multiple_of(16));
        let (xp, wp) = (x.as_ptr(), w.as_ptr());
        let mut acc = [[_mm512_setzero_ps(); R]; T];
        for i in (0..k).step_by(16) {
            let mut wv = [_mm512_setzero_ps(); R];
            for (r, v) in wv.iter_mut().enumerate() {
                // SAFETY: r < R, i + 16 <= k, and w holds R rows of k (asserted above).
                *v = unsafe { _mm512_loadu_ps(wp.add(r * k + i)) };
            }
            for (j, acc_j) in acc.iter_mut().enumerate() {
                // SAFETY: j < T, i + 16 <= k, and x holds T rows of k (asserted above).
                let xv = unsafe { _mm512_loadu_ps(xp.add(j * k + i)) };
                for (a, &wr) in acc_j.iter_mut().zip(&wv) {
                    *a = _mm512_fmadd_ps(xv, wr, *a);
                }
            }
        }
        let mut sums = [[0f32; R]; T];
        for (sums_j, acc_j) in sums.iter_mut().zip(&acc) {
            for (s, &a) in sums_j.iter_mut().zip(acc_j) {
                *s = _mm512_reduce_add_ps(a);
            }
        }
        sums
    }

    /// Rows `start..` of `w` as f32, into `out` (whole rows).
    #[target_feature(enable = "avx512f")]
    fn dequantize(w: QuantRows, start: usize, out: &mut [f32]) {
        let q = &w.q[start * w.cols..][..out.len()];
        let scales = &w.scales[start * w.cols / GROUP..][..out.len() / GROUP];
        for ((q, o), &scale) in q
            .chunks_exact(GROUP)
            .zip(out.chunks_exact_mut(GROUP))
            .zip(scales)
        {
            let scale = _mm512_set1_ps(scale);
            for (q16, o16) in q.chunks_exact(16).zip(o.chunks_exact_mut(16)) {
                assert!(q16.len() == 16 && o16.len() == 16);
                // SAFETY: q16 holds 16 bytes, all the 128-bit load reads.
                let bytes = unsafe { _mm_loadu_si128(q16.as_ptr().cast()) };
                let v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(bytes)), scale);
                // SAFETY: o16 holds 16 f32, all the store writes.
                unsafe { _mm512_storeu_ps(o16.as_mut_ptr(), v) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, s};

    /// Deterministic values in [-1, 1) (no `rand` in the library's dependencies).
    fn matrix(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        Array2::from_shape_fn((rows, cols), |_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
    }

    fn reference(x: &Array2<f32>, w: &Array2<f32>) -> Array2<f32> {
        x.dot(&w.t())
    }

    fn assert_close(got: &Array2<f32>, want: &Array2<f32>, what: &str) {
        assert_eq!(got.dim(), want.dim(), "{what}");
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                "{what}: {g} vs {w}"
            );
        }
    }

    /// Rows 1-5 (blocks of 2 and the odd one), outputs not a multiple of 4, lengths not a multiple
    /// of 8, and the encoder's own shapes.
    const SHAPES: [(usize, usize, usize); 9] = [
        (1, 8, 4),
        (1, 1, 1),
        (3, 13, 7),
        (2, 384, 1152),
        (5, 1536, 384),
        (4, 7, 9),
        (10, 384, 1536),
        (17, 100, 33),
        (32, 40, 5),
    ];

    #[test]
    fn the_product_equals_ndarrays_on_every_shape() {
        for (seed, &(rows, k, outs)) in SHAPES.iter().enumerate() {
            let (x, w) = (
                matrix(rows, k, seed as u64),
                matrix(outs, k, 100 + seed as u64),
            );
            let mut y = Array2::from_elem((rows, outs), f32::NAN);
            product_t(x.view(), w.view(), y.view_mut());
            assert_close(&y, &reference(&x, &w), &format!("{rows}x{k} by {outs}x{k}"));
        }
    }

    #[test]
    fn the_fallback_equals_ndarrays_on_every_shape() {
        for (seed, &(rows, k, outs)) in SHAPES.iter().enumerate() {
            let (x, w) = (
                matrix(rows, k, seed as u64),
                matrix(outs, k, 100 + seed as u64),
            );
            let mut y = Array2::from_elem((rows, outs), f32::NAN);
            gemm_t(x.view(), w.view(), y.view_mut());
            assert_close(&y, &reference(&x, &w), &format!("{rows}x{k} by {outs}x{k}"));
        }
    }

    /// The encoder writes each core's share of the outputs into a column range of `y`, from a
    /// row range of `w`; a strided `x` takes the fallback.
    #[test]
    fn column_ranges_and_strided_inputs_give_the_same_product() {
        let (x, w) = (matrix(6, 72, 1), matrix(50, 72, 2));
        let want = reference(&x, &w);
        let mut y = Array2::from_elem((6, 50), f32::NAN);
        let (mut left, mut right) = y.view_mut().split_at(ndarray::Axis(1), 21);
        product_t(x.view(), w.slice(s![..21, ..]), left.view_mut());
        product_t(x.view(), w.slice(s![21.., ..]), right.view_mut());
        assert_close(&y, &want, "column ranges");
        let xt = x.t().to_owned();
        let mut y2 = Array2::from_elem((6, 50), f32::NAN);
        product_t(xt.t(), w.view(), y2.view_mut());
        assert_close(&y2, &want, "strided x");
    }

    /// A matrix as the model file's 4-bit blocks give it: `(q - 8) * scale` with an f16 scale.
    fn q4_like(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
        let noise = matrix(rows, cols, seed);
        let scales = matrix(rows, cols / GROUP, seed + 7);
        Array2::from_shape_fn((rows, cols), |(r, c)| {
            let q = (noise[[r, c]] * 8.0).floor().clamp(-8.0, 7.0);
            let scale = half::f16::from_f32(scales[[r, c / GROUP]] * 0.05).to_f32();
            q * scale
        })
    }

    const QUANT_SHAPES: [(usize, usize, usize); 7] = [
        (1, 32, 4),
        (3, 64, 7),
        (2, 384, 1152),
        (5, 1536, 384),
        (10, 384, 1536),
        (17, 96, 33),
        (1, 32, 1),
    ];

    #[test]
    fn four_bit_weights_are_held_exactly() {
        let w = q4_like(9, 128, 3);
        let quant = QuantMatrix::exact(w.view()).expect("4-bit weights are exact");
        let mut back = Array2::zeros(w.dim());
        let rows = quant.view();
        for r in 0..rows.nrows() {
            rows.dequantize(r, back.row_mut(r).as_slice_mut().expect("row"));
        }
        assert_eq!(back, w);
    }

    #[test]
    fn weights_not_from_four_bit_blocks_are_refused() {
        assert!(QuantMatrix::exact(matrix(4, 64, 1).view()).is_none());
        assert!(QuantMatrix::exact(q4_like(4, 64, 1).slice(s![.., ..48])).is_none());
    }

    #[test]
    fn the_quantized_product_equals_ndarrays_on_every_shape() {
        for (seed, &(rows, k, outs)) in QUANT_SHAPES.iter().enumerate() {
            let (x, w) = (
                matrix(rows, k, seed as u64),
                q4_like(outs, k, 50 + seed as u64),
            );
            let quant = QuantMatrix::exact(w.view()).expect("exact");
            let want = reference(&x, &w);
            let what = format!("{rows}x{k} by {outs}x{k}");
            for level in levels() {
                let mut y = Array2::from_elem((rows, outs), f32::NAN);
                quant_product_at(level, x.view(), quant.view(), y.view_mut());
                assert_close(&y, &want, &format!("{what}, {level:?}"));
            }
        }
    }

    #[test]
    fn quantized_row_ranges_give_the_same_product() {
        let (x, w) = (matrix(4, 96, 1), q4_like(50, 96, 2));
        let quant = QuantMatrix::exact(w.view()).expect("exact");
        let mut y = Array2::from_elem((4, 50), f32::NAN);
        let (top, bottom) = quant.view().split_at(23);
        let (mut left, mut right) = y.view_mut().split_at(ndarray::Axis(1), 23);
        quant_product_t(x.view(), top, left.view_mut());
        quant_product_t(x.t().as_standard_layout().t(), bottom, right.view_mut());
        assert_close(&y, &reference(&x, &w), "row ranges");
    }

    /// Every integer level this CPU runs, the portable one included.
    fn int8_levels() -> Vec<Int8Level> {
        [Int8Level::Portable, Int8Level::Avx2, Int8Level::Avx512Vnni]
            .into_iter()
            .filter(|&l| l <= int8::cpu_level())
            .collect()
    }

    /// `x · wᵀ` through the integer kernels of `level`.
    fn int8_product(level: Int8Level, x: &Array2<f32>, w: &Array2<f32>) -> Array2<f32> {
        let packed = pack(w.view()).expect("4-bit weights of a packable shape");
        let mut q8 = QuantRows8::default();
        q8.quantize(x.as_slice().expect("standard layout"), x.ncols(), level);
        let mut y = Array2::from_elem((x.nrows(), w.nrows()), f32::NAN);
        int8_product_t(level, &q8, &packed, y.view_mut());
        y
    }

    /// Shapes: token counts around the AVX2 (4) and AVX-512 (8) tiles, the encoder's matrices,
    /// and enough products that the groups split across tasks.
    const INT8_SHAPES: [(usize, usize, usize); 7] = [
        (1, 32, 16),
        (3, 64, 32),
        (9, 384, 1152),
        (13, 1536, 384),
        (128, 384, 1536),
        (7, 96, 48),
        (33, 384, 384),
    ];

    /// Activations that quantize with a scale of exactly 1 (integers, each block's largest 127)
    /// against weights with scales of 1: every output is then the exact integer dot product,
    /// which each SIMD level must give bit for bit, as the portable one and as i64 arithmetic.
    #[test]
    fn every_int8_level_gives_the_exact_integer_dot_products() {
        for (seed, &(rows, k, outs)) in INT8_SHAPES.iter().enumerate() {
            let mut x = matrix(rows, k, seed as u64).mapv(|v| (v * 127.0).round());
            for block in x
                .as_slice_mut()
                .expect("standard")
                .chunks_exact_mut(int8::BLOCK)
            {
                block[seed % int8::BLOCK] = if seed % 2 == 0 { 127.0 } else { -127.0 };
            }
            let w = matrix(outs, k, 70 + seed as u64).mapv(|v| (v * 8.0).floor().clamp(-8.0, 7.0));
            let exact = Array2::from_shape_fn((rows, outs), |(t, o)| {
                let dot: i64 = (0..k).map(|i| x[[t, i]] as i64 * w[[o, i]] as i64).sum();
                dot as f32
            });
            for level in int8_levels() {
                let y = int8_product(level, &x, &w);
                assert_eq!(y, exact, "{rows}x{k} by {outs}x{k}, {level:?}");
            }
        }
    }

    /// Real-valued activations against 4-bit weights: every level within float rounding of the
    /// portable one, and all within 8-bit quantization error of the f32 product.
    #[test]
    fn int8_levels_agree_and_stay_near_the_f32_product() {
        for (seed, &(rows, k, outs)) in INT8_SHAPES.iter().enumerate() {
            let (x, w) = (
                matrix(rows, k, seed as u64),
                q4_like(outs, k, 50 + seed as u64),
            );
            let want = reference(&x, &w);
            let portable = int8_product(Int8Level::Portable, &x, &w);
            // Error of 8-bit activations: each block's rounding is at most half a step of
            // largest/127, so a dot of k terms is off by about sqrt(k) such steps times |w|.
            let scale = w.iter().fold(0f32, |a, v| a.max(v.abs()));
            let bound = scale * (k as f32).sqrt() * 0.5 / 127.0 * 3.0;
            for (p, f) in portable.iter().zip(&want) {
                assert!((p - f).abs() <= bound, "{p} vs f32 {f} (bound {bound})");
            }
            for level in int8_levels() {
                let y = int8_product(level, &x, &w);
                for (a, p) in y.iter().zip(&portable) {
                    assert!(
                        (a - p).abs() <= 1e-5 * (1.0 + p.abs()),
                        "{level:?}: {a} vs portable {p}"
                    );
                }
            }
        }
    }

    #[test]
    fn shapes_the_integer_kernels_cannot_take_are_refused() {
        assert!(pack(q4_like(8, 64, 1).view()).is_none());
        assert!(pack(matrix(16, 64, 1).view()).is_none());
        assert!(pack(q4_like(16, 64, 1).view()).is_some());
    }

    #[test]
    fn the_kernel_cap_never_exceeds_the_cpu() {
        let cpu = int8::cpu_level();
        assert_eq!(PassageKernel::choose(Some("f32")), PassageKernel::F32);
        assert_eq!(
            PassageKernel::choose(Some("portable")),
            PassageKernel::Int8(Int8Level::Portable)
        );
        for cap in ["avx2", "avx512", "", "bogus"] {
            match PassageKernel::choose(Some(cap)) {
                PassageKernel::Int8(level) => assert!(level <= cpu, "{cap}: {level:?}"),
                PassageKernel::F32 => assert!(cpu < Int8Level::Avx2, "{cap}"),
            }
        }
    }

    /// Every kernel level this CPU runs, the portable one included.
    fn levels() -> Vec<Simd> {
        [Simd::None, Simd::Avx2Fma, Simd::Avx512]
            .into_iter()
            .filter(|&l| l <= *SIMD)
            .collect()
    }
}
