//! Integer products for passage batches: activations quantized to 8 bits per 32 values (as
//! llama.cpp's Q8_0) against the model's 4-bit weights held as bytes, multiplied with integer
//! instructions (AVX2 `vpmaddubsw`, AVX-512 VNNI `vpdpbusd`) that do four times the products of
//! an f32 FMA per instruction.
//!
//! Layout. The weights are repacked once into groups of 16 output rows: for each group and each
//! block of 32 inputs, 8 "quads" of 64 bytes, a quad holding 4 consecutive inputs of each of the
//! 16 rows. One `vpdpbusd` of a quad against a token's 4 bytes broadcast to every lane then adds
//! 4 products into each of 16 outputs: the lanes are outputs, so no horizontal sum is ever
//! needed and a tile of outputs is stored with one write per token. AVX2 reads a quad as two
//! halves of 8 rows.
//!
//! Signs. The instructions multiply unsigned by signed bytes. The weights (-8..=8) are stored
//! plus 8 (0..=16, unsigned) and the activations (-127..=127) signed; each block's sum is then
//! the true dot plus `8 * sum(x)`, which starts the block's integer accumulator negated
//! ([`QuantRows8::corr`]), so the integer result is exact. With weights at most 16, the AVX2
//! path's 16-bit pair sums stay below 2 * 16 * 127 = 4064, and eight of them (a block) below
//! 32,767: a block accumulates in 16 bits and widens once.

/// Inputs per scale, on both sides (the model file's Q4_0 block, llama.cpp's Q8_0 block).
pub(super) const BLOCK: usize = 32;
/// Output rows per packed group: the 16 i32 lanes of an AVX-512 register.
pub(super) const GROUP_ROWS: usize = 16;
/// Bytes of one quad: 4 inputs of each of a group's 16 rows.
const QUAD: usize = 4 * GROUP_ROWS;

/// Which integer kernels run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Int8Level {
    /// Plain Rust: the reference the SIMD kernels are tested against (slow: the encoder keeps
    /// the f32 GEMM on CPUs without AVX2).
    Portable,
    /// AVX2 `vpmaddubsw` + `vpmaddwd`, 8 outputs a register.
    Avx2,
    /// AVX-512 VNNI `vpdpbusd`, 16 outputs a register.
    Avx512Vnni,
}

/// The integer level this CPU runs (at most; the encoder may be told to use less).
pub fn cpu_level() -> Int8Level {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vnni")
        {
            return Int8Level::Avx512Vnni;
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Int8Level::Avx2;
        }
    }
    Int8Level::Portable
}

/// A weight matrix `[out, in]` repacked for the integer kernels (see the module's comment):
/// `out` a multiple of 16, `in` of 32.
pub(crate) struct PackedMatrix {
    rows: usize,
    cols: usize,
    /// `[group][block][quad][row of 16][4]`, each weight plus 8.
    w: Vec<u8>,
    /// `[group][block][row of 16]`: each block's weight scale.
    scales: Vec<f32>,
}

impl PackedMatrix {
    /// The weights `q` (row-major, `cols` a row, -8..=8) with a scale per 32 of a row in
    /// `scales`, repacked; `None` when the shape does not fit the kernels. (Plain slices, not
    /// the parent's `QuantRows`: this module is below `kernel` and imports nothing from it.)
    pub(super) fn pack(q: &[i8], scales: &[f32], cols: usize) -> Option<Self> {
        if cols == 0 || !q.len().is_multiple_of(cols) || scales.len() * BLOCK != q.len() {
            return None;
        }
        let rows = q.len() / cols;
        if rows == 0 || !rows.is_multiple_of(GROUP_ROWS) || !cols.is_multiple_of(BLOCK) {
            return None;
        }
        let blocks = cols / BLOCK;
        let mut packed = vec![0u8; rows * cols];
        let mut packed_scales = vec![0f32; rows * blocks];
        for g in 0..rows / GROUP_ROWS {
            for b in 0..blocks {
                let out =
                    &mut packed[(g * blocks + b) * BLOCK * GROUP_ROWS..][..BLOCK * GROUP_ROWS];
                for r in 0..GROUP_ROWS {
                    let row = g * GROUP_ROWS + r;
                    packed_scales[(g * blocks + b) * GROUP_ROWS + r] = scales[row * blocks + b];
                    let block = &q[row * cols + b * BLOCK..][..BLOCK];
                    for (i, &v) in block.iter().enumerate() {
                        // -8..=8 (QuantMatrix::exact) plus 8: 0..=16.
                        out[(i / 4) * QUAD + r * 4 + i % 4] = (v + 8) as u8;
                    }
                }
            }
        }
        Some(PackedMatrix {
            rows,
            cols,
            w: packed,
            scales: packed_scales,
        })
    }

