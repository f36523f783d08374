//! GELU, softmax and layer norm for the integer passage path, written so that they vectorise:
//! an `exp` of plain arithmetic (libm's `expf` is a call per value, ~10% of a passage's time
//! once the products are integer), sums in fixed lanes (a plain sum is one serial chain). Every
//! level gives the same bits. The f32 path keeps `encoder`'s own functions, so its vectors stay
//! exactly those of before (its cache key did not change).

use super::Int8Level;

/// `e^x` (relative error ~2e-7 over the range used; 0 below -87): Cephes' `expf` polynomial
/// after `x = n ln 2 + r`, `2^n` made from the exponent bits.
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E).round_ties_even();
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    // 2^n without a float-to-int conversion (`as` saturates, which does not vectorise): adding
    // 1.5 * 2^23 puts the integer n + 127 (1..=254) in the low mantissa bits.
    let biased = (n + (12_582_912.0 + 127.0)).to_bits();
    e * f32::from_bits(biased << 23)
}

/// The largest value, in 8 lanes (a plain fold is a serial chain that does not vectorise).
#[inline(always)]
fn max_of(v: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 8];
    let mut chunks = v.chunks_exact(8);
    for c in chunks.by_ref() {
        for (l, &x) in lanes.iter_mut().zip(c) {
            *l = l.max(x);
        }
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    lanes.iter().fold(tail, |a, &b| a.max(b))
}

/// GELU with erf by Abramowitz & Stegun 7.1.26, as `encoder::gelu`, over `v`.
#[inline(always)]
fn gelu_all(v: &mut [f32]) {
    for x in v {
        let z = *x * std::f32::consts::FRAC_1_SQRT_2;
        let t = 1.0 / (1.0 + 0.327_591_1 * z.abs());
        let poly = t
            * (0.254_829_6
                + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152_1 + t * 1.061_405_4))));
        let e = 1.0 - poly * exp(-z * z);
        let erf = if z < 0.0 { -e } else { e };
        *x = 0.5 * *x * (1.0 + erf);
    }
}

/// Softmax of each row (`cols` long) of `m`, scaled by `scale` first.
#[inline(always)]
pub(super) fn softmax_all(m: &mut [f32], cols: usize, scale: f32) {
    for row in m.chunks_exact_mut(cols) {
        let max = max_of(row) * scale;
        for v in row.iter_mut() {
            *v = exp(*v * scale - max);
        }
        let inv = 1.0 / lane_sum::<8>(row, |v| v);
        row.iter_mut().for_each(|v| *v *= inv);
    }
}

/// Each row of `x` (as long as `weight`) plus the same row of `residual` when given, then
/// normalised to mean 0 and variance 1 and scaled by `weight`, shifted by `bias`. The sums run
/// in 16 lanes (a plain sum is one serial chain: 8% of a passage's time), so every level gives
/// the same bits.
#[inline(always)]
fn layer_norm_all(x: &mut [f32], residual: Option<&[f32]>, [weight, bias]: [&[f32]; 2], eps: f32) {
    let h = weight.len();
    for (t, row) in x.chunks_exact_mut(h).enumerate() {
        if let Some(residual) = residual {
            row.iter_mut()
                .zip(&residual[t * h..][..h])
                .for_each(|(a, b)| *a += b);
        }
        let mean = lane_sum::<16>(row, |v| v) / h as f32;
        let var = lane_sum::<16>(row, |v| (v - mean) * (v - mean)) / h as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, w), b) in row.iter_mut().zip(weight).zip(bias) {
            *v = (*v - mean) * inv * w + b;
        }
    }
}

