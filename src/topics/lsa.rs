//! LSA: each paper's TF-IDF row reduced to a short dense unit vector by truncated SVD.
//!
//! Clustering these LSA coordinates separates the arXiv categories better than clustering the
//! papers' embedding vectors (NMI 0.338 against 0.226, BENCHMARKS.md "Topics"), and needs no
//! embedding model. The SVD is randomized (a random projection refined by two power iterations)
//! because only the leading `lsa_dims` directions of the whole vocabulary are wanted; the random
//! projection comes from the fit's seeded generator, so the coordinates never vary between runs.

use rayon::prelude::*;

use super::rng::Rng;
use crate::embed::normalize;

/// Rows summed together in one partial Gram matrix: a fixed size, so the sums (and the topics)
/// do not depend on how many cores share the work.
const GRAM_BLOCK: usize = 256;

/// `m^T m` (cols x cols) of a row-major matrix, accumulated in f64 over fixed row blocks.
fn gram(m: &[f32], cols: usize) -> nalgebra::DMatrix<f64> {
    let partials: Vec<Vec<f32>> = m
        .par_chunks(GRAM_BLOCK * cols)
        .map(|block| {
            let mut g = vec![0f32; cols * cols];
            for i in 0..cols {
                let column = (0..block.len() / cols).map(|r| (r, block[r * cols + i]));
                weighted_sum(column, block, cols, i, &mut g[i * cols + i..(i + 1) * cols]);
            }
            g
        })
        .collect();
    let mut total = nalgebra::DMatrix::<f64>::zeros(cols, cols);
    for g in &partials {
        for i in 0..cols {
            for j in i..cols {
                total[(i, j)] += f64::from(g[i * cols + j]);
            }
        }
    }
    for i in 0..cols {
        for j in 0..i {
            total[(i, j)] = total[(j, i)];
        }
    }
    total
}

/// `m` (rows x cols, row-major) times the small `t` (cols x cols, row-major), in place.
fn times_small(m: &mut [f32], t: &[f32], cols: usize) {
    m.par_chunks_mut(cols).for_each(|row| {
        let old = row.to_vec();
        weighted_sum(old.iter().copied().enumerate(), t, cols, 0, row);
    });
}

/// `out` = the sum of `w` times `dense[row * stride + offset..][..out.len()]` over `terms`,
/// each lane summed in the order given from zero, so it comes out bit for bit as the plain
/// loop `out[j] += w * d[j]` would. Every product of the LSA is this one step (a sparse row
/// times a dense matrix, a Gram row, a small rotation); with the sums held in AVX registers
/// instead of loaded and stored for every term, it runs ~3x faster than the loop the compiler
/// made for the baseline x86-64 target. (Multiply and add stay two roundings: a fused
/// multiply-add would change the bits.)
fn weighted_sum(
    terms: impl Iterator<Item = (usize, f32)>,
    dense: &[f32],
    stride: usize,
    offset: usize,
    out: &mut [f32],
) {
    out.fill(0.0);
    weighted_sum_into(terms, dense, stride, offset, out);
}

