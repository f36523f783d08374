//! The vectors in 8 bits a dimension (scalar quantization), which graph walks compare by, and
//! the dot product of a query with a row of codes: an AVX-512 and an AVX2 kernel where the CPU
//! has them, and a portable loop everywhere (and for the kernels' tails).

use super::memory::{PREFETCH_LINES, huge_pages, prefetch};
use crate::embed::dot;

/// The rows quantized to one byte a dimension between each dimension's least and greatest
/// value (scalar quantization, as Qdrant's and faiss's SQ8): a distance reads 256 bytes instead
/// of 1 KiB, and the graph walk is bound by memory, not arithmetic.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Codes {
    dims: usize,
    low: Vec<f32>,
    step: Vec<f32>,
    bytes: Vec<u8>,
}

impl Codes {
    /// Codes of `data`'s rows of `dims` floats, if they tell near rows apart: on rows that
    /// crowd closer than a code step (near-duplicates, one clump) a walk by the codes wanders
    /// (recall@10 0.62 against 0.99 by the floats on the test's clumps), and floats it is.
    pub(crate) fn fit(data: &[f32], dims: usize) -> Option<Self> {
        let codes = Codes::new(data, dims);
        codes.resolves(data).then_some(codes)
    }

    /// Whether the codes' error stays well under how close rows come: on a sample of pairs,
    /// the 90th percentile error is under a tenth of the 1st percentile distance (ties apart).
    fn resolves(&self, data: &[f32]) -> bool {
        let dims = self.dims;
        let row = |slot: usize| &data[slot * dims..(slot + 1) * dims];
        let n = data.len().checked_div(dims).unwrap_or(0);
        let (mut errors, mut distances) = (Vec::new(), Vec::new());
        for q in (0..n).step_by(n.div_ceil(64).max(1)) {
            let query = row(q);
            let (weights, offset) = self.weigh(query);
            for s in (0..n).step_by(n.div_ceil(1024).max(1)).filter(|&s| s != q) {
                let exact = 1.0 - dot(query, row(s));
                let coded = 1.0 - offset - self.dot(&weights, s as u32);
                errors.push((coded - exact).abs());
                if exact > 1e-6 {
                    distances.push(exact);
                }
            }
        }
        let quantile = |v: &mut Vec<f32>, q: f64| {
            v.sort_unstable_by(f32::total_cmp);
            v.get((v.len() as f64 * q) as usize).copied()
        };
        match (quantile(&mut errors, 0.9), quantile(&mut distances, 0.01)) {
            (Some(error), Some(near)) => error * 10.0 < near,
            _ => false,
        }
    }

    fn new(data: &[f32], dims: usize) -> Self {
        let mut low = vec![f32::INFINITY; dims];
        let mut high = vec![f32::NEG_INFINITY; dims];
        for row in data.chunks_exact(dims.max(1)) {
            for ((l, h), &x) in low.iter_mut().zip(&mut high).zip(row) {
                *l = l.min(x);
                *h = h.max(x);
            }
        }
        let step: Vec<f32> = low
            .iter()
            .zip(&high)
            .map(|(l, h)| ((h - l) / 255.0).max(f32::MIN_POSITIVE))
            .collect();
        let mut bytes = huge_pages(data.len());
        bytes.extend(data.chunks_exact(dims.max(1)).flat_map(|row| {
            row.iter()
                .zip(low.iter().zip(&step))
                .map(|(x, (l, s))| ((x - l) / s).round().clamp(0.0, 255.0) as u8)
        }));
        Codes {
            dims,
            low,
            step,
            bytes,
        }
    }

    /// `query` times each step, and `query`'s dot with the lows: the dot of `query` with a
    /// row is then `offset + weights . codes`.
    pub(super) fn weigh(&self, query: &[f32]) -> (Vec<f32>, f32) {
        let weights = query.iter().zip(&self.step).map(|(q, s)| q * s).collect();
        (weights, dot(query, &self.low))
    }

    pub(super) fn dot(&self, weights: &[f32], slot: u32) -> f32 {
        let start = slot as usize * self.dims;
        match self.bytes.get(start..start + self.dims) {
            Some(codes) => dot_codes(weights, codes),
            None => 0.0,
        }
    }

    pub(super) fn prefetch(&self, slot: u32) {
        prefetch(&self.bytes, slot as usize * self.dims, PREFETCH_LINES);
    }
}

/// `weights . codes`, the codes widened to floats.
fn dot_codes(weights: &[f32], codes: &[u8]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F, checked just above.
        return unsafe { dot_codes_avx512(weights, codes) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has both features, checked just above.
        return unsafe { dot_codes_avx2(weights, codes) };
    }
    dot_codes_plain(weights, codes)
}

/// `weights . codes` one pair at a time (other CPUs, and the kernels' tails).
fn dot_codes_plain(weights: &[f32], codes: &[u8]) -> f32 {
    weights
        .iter()
        .zip(codes)
        .map(|(w, &c)| w * f32::from(c))
        .sum()
}