    /// Output rows.
    pub(crate) fn nrows(&self) -> usize {
        self.rows
    }

    /// Input columns.
    pub(crate) fn ncols(&self) -> usize {
        self.cols
    }

    /// Bytes of weights of one group.
    fn group_bytes(&self) -> usize {
        self.cols * GROUP_ROWS
    }
}

/// Token rows quantized per 32 values: `q` in -127..=127, a scale per block, and each block's
/// `-8 * sum(q)` (the correction for the weights' +8).
#[derive(Default)]
pub(crate) struct QuantRows8 {
    cols: usize,
    q: Vec<i8>,
    scales: Vec<f32>,
    corr: Vec<i32>,
}

impl QuantRows8 {
    /// Number of token rows.
    pub(crate) fn nrows(&self) -> usize {
        self.q.len().checked_div(self.cols).unwrap_or(0)
    }

    /// `x` (`rows` x `cols`, row-major, `cols` a multiple of 32) quantized into `self`.
    pub(crate) fn quantize(&mut self, x: &[f32], cols: usize, level: Int8Level) {
        debug_assert!(cols.is_multiple_of(BLOCK) && x.len().is_multiple_of(cols));
        self.cols = cols;
        self.q.resize(x.len(), 0);
        self.scales.resize(x.len() / BLOCK, 0.0);
        self.corr.resize(x.len() / BLOCK, 0);
        #[cfg(target_arch = "x86_64")]
        if level >= Int8Level::Avx2 {
            // SAFETY: the level was chosen no higher than the CPU's (`Int8Level` callers).
            return unsafe { self.quantize_avx2(x) };
        }
        let _ = level;
        self.quantize_blocks(x);
    }

    /// [`Self::quantize_blocks`] 8 lanes at a time, the same arithmetic (`d = largest / 127`,
    /// `q = round-half-even(v * (1 / d))`), so the same bytes.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn quantize_avx2(&mut self, x: &[f32]) {
        use std::arch::x86_64::*;
        let sign = _mm256_set1_ps(-0.0);
        let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        for (((block, q), scale), corr) in x
            .chunks_exact(BLOCK)
            .zip(self.q.chunks_exact_mut(BLOCK))
            .zip(self.scales.iter_mut())
            .zip(self.corr.iter_mut())
        {
            // SAFETY: a block is 32 f32: four loads of 8.
            let v = unsafe { [0, 8, 16, 24].map(|i| _mm256_loadu_ps(block.as_ptr().add(i))) };
            let m = v.iter().fold(_mm256_setzero_ps(), |m, &v| {
                _mm256_max_ps(m, _mm256_andnot_ps(sign, v))
            });
            let m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps::<1>(m));
            let m2 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
            let largest = _mm_cvtss_f32(_mm_max_ss(m2, _mm_movehdup_ps(m2)));
            let d = largest / 127.0;
            let inv = _mm256_set1_ps(if d > 0.0 { 1.0 / d } else { 0.0 });
            // Rounding to nearest even: the default MXCSR mode, as round_ties_even.
            let n = v.map(|v| _mm256_cvtps_epi32(_mm256_mul_ps(v, inv)));
            let total =
                _mm256_add_epi32(_mm256_add_epi32(n[0], n[1]), _mm256_add_epi32(n[2], n[3]));
            let t4 = _mm_add_epi32(
                _mm256_castsi256_si128(total),
                _mm256_extracti128_si256::<1>(total),
            );
            let t2 = _mm_add_epi32(t4, _mm_shuffle_epi32::<0b01_00_11_10>(t4));
            let sum = _mm_cvtsi128_si32(_mm_add_epi32(t2, _mm_shuffle_epi32::<0b10_11_00_01>(t2)));
            let bytes = _mm256_permutevar8x32_epi32(
                _mm256_packs_epi16(
                    _mm256_packs_epi32(n[0], n[1]),
                    _mm256_packs_epi32(n[2], n[3]),
                ),
                order,
            );
            // SAFETY: q is 32 bytes.
            unsafe { _mm256_storeu_si256(q.as_mut_ptr().cast(), bytes) };
            *scale = d;
            *corr = -8 * sum;
        }
    }

    #[inline(always)]
    fn quantize_blocks(&mut self, x: &[f32]) {
        for (((block, q), scale), corr) in x
            .chunks_exact(BLOCK)
            .zip(self.q.chunks_exact_mut(BLOCK))
            .zip(self.scales.iter_mut())
            .zip(self.corr.iter_mut())
        {
            let largest = block.iter().fold(0f32, |a, &v| a.max(v.abs()));
            let d = largest / 127.0;
            let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
            let mut sum = 0i32;
            for (o, &v) in q.iter_mut().zip(block) {
                let n = (v * inv).round_ties_even() as i32;
                *o = n as i8;
                sum += n;
            }
            *scale = d;
            *corr = -8 * sum;
        }
    }
}