/// [`weighted_sum`] added to what `out` holds (in the same order, after it).
fn weighted_sum_into(
    terms: impl Iterator<Item = (usize, f32)>,
    dense: &[f32],
    stride: usize,
    offset: usize,
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        macro_rules! lanes {
            ($($v:literal)*) => {
                match out.len().div_ceil(8) {
                    $($v => {
                        // SAFETY: the CPU has AVX, checked above; `out` has $v vectors' lanes.
                        return unsafe { avx::weighted_sum::<$v>(terms, dense, stride, offset, out) };
                    })*
                    _ => {}
                }
            };
        }
        lanes!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
    }
    for (row, w) in terms {
        let src = &dense[row * stride + offset..][..out.len()];
        for (o, &d) in out.iter_mut().zip(src) {
            *o += w * d;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use std::arch::x86_64::{
        __m256, __m256i, _mm256_add_ps, _mm256_loadu_ps, _mm256_loadu_si256, _mm256_maskload_ps,
        _mm256_maskstore_ps, _mm256_mul_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    };

    /// Lane masks: `MASK[8 - n..][..8]` selects the first n lanes.
    const MASK: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];

    /// [`super::weighted_sum_into`] with `V` vectors of 8 lanes held in registers (`out` has
    /// `8 * (V - 1) + 1 ..= 8 * V` lanes; the last vector is loaded and stored masked).
    #[target_feature(enable = "avx")]
    pub(super) fn weighted_sum<const V: usize>(
        terms: impl Iterator<Item = (usize, f32)>,
        dense: &[f32],
        stride: usize,
        offset: usize,
        out: &mut [f32],
    ) {
        let len = out.len();
        let tail = len - 8 * (V - 1);
        // SAFETY (all loads and stores below): `src` and `out` hold `len` floats; the first
        // V - 1 vectors are within them, and the last touches only its first `tail` lanes.
        let mask: __m256i =
            unsafe { _mm256_loadu_si256(MASK[8 - tail..].as_ptr().cast::<__m256i>()) };
        let mut acc: [__m256; V] = [_mm256_setzero_ps(); V];
        for (v, a) in acc.iter_mut().enumerate().take(V - 1) {
            *a = unsafe { _mm256_loadu_ps(out.as_ptr().add(8 * v)) };
        }
        acc[V - 1] = unsafe { _mm256_maskload_ps(out.as_ptr().add(8 * (V - 1)), mask) };
        for (row, w) in terms {
            let src = &dense[row * stride + offset..][..len];
            let base = src.as_ptr();
            let w = _mm256_set1_ps(w);
            for (v, a) in acc.iter_mut().enumerate().take(V - 1) {
                let d = unsafe { _mm256_loadu_ps(base.add(8 * v)) };
                *a = _mm256_add_ps(*a, _mm256_mul_ps(w, d));
            }
            let d = unsafe { _mm256_maskload_ps(base.add(8 * (V - 1)), mask) };
            acc[V - 1] = _mm256_add_ps(acc[V - 1], _mm256_mul_ps(w, d));
        }
        let base = out.as_mut_ptr();
        for (v, a) in acc.iter().enumerate().take(V - 1) {
            unsafe { _mm256_storeu_ps(base.add(8 * v), *a) };
        }
        unsafe { _mm256_maskstore_ps(base.add(8 * (V - 1)), mask, acc[V - 1]) };
    }
}

/// Directions whose squared length is below this share of the longest are rank deficiency
/// (a collection with fewer distinct papers than columns), not signal: they become zero columns.
const DEFICIENT: f64 = 1e-9;

/// Orthonormalises the columns of `m` (rows x cols, row-major) in place: from the eigenvectors
/// V and eigenvalues L of the small Gram matrix `m^T m`, `m V L^-1/2` has orthonormal columns
/// spanning the same space. Done twice, as the second pass repairs what rounding left. Every
/// step is a product over rows, split across cores (the Gram-Schmidt it replaces walked the
/// columns one by one on one core: 16 minutes at 100k papers).
fn orthonormalize(m: &mut [f32], cols: usize) {
    for _ in 0..2 {
        let eigen = nalgebra::SymmetricEigen::new(gram(m, cols));
        let largest = eigen.eigenvalues.iter().copied().fold(0.0, f64::max);
        let mut t = vec![0f32; cols * cols];
        for (j, &value) in eigen.eigenvalues.iter().enumerate() {
            if value <= largest * DEFICIENT || value <= 0.0 {
                continue;
            }
            let scale = value.sqrt().recip();
            for i in 0..cols {
                t[i * cols + j] = (eigen.eigenvectors[(i, j)] * scale) as f32;
            }
        }
        times_small(m, &t, cols);
    }
}

/// Rows of the sparse matrix times a dense (terms x cols) matrix.
fn sparse_times(rows: &[Vec<(u32, f32)>], dense: &[f32], cols: usize) -> Vec<f32> {
    rows.par_iter()
        .flat_map_iter(|row| {
            let mut out = vec![0f32; cols];
            let terms = row.iter().map(|&(t, w)| (t as usize, w));
            weighted_sum(terms, dense, cols, 0, &mut out);
            out
        })
        .collect()
}