/// Sixteen codes a step widened to sixteen floats, into two independent accumulators.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn dot_codes_avx512(weights: &[f32], codes: &[u8]) -> f32 {
    use std::arch::x86_64::{
        __m512, _mm_loadu_si128, _mm512_add_ps, _mm512_cvtepi32_ps, _mm512_cvtepu8_epi32,
        _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_reduce_add_ps, _mm512_setzero_ps,
    };
    let n = weights.len().min(codes.len());
    let step = |at: usize, acc: __m512| -> __m512 {
        let (w, c) = (&weights[at..at + 16], &codes[at..at + 16]);
        // SAFETY: `w` is 16 in-bounds f32s and `c` 16 in-bounds bytes; unaligned loads are
        // allowed.
        unsafe {
            let c = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(c.as_ptr().cast())));
            _mm512_fmadd_ps(_mm512_loadu_ps(w.as_ptr()), c, acc)
        }
    };
    let mut acc = [_mm512_setzero_ps(); 2];
    let mut i = 0;
    while i + 32 <= n {
        acc[0] = step(i, acc[0]);
        acc[1] = step(i + 16, acc[1]);
        i += 32;
    }
    while i + 16 <= n {
        acc[0] = step(i, acc[0]);
        i += 16;
    }
    let tail = dot_codes_plain(&weights[i..n], &codes[i..n]);
    _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1])) + tail
}

/// Eight codes a step widened to eight floats, into four independent accumulators.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_codes_avx2(weights: &[f32], codes: &[u8]) -> f32 {
    use std::arch::x86_64::{
        __m256, _mm_loadl_epi64, _mm256_add_ps, _mm256_cvtepi32_ps, _mm256_cvtepu8_epi32,
        _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    };
    let n = weights.len().min(codes.len());
    let step = |at: usize, acc: __m256| -> __m256 {
        let (w, c) = (&weights[at..at + 8], &codes[at..at + 8]);
        // SAFETY: `w` is 8 in-bounds f32s and `c` 8 in-bounds bytes; unaligned loads are allowed.
        unsafe {
            let c = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(c.as_ptr().cast())));
            _mm256_fmadd_ps(_mm256_loadu_ps(w.as_ptr()), c, acc)
        }
    };
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 32 <= n {
        for (j, lane) in acc.iter_mut().enumerate() {
            *lane = step(i + 8 * j, *lane);
        }
        i += 32;
    }
    while i + 8 <= n {
        acc[0] = step(i, acc[0]);
        i += 8;
    }
    let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut lanes = [0f32; 8];
    // SAFETY: `lanes` holds exactly 8 f32s.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
    let tail = dot_codes_plain(&weights[i..n], &codes[i..n]);
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Unit vectors of a few clumps (crowded, like generated papers), from a fixed hash.
    pub(in crate::vectors) fn clumped(n: usize, dims: usize) -> Vec<f32> {
        let mut data = Vec::with_capacity(n * dims);
        for i in 0..n {
            let mut v: Vec<f32> = (0..dims)
                .map(|d| {
                    let centre = ((i % 7 * 31 + d * 17) % 13) as f32;
                    let noise = ((i * 2654435761 + d * 40503) % 1000) as f32 / 1000.0;
                    centre + noise
                })
                .collect();
            crate::embed::normalize(&mut v);
            data.extend(v);
        }
        data
    }

    /// Unit vectors spread everywhere, from a fixed hash.
    pub(in crate::vectors) fn scattered(n: usize, dims: usize) -> Vec<f32> {
        let mut data = Vec::with_capacity(n * dims);
        for i in 0..n {
            let mut v: Vec<f32> = (0..dims)
                .map(|d| {
                    let z = ((i * dims + d) as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                    ((z ^ (z >> 29)) % 1000) as f32 - 500.0
                })
                .collect();
            crate::embed::normalize(&mut v);
            data.extend(v);
        }
        data
    }

    #[test]
    fn codes_serve_scattered_rows_but_not_clumps_closer_than_a_step() {
        assert!(Codes::fit(&scattered(3000, 24), 24).is_some());
        assert!(Codes::fit(&clumped(3000, 24), 24).is_none());
    }

    /// Every kernel the CPU has gives the codes' dot as the plain sum does, up to rounding, for
    /// lengths that leave each kind of tail.
    #[test]
    fn the_codes_dot_matches_the_plain_sum() {
        for dims in [7, 16, 24, 40, 256, 260] {
            let data = clumped(5, dims);
            let codes = Codes::new(&data, dims);
            let query = &data[..dims];
            let (weights, offset) = codes.weigh(query);
            for slot in 0..5u32 {
                let row = &codes.bytes[slot as usize * dims..][..dims];
                let plain: f32 = weights
                    .iter()
                    .zip(row)
                    .map(|(w, &c)| w * f32::from(c))
                    .sum();
                let kernel = codes.dot(&weights, slot);
                assert!(
                    (plain - kernel).abs() < 1e-4,
                    "{dims} dims: {plain} / {kernel}"
                );
                // The dispatch takes the best kernel only: each path the CPU has on its own.
                let portable = dot_codes_plain(&weights, row);
                assert!(
                    (plain - portable).abs() < 1e-4,
                    "{dims} dims: {plain} / {portable}"
                );
                #[cfg(target_arch = "x86_64")]
                if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU has both features, checked just above.
                    let avx2 = unsafe { dot_codes_avx2(&weights, row) };
                    assert!((plain - avx2).abs() < 1e-4, "{dims} dims: {plain} / {avx2}");
                }
                #[cfg(target_arch = "x86_64")]
                if is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F, checked just above.
                    let avx512 = unsafe { dot_codes_avx512(&weights, row) };
                    assert!(
                        (plain - avx512).abs() < 1e-4,
                        "{dims} dims: {plain} / {avx512}"
                    );
                }
                let float = dot(query, &data[slot as usize * dims..][..dims]);
                let step = codes.step.iter().copied().fold(0.0, f32::max);
                assert!(
                    (offset + kernel - float).abs() < step * dims as f32,
                    "{dims} dims"
                );
            }
        }
    }
}