/// `y = x · wᵀ` for the row groups `groups` of `w` (outputs `groups.start * 16..`), written to
/// `y` at column `(g - col_group0) * 16`: `y` points at a row-major matrix of `x.nrows()` rows
/// with `y_stride` floats between rows.
///
/// # Safety
/// `level` is at most the CPU's; `y` is valid for those writes and nothing else writes them.
pub(crate) unsafe fn product(
    level: Int8Level,
    x: &QuantRows8,
    w: &PackedMatrix,
    groups: std::ops::Range<usize>,
    y: *mut f32,
    y_stride: usize,
) {
    assert_eq!(
        x.cols, w.cols,
        "token rows and weight rows differ in length"
    );
    assert!(groups.end * GROUP_ROWS <= w.rows);
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller's promises, passed on.
        Int8Level::Avx512Vnni => unsafe { avx512::product(x, w, groups, y, y_stride) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller's promises, passed on.
        Int8Level::Avx2 => unsafe { avx2::product(x, w, groups, y, y_stride) },
        // SAFETY: the caller's promises, passed on.
        _ => unsafe { portable(x, w, groups, y, y_stride) },
    }
}

/// The reference: each block's exact integer sum, then scaled and added in f32.
///
/// # Safety
/// As [`product`].
unsafe fn portable(
    x: &QuantRows8,
    w: &PackedMatrix,
    groups: std::ops::Range<usize>,
    y: *mut f32,
    y_stride: usize,
) {
    let blocks = w.cols / BLOCK;
    let first = groups.start;
    for g in groups {
        let wg = &w.w[g * w.group_bytes()..][..w.group_bytes()];
        let sg = &w.scales[g * blocks * GROUP_ROWS..][..blocks * GROUP_ROWS];
        for t in 0..x.nrows() {
            let mut acc = [0f32; GROUP_ROWS];
            for b in 0..blocks {
                let xq = &x.q[t * x.cols + b * BLOCK..][..BLOCK];
                let mut sums = [x.corr[t * blocks + b]; GROUP_ROWS];
                for (i, &xv) in xq.iter().enumerate() {
                    let quad = &wg[b * BLOCK * GROUP_ROWS + (i / 4) * QUAD..][..QUAD];
                    for (r, s) in sums.iter_mut().enumerate() {
                        *s += i32::from(quad[r * 4 + i % 4]) * i32::from(xv);
                    }
                }
                let dx = x.scales[t * blocks + b];
                for ((a, &s), &dw) in acc.iter_mut().zip(&sums).zip(&sg[b * GROUP_ROWS..]) {
                    *a += s as f32 * (dw * dx);
                }
            }
            // SAFETY: row t, columns of this group: inside `y` (the caller's promise).
            let out = unsafe {
                std::slice::from_raw_parts_mut(
                    y.add(t * y_stride + (g - first) * GROUP_ROWS),
                    GROUP_ROWS,
                )
            };
            out.copy_from_slice(&acc);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{BLOCK, GROUP_ROWS, PackedMatrix, QUAD, QuantRows8};

    /// Tokens per tile: 4 accumulators of 16 bits, 4 of f32, a weight vector, a token vector,
    /// the ones and the scales: 12 of the 16 registers.
    const TOKENS: usize = 4;

    /// # Safety
    /// AVX2 and FMA; as [`super::product`].
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn product(
        x: &QuantRows8,
        w: &PackedMatrix,
        groups: std::ops::Range<usize>,
        y: *mut f32,
        y_stride: usize,
    ) {
        let first = groups.start;
        for g in groups {
            for half in 0..2 {
                let mut t = 0;
                while t < x.nrows() {
                    let n = (x.nrows() - t).min(TOKENS);
                    let col = (g - first) * GROUP_ROWS + half * 8;
                    // SAFETY: rows t..t + n, 8 columns from col: inside y (caller).
                    let out = unsafe { y.add(t * y_stride + col) };
                    // SAFETY: as above; g is a group of w, t + n <= rows of x.
                    unsafe {
                        match n {
                            4 => tile::<4>(x, w, g, half, t, out, y_stride),
                            3 => tile::<3>(x, w, g, half, t, out, y_stride),
                            2 => tile::<2>(x, w, g, half, t, out, y_stride),
                            _ => tile::<1>(x, w, g, half, t, out, y_stride),
                        }
                    }
                    t += n;
                }
            }
        }
    }

    /// Tokens `t..t + N` against 8 rows (`half` of group `g`).
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile<const N: usize>(
        x: &QuantRows8,
        w: &PackedMatrix,
        g: usize,
        half: usize,
        t: usize,
        out: *mut f32,
        y_stride: usize,
    ) {
        let blocks = w.cols / BLOCK;
        let wg = &w.w[g * w.group_bytes()..][..w.group_bytes()];
        let sg = &w.scales[g * blocks * GROUP_ROWS..][..blocks * GROUP_ROWS];
        let xq = &x.q[t * x.cols..][..N * x.cols];
        let xs = &x.scales[t * blocks..][..N * blocks];
        let xc = &x.corr[t * blocks..][..N * blocks];
        let xp = xq.as_ptr();
        let ones = _mm256_set1_epi16(1);
        let mut acc = [_mm256_setzero_ps(); N];
        for b in 0..blocks {
            let mut sums = [_mm256_setzero_si256(); N];
            // Raw pointers: slices here cost a bounds check per byte read (measured: the loop ran
            // slower than the f32 GEMM).
            // SAFETY: block b of the group: 512 bytes of wg.
            let wb = unsafe { wg.as_ptr().add(b * BLOCK * GROUP_ROWS + half * 32) };
            for j in 0..BLOCK / 4 {
                // SAFETY: the quad's half: 32 of the block's bytes.
                let wv = unsafe { _mm256_loadu_si256(wb.add(j * QUAD).cast()) };
                for (n, s) in sums.iter_mut().enumerate() {
                    // SAFETY: 4 bytes of token n's block b (xq holds N rows of cols).
                    let four = unsafe {
                        xp.add(n * x.cols + b * BLOCK + j * 4)
                            .cast::<i32>()
                            .read_unaligned()
                    };
                    let xv = _mm256_set1_epi32(four);
                    *s = _mm256_add_epi16(*s, _mm256_maddubs_epi16(wv, xv));
                }
            }
            // SAFETY: 8 scales of this half of the group.
            let ws = unsafe { _mm256_loadu_ps(sg[b * GROUP_ROWS + half * 8..].as_ptr()) };
            for (n, (a, s)) in acc.iter_mut().zip(&sums).enumerate() {
                let wide = _mm256_add_epi32(
                    _mm256_madd_epi16(*s, ones),
                    _mm256_set1_epi32(xc[n * blocks + b]),
                );
                let d = _mm256_mul_ps(ws, _mm256_set1_ps(xs[n * blocks + b]));
                *a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(wide), d, *a);
            }
        }
        for (n, a) in acc.iter().enumerate() {
            // SAFETY: row t + n, 8 columns: inside y (caller).
            unsafe { _mm256_storeu_ps(out.add(n * y_stride), *a) };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{BLOCK, GROUP_ROWS, PackedMatrix, QUAD, QuantRows8};

    /// Tokens per tile of one group: 8 integer and 8 f32 accumulators, a weight vector, the
    /// scales and a token vector: 19 of the 32 registers; each quad loaded serves 8 tokens.
    const TOKENS: usize = 8;
    /// Tokens per tile of two groups: a token's 4 bytes, broadcast once, feed one `vpdpbusd`
    /// of each group, so the loads per product fall from 1 1/8 to 2/3 (measured: +20-30%
    /// texts per CPU-second). 12 integer and 12 f32 accumulators, 2 quads, 2 scale vectors
    /// and a token: 29 of the 32 registers.
    const PAIR_TOKENS: usize = 6;

    /// # Safety
    /// AVX-512F/BW/VNNI; as [`super::product`].
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn product(
        x: &QuantRows8,
        w: &PackedMatrix,
        groups: std::ops::Range<usize>,
        y: *mut f32,
        y_stride: usize,
    ) {
        let first = groups.start;
        let mut g = groups.start;
        while g + 1 < groups.end {
            let mut t = 0;
            while t < x.nrows() {
                let n = (x.nrows() - t).min(PAIR_TOKENS);
                // SAFETY: rows t..t + n, the 32 columns of groups g and g + 1: inside y (the
                // caller's promise); both are groups of w, t + n <= rows of x.
                unsafe {
                    let out = y.add(t * y_stride + (g - first) * GROUP_ROWS);
                    match n {
                        6 => pair::<6>(x, w, g, t, out, y_stride),
                        5 => pair::<5>(x, w, g, t, out, y_stride),
                        4 => pair::<4>(x, w, g, t, out, y_stride),
                        3 => pair::<3>(x, w, g, t, out, y_stride),
                        2 => pair::<2>(x, w, g, t, out, y_stride),
                        _ => pair::<1>(x, w, g, t, out, y_stride),
                    }
                }
                t += n;
            }
            g += 2;
        }
        if g < groups.end {
            // SAFETY: the caller's promises, for the one group left.
            unsafe { single(x, w, g, first, y, y_stride) };
        }
    }

    /// Every token against the 16 rows of group `g` (the odd group at the end of a range).
    ///
    /// # Safety
    /// As [`product`], for group `g`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn single(
        x: &QuantRows8,
        w: &PackedMatrix,
        g: usize,
        first: usize,
        y: *mut f32,
        y_stride: usize,
    ) {
        let mut t = 0;
        while t < x.nrows() {
            let n = (x.nrows() - t).min(TOKENS);
            // SAFETY: rows t..t + n, the group's 16 columns: inside y (caller).
            let out = unsafe { y.add(t * y_stride + (g - first) * GROUP_ROWS) };
            // SAFETY: as above; g is a group of w, t + n <= rows of x.
            unsafe {
                match n {
                    8 => tile::<8>(x, w, g, t, out, y_stride),
                    7 => tile::<7>(x, w, g, t, out, y_stride),
                    6 => tile::<6>(x, w, g, t, out, y_stride),
                    5 => tile::<5>(x, w, g, t, out, y_stride),
                    4 => tile::<4>(x, w, g, t, out, y_stride),
                    3 => tile::<3>(x, w, g, t, out, y_stride),
                    2 => tile::<2>(x, w, g, t, out, y_stride),
                    _ => tile::<1>(x, w, g, t, out, y_stride),
                }
            }
            t += n;
        }
    }

    /// Tokens `t..t + N` against the 32 rows of groups `g` and `g + 1`: [`tile`] for two
    /// groups at once, the same arithmetic for each output (so the same bits).
    ///
    /// # Safety
    /// AVX-512F/BW/VNNI; groups `g` and `g + 1` of `w` exist, `t + N <= x.nrows()`, and `out`
    /// is valid for `N` rows of 32 floats, `y_stride` apart.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn pair<const N: usize>(
        x: &QuantRows8,
        w: &PackedMatrix,
        g: usize,
        t: usize,
        out: *mut f32,
        y_stride: usize,
    ) {
        let blocks = w.cols / BLOCK;
        let gb = w.group_bytes();
        let (wg0, wg1) = (&w.w[g * gb..][..gb], &w.w[(g + 1) * gb..][..gb]);
        let sb = blocks * GROUP_ROWS;
        let (sg0, sg1) = (&w.scales[g * sb..][..sb], &w.scales[(g + 1) * sb..][..sb]);
        let xq = &x.q[t * x.cols..][..N * x.cols];
        let xs = &x.scales[t * blocks..][..N * blocks];
        let xc = &x.corr[t * blocks..][..N * blocks];
        let xp = xq.as_ptr();
        let mut acc0 = [_mm512_setzero_ps(); N];
        let mut acc1 = [_mm512_setzero_ps(); N];
        for b in 0..blocks {
            let mut s0 = [_mm512_setzero_si512(); N];
            for (n, s) in s0.iter_mut().enumerate() {
                *s = _mm512_set1_epi32(xc[n * blocks + b]);
            }
            let mut s1 = s0;
            let wb0 = &wg0[b * BLOCK * GROUP_ROWS..][..BLOCK * GROUP_ROWS];
            let wb1 = &wg1[b * BLOCK * GROUP_ROWS..][..BLOCK * GROUP_ROWS];
            for j in 0..BLOCK / 4 {
                // SAFETY: one quad of each group: 64 of each block's 512 bytes.
                let w0 = unsafe { _mm512_loadu_si512(wb0[j * QUAD..].as_ptr().cast()) };
                // SAFETY: as above.
                let w1 = unsafe { _mm512_loadu_si512(wb1[j * QUAD..].as_ptr().cast()) };
                for n in 0..N {
                    // SAFETY: 4 bytes of token n's block b (xq holds N rows of cols).
                    let four = unsafe {
                        xp.add(n * x.cols + b * BLOCK + j * 4)
                            .cast::<i32>()
                            .read_unaligned()
                    };
                    let xv = _mm512_set1_epi32(four);
                    s0[n] = _mm512_dpbusd_epi32(s0[n], w0, xv);
                    s1[n] = _mm512_dpbusd_epi32(s1[n], w1, xv);
                }
            }
            // SAFETY: each group's 16 scales of block b.
            let ws0 = unsafe { _mm512_loadu_ps(sg0[b * GROUP_ROWS..].as_ptr()) };
            // SAFETY: as above.
            let ws1 = unsafe { _mm512_loadu_ps(sg1[b * GROUP_ROWS..].as_ptr()) };
            for n in 0..N {
                let xsv = _mm512_set1_ps(xs[n * blocks + b]);
                let (d0, d1) = (_mm512_mul_ps(ws0, xsv), _mm512_mul_ps(ws1, xsv));
                acc0[n] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0[n]), d0, acc0[n]);
                acc1[n] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1[n]), d1, acc1[n]);
            }
        }
        for n in 0..N {
            // SAFETY: row t + n, the 32 columns of the two groups: inside out (the promise).
            unsafe {
                _mm512_storeu_ps(out.add(n * y_stride), acc0[n]);
                _mm512_storeu_ps(out.add(n * y_stride + GROUP_ROWS), acc1[n]);
            }
        }
    }

    /// Tokens `t..t + N` against the 16 rows of group `g`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn tile<const N: usize>(
        x: &QuantRows8,
        w: &PackedMatrix,
        g: usize,
        t: usize,
        out: *mut f32,
        y_stride: usize,
    ) {
        let blocks = w.cols / BLOCK;
        let wg = &w.w[g * w.group_bytes()..][..w.group_bytes()];
        let sg = &w.scales[g * blocks * GROUP_ROWS..][..blocks * GROUP_ROWS];
        let xq = &x.q[t * x.cols..][..N * x.cols];
        let xs = &x.scales[t * blocks..][..N * blocks];
        let xc = &x.corr[t * blocks..][..N * blocks];
        let xp = xq.as_ptr();
        let mut acc = [_mm512_setzero_ps(); N];
        for b in 0..blocks {
            let mut sums = [_mm512_setzero_si512(); N];
            for (n, s) in sums.iter_mut().enumerate() {
                *s = _mm512_set1_epi32(xc[n * blocks + b]);
            }
            let wb = &wg[b * BLOCK * GROUP_ROWS..][..BLOCK * GROUP_ROWS];
            for j in 0..BLOCK / 4 {
                // SAFETY: one quad: 64 of the block's 512 bytes.
                let wv = unsafe { _mm512_loadu_si512(wb[j * QUAD..].as_ptr().cast()) };
                for (n, s) in sums.iter_mut().enumerate() {
                    // SAFETY: 4 bytes of token n's block b (xq holds N rows of cols).
                    let four = unsafe {
                        xp.add(n * x.cols + b * BLOCK + j * 4)
                            .cast::<i32>()
                            .read_unaligned()
                    };
                    *s = _mm512_dpbusd_epi32(*s, wv, _mm512_set1_epi32(four));
                }
            }
            // SAFETY: the group's 16 scales of block b.
            let ws = unsafe { _mm512_loadu_ps(sg[b * GROUP_ROWS..].as_ptr()) };
            for (n, (a, s)) in acc.iter_mut().zip(&sums).enumerate() {
                let d = _mm512_mul_ps(ws, _mm512_set1_ps(xs[n * blocks + b]));
                *a = _mm512_fmadd_ps(_mm512_cvtepi32_ps(*s), d, *a);
            }
        }
        for (n, a) in acc.iter().enumerate() {
            // SAFETY: row t + n, 16 columns: inside y (caller).
            unsafe { _mm512_storeu_ps(out.add(n * y_stride), *a) };
        }
    }
}