/// The sparse matrix by column within blocks of documents: for each block, each term's
/// (document, weight) entries, documents in order.
struct Columns {
    /// Per block of `TILE_DOCS` documents: (term, start of its entries), terms in order, and
    /// a last (`u32::MAX`, end) entry.
    blocks: Vec<Vec<(u32, usize)>>,
    entries: Vec<(u32, f32)>,
}

/// Documents per block of [`Columns`]: their rows of the dense matrix (440 bytes each at the
/// default 100 dimensions) stay in a core's cache while every term of the block reads them.
/// One column per term over all documents read a random 440-byte row from the whole matrix
/// (44 MB at 100k papers) per entry, and was the LSA's slowest product.
const TILE_DOCS: usize = 2048;

/// The columns of `rows` (a counting sort by term within each block of documents).
fn columns(rows: &[Vec<(u32, f32)>], terms: usize) -> Columns {
    let mut blocks = Vec::with_capacity(rows.len().div_ceil(TILE_DOCS));
    let mut entries = vec![(0u32, 0f32); rows.iter().map(Vec::len).sum()];
    let mut counts = vec![0usize; terms];
    let mut base = 0;
    for (b, block) in rows.chunks(TILE_DOCS).enumerate() {
        for &(t, _) in block.iter().flatten() {
            counts[t as usize] += 1;
        }
        let mut starts: Vec<(u32, usize)> = Vec::new();
        let mut next = base;
        for (t, count) in counts.iter_mut().enumerate() {
            if *count > 0 {
                starts.push((t as u32, next));
                next += *count;
                // From here on, where term t's next entry goes.
                *count = next - *count;
            }
        }
        starts.push((u32::MAX, next));
        for (r, row) in block.iter().enumerate() {
            for &(t, w) in row {
                let at = &mut counts[t as usize];
                entries[*at] = ((b * TILE_DOCS + r) as u32, w);
                *at += 1;
            }
        }
        for &(t, _) in &starts[..starts.len() - 1] {
            counts[t as usize] = 0;
        }
        base = next;
        blocks.push(starts);
    }
    Columns { blocks, entries }
}

/// Transposed sparse matrix times a dense (docs x cols) matrix: (terms x cols), each term's row
/// summed on its own (documents in order: block by block, in order within a block), so it comes
/// out the same on any number of cores. (Adding the rows' entries into a shared output instead
/// needs one core or a reduction: the one core took 2-3 s of each product at 100k papers.)
fn sparse_t_times(columns: &Columns, dense: &[f32], cols: usize, terms: usize) -> Vec<f32> {
    let mut out = vec![0f32; terms * cols];
    for starts in &columns.blocks {
        let present: Vec<(usize, usize, usize)> = starts
            .windows(2)
            .map(|w| (w[0].0 as usize, w[0].1, w[1].1))
            .collect();
        let mut rows: Vec<&mut [f32]> = Vec::with_capacity(present.len());
        let mut rest: &mut [f32] = &mut out;
        let mut at = 0;
        for &(t, _, _) in &present {
            let (_, tail) = std::mem::take(&mut rest).split_at_mut((t - at) * cols);
            let (row, tail) = tail.split_at_mut(cols);
            rows.push(row);
            rest = tail;
            at = t + 1;
        }
        rows.into_par_iter()
            .zip(present)
            .with_min_len(64)
            .for_each(|(acc, (_, from, to))| {
                let docs = columns.entries[from..to]
                    .iter()
                    .map(|&(r, w)| (r as usize, w));
                weighted_sum_into(docs, dense, cols, 0, acc);
            });
    }
    out
}