/// The sum of `f` of each value, in `L` lanes added in a fixed order (a plain sum is a serial
/// chain that does not vectorise). Softmax sums in 8 and layer norm in 16: changing either would
/// change the vectors (and so the cache key).
#[inline(always)]
fn lane_sum<const L: usize>(v: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0f32; L];
    let mut chunks = v.chunks_exact(L);
    for c in chunks.by_ref() {
        for (l, &x) in lanes.iter_mut().zip(c) {
            *l += f(x);
        }
    }
    let tail: f32 = chunks.remainder().iter().map(|&x| f(x)).sum();
    lanes.iter().sum::<f32>() + tail
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn layer_norm_avx512(x: &mut [f32], residual: Option<&[f32]>, ln: [&[f32]; 2], eps: f32) {
    layer_norm_all(x, residual, ln, eps)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn layer_norm_avx2(x: &mut [f32], residual: Option<&[f32]>, ln: [&[f32]; 2], eps: f32) {
    layer_norm_all(x, residual, ln, eps)
}

/// `x` (rows as long as `ln[0]`) plus `residual` when given, layer-normalised with the weight
/// `ln[0]` and bias `ln[1]`.
pub(crate) fn layer_norm(
    level: Int8Level,
    x: &mut [f32],
    residual: Option<&[f32]>,
    ln: [&[f32]; 2],
    eps: f32,
) {
    if ln[0].is_empty() {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if level >= Int8Level::Avx512Vnni {
        // SAFETY: the level is at most the CPU's, which then has AVX-512F, AVX2 and FMA.
        return unsafe { layer_norm_avx512(x, residual, ln, eps) };
    }
    #[cfg(target_arch = "x86_64")]
    if level >= Int8Level::Avx2 {
        // SAFETY: the level is at most the CPU's, which then has AVX2 and FMA.
        return unsafe { layer_norm_avx2(x, residual, ln, eps) };
    }
    let _ = level;
    layer_norm_all(x, residual, ln, eps)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gelu_avx2(v: &mut [f32]) {
    gelu_all(v)
}

// AVX-512 doubles the lanes of the same per-value arithmetic (the sums keep their 8 lanes), so
// every level gives the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn gelu_avx512(v: &mut [f32]) {
    gelu_all(v)
}

/// GELU of every value of `v`.
pub(crate) fn gelu(level: Int8Level, v: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if level >= Int8Level::Avx512Vnni {
        // SAFETY: the level is at most the CPU's, which then has AVX-512F, AVX2 and FMA.
        return unsafe { gelu_avx512(v) };
    }
    #[cfg(target_arch = "x86_64")]
    if level >= Int8Level::Avx2 {
        // SAFETY: the level is at most the CPU's, which then has AVX2 and FMA.
        return unsafe { gelu_avx2(v) };
    }
    let _ = level;
    gelu_all(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_exp_is_within_a_few_ulps_of_std() {
        let mut x = -87.0f32;
        while x < 88.0 {
            let (got, want) = (exp(x), x.exp());
            assert!(
                (got - want).abs() <= 4e-7 * want,
                "exp({x}) = {got}, std {want}"
            );
            x += 0.0137;
        }
        assert_eq!(exp(-1000.0), exp(-87.0));
    }

    #[test]
    fn the_fast_gelu_and_softmax_match_the_plain_ones() {
        let values: Vec<f32> = (0..200).map(|i| (i as f32 - 100.0) * 0.07).collect();
        let levels = [Int8Level::Portable, Int8Level::Avx2, Int8Level::Avx512Vnni];
        let mut portable_bits = None;
        for level in levels
            .into_iter()
            .filter(|&l| l <= super::super::int8::cpu_level())
        {
            let mut v = values.clone();
            gelu(level, &mut v);
            for (&x, &g) in values.iter().zip(&v) {
                let want = 0.5 * x * (1.0 + erf_ref(x / std::f32::consts::SQRT_2));
                assert!((g - want).abs() <= 1e-5 * (1.0 + want.abs()), "gelu({x})");
            }
            let mut m = values.clone();
            softmax_all(&mut m, 50, 0.5);
            for (row, src) in m.chunks_exact(50).zip(values.chunks_exact(50)) {
                let max = src.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) * 0.5;
                let sum: f32 = src.iter().map(|v| (v * 0.5 - max).exp()).sum();
                for (&p, &s) in row.iter().zip(src) {
                    let want = (s * 0.5 - max).exp() / sum;
                    assert!((p - want).abs() <= 1e-6, "softmax {p} vs {want}");
                }
            }
            // The same arithmetic in wider lanes: the same bits (the cache key depends on it).
            let portable = portable_bits.get_or_insert_with(|| (v.clone(), m.clone()));
            assert_eq!((&v, &m), (&portable.0, &portable.1), "{level:?}");
        }
    }

    #[test]
    fn the_layer_norm_is_the_textbook_one_at_every_level_in_the_same_bits() {
        let hidden = 40;
        let x: Vec<f32> = (0..3 * hidden)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.3)
            .collect();
        let residual: Vec<f32> = (0..3 * hidden).map(|i| (i % 7) as f32 * 0.25).collect();
        let weight: Vec<f32> = (0..hidden).map(|i| 0.5 + i as f32 * 0.01).collect();
        let bias: Vec<f32> = (0..hidden).map(|i| i as f32 * -0.02).collect();
        let levels = [Int8Level::Portable, Int8Level::Avx2, Int8Level::Avx512Vnni];
        let mut first: Option<Vec<f32>> = None;
        for level in levels
            .into_iter()
            .filter(|&l| l <= super::super::int8::cpu_level())
        {
            let mut got = x.clone();
            layer_norm(level, &mut got, Some(&residual), [&weight, &bias], 1e-12);
            for (t, row) in got.chunks_exact(hidden).enumerate() {
                let sum: Vec<f64> = (0..hidden)
                    .map(|i| x[t * hidden + i] as f64 + residual[t * hidden + i] as f64)
                    .collect();
                let mean = sum.iter().sum::<f64>() / hidden as f64;
                let var = sum.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / hidden as f64;
                for (i, &g) in row.iter().enumerate() {
                    let want = (sum[i] - mean) / var.sqrt() * weight[i] as f64 + bias[i] as f64;
                    assert!((g as f64 - want).abs() <= 1e-5, "{level:?} [{t}][{i}]");
                }
            }
            let first = first.get_or_insert_with(|| got.clone());
            assert_eq!(first, &got, "{level:?}");
        }
    }

    /// erf by the series for small |x| and A&S for the rest is not needed here: std's exp
    /// through the same A&S formula is the reference the fast path must match.
    fn erf_ref(x: f32) -> f32 {
        let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
        let poly = t
            * (0.254_829_6
                + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152_1 + t * 1.061_405_4))));
        let y = 1.0 - poly * (-x * x).exp();
        if x < 0.0 { -y } else { y }
    }
}
