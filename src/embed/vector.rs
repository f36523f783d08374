//! Arithmetic on unit vectors: length, dot product (cosine similarity), mean direction.

/// Scales `v` to unit length in place (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Dot product, with AVX2 + FMA when the CPU has them. The release build targets baseline
/// x86-64, where the compiler vectorises the portable loop with 128-bit SSE only; the graph
/// search spends about a third of its time here (perf, BENCHMARKS.md "Vector index").
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has both features, checked just above.
        return unsafe { dot_avx2_fma(a, b) };
    }
    dot_portable(a, b)
}

/// Four independent 8-lane FMA accumulators: one would wait on its own add latency each step.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_avx2_fma(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::{
        __m256, _mm256_add_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_setzero_ps,
        _mm256_storeu_ps,
    };
    let n = a.len().min(b.len());
    let load = |v: &[f32], at: usize| -> __m256 {
        let lanes = &v[at..at + 8];
        // SAFETY: `lanes` is 8 in-bounds f32s; unaligned loads are allowed.
        unsafe { _mm256_loadu_ps(lanes.as_ptr()) }
    };
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 32 <= n {
        for (j, lane) in acc.iter_mut().enumerate() {
            *lane = _mm256_fmadd_ps(load(a, i + 8 * j), load(b, i + 8 * j), *lane);
        }
        i += 32;
    }
    while i + 8 <= n {
        acc[0] = _mm256_fmadd_ps(load(a, i), load(b, i), acc[0]);
        i += 8;
    }
    let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut lanes = [0f32; 8];
    // SAFETY: `lanes` holds exactly 8 f32s.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
    let tail: f32 = a[i..n].iter().zip(&b[i..n]).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}

/// Dot product on any CPU. Eight independent partial sums let the compiler use SIMD lanes (a single running
/// float sum cannot be reordered, so it stays scalar: measured 4x slower on 256 dims).
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
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
pub fn mean_direction(vectors: &[&[f32]]) -> Vec<f32> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simd_dot_agrees_with_the_portable_one() {
        let vector = |seed: usize, dims: usize| -> Vec<f32> {
            (0..dims)
                .map(|i| ((seed * 31 + i * 7) % 13) as f32 - 6.0)
                .collect()
        };
        for dims in [1, 7, 8, 31, 32, 33, 256, 384] {
            let (a, b) = (vector(3, dims), vector(11, dims));
            let (fast, portable) = (dot(&a, &b), dot_portable(&a, &b));
            assert!(
                (fast - portable).abs() < 1e-3 * portable.abs().max(1.0),
                "{dims}: {fast} vs {portable}"
            );
        }
    }
}