/// LSA document coordinates (randomized truncated SVD, two power iterations), rows unit length.
pub(super) fn lsa(
    rows: &[Vec<(u32, f32)>],
    terms: usize,
    dims: usize,
    rng: &mut Rng,
) -> Vec<Vec<f32>> {
    let n = rows.len();
    let l = (dims + 10).min(terms.max(1)).min(n.max(1));
    let omega: Vec<f32> = (0..terms * l).map(|_| rng.unit() * 2.0 - 1.0).collect();
    let by_term = columns(rows, terms);
    let mut q = sparse_times(rows, &omega, l);
    orthonormalize(&mut q, l);
    for _ in 0..2 {
        let mut z = sparse_t_times(&by_term, &q, l, terms);
        orthonormalize(&mut z, l);
        q = sparse_times(rows, &z, l);
        orthonormalize(&mut q, l);
    }
    // B^T = A^T Q (terms x l); B B^T = (A^T Q)^T (A^T Q) is l x l: its eigenvectors rotate Q
    // onto the leading left singular vectors.
    let bt = sparse_t_times(&by_term, &q, l, terms);
    let eigen = nalgebra::SymmetricEigen::new(gram(&bt, l));
    let mut order: Vec<usize> = (0..l).collect();
    order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
    let keep = &order[..dims.min(l)];
    // U Sigma = Q V Sigma: one small (l x kept) matrix applied to every row.
    let mut rotation = vec![0f32; l * keep.len()];
    for (j, &c) in keep.iter().enumerate() {
        let sigma = eigen.eigenvalues[c].max(0.0).sqrt();
        for i in 0..l {
            rotation[i * keep.len() + j] = (eigen.eigenvectors[(i, c)] * sigma) as f32;
        }
    }
    q.par_chunks(l)
        .map(|q_row| {
            let mut v = vec![0f32; keep.len()];
            weighted_sum(
                q_row.iter().copied().enumerate(),
                &rotation,
                keep.len(),
                0,
                &mut v,
            );
            normalize(&mut v);
            v
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(rng: &mut Rng, len: usize) -> Vec<f32> {
        (0..len).map(|_| rng.unit() * 2.0 - 1.0).collect()
    }

    /// The loop the kernel replaces: `out[j] += w * d[j]` from zero, term by term.
    fn plain(
        terms: &[(usize, f32)],
        dense: &[f32],
        stride: usize,
        offset: usize,
        len: usize,
    ) -> Vec<f32> {
        let mut out = vec![0f32; len];
        for &(row, w) in terms {
            for (o, &d) in out.iter_mut().zip(&dense[row * stride + offset..][..len]) {
                *o += w * d;
            }
        }
        out
    }

    fn same_bits(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    #[test]
    fn the_kernel_sums_every_lane_as_the_plain_loop_does() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        // Every vector count the registers hold, each with every tail, and past them.
        for len in 1..=140 {
            let (rows, stride, offset) = (40, len + 5, 3);
            let dense = random(&mut rng, rows * stride);
            let terms: Vec<(usize, f32)> = (0..25)
                .map(|_| ((rng.next() % rows as u64) as usize, rng.unit()))
                .collect();
            let mut out = vec![7.0f32; len];
            weighted_sum(terms.iter().copied(), &dense, stride, offset, &mut out);
            let expected = plain(&terms, &dense, stride, offset, len);
            assert!(same_bits(&out, &expected), "{len} lanes");
        }
    }

    #[test]
    fn the_blocked_transposed_product_sums_each_term_over_its_documents_in_order() {
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        let (docs, terms, cols) = (2 * TILE_DOCS + 300, 500, 110);
        let rows: Vec<Vec<(u32, f32)>> = (0..docs)
            .map(|_| {
                let mut row: Vec<u32> = (0..20)
                    .map(|_| (rng.next() % terms as u64) as u32)
                    .collect();
                row.sort_unstable();
                row.dedup();
                row.into_iter().map(|t| (t, rng.unit())).collect()
            })
            .collect();
        let dense = random(&mut rng, docs * cols);
        let product = sparse_t_times(&columns(&rows, terms), &dense, cols, terms);
        for t in 0..terms {
            let entries: Vec<(usize, f32)> = rows
                .iter()
                .enumerate()
                .filter_map(|(d, row)| row.iter().find(|e| e.0 == t as u32).map(|e| (d, e.1)))
                .collect();
            let expected = plain(&entries, &dense, cols, 0, cols);
            assert!(
                same_bits(&product[t * cols..(t + 1) * cols], &expected),
                "term {t}"
            );
        }
    }
}
