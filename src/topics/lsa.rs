//! LSA: each paper's TF-IDF row reduced to a short dense unit vector by truncated SVD.
//!
//! Clustering these LSA coordinates separates the arXiv categories better than clustering the
//! papers' embedding vectors (NMI 0.338 against 0.226, BENCHMARKS.md "Topics"), and needs no
//! embedding model. The SVD is randomized (a random projection refined by two power iterations)
//! because only the leading `lsa_dims` directions of the whole vocabulary are wanted; the random
//! projection comes from the fit's seeded generator, so the coordinates never vary between runs.

use rayon::prelude::*;

use super::Rng;
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
            for row in block.chunks_exact(cols) {
                for (i, &x) in row.iter().enumerate() {
                    for (o, &y) in g[i * cols + i..(i + 1) * cols].iter_mut().zip(&row[i..]) {
                        *o += x * y;
                    }
                }
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
        row.fill(0.0);
        for (&x, t_row) in old.iter().zip(t.chunks_exact(cols)) {
            for (o, &y) in row.iter_mut().zip(t_row) {
                *o += x * y;
            }
        }
    });
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
            for &(t, w) in row {
                let base = t as usize * cols;
                for (o, d) in out.iter_mut().zip(&dense[base..base + cols]) {
                    *o += w * d;
                }
            }
            out
        })
        .collect()
}

/// Terms whose rows of `A^T B` one task fills: its output block stays in cache.
const TERM_SPAN: usize = 2048;

/// Transposed sparse matrix times a dense (docs x cols) matrix: (terms x cols). Each task owns a
/// span of terms and walks every row (sorted by term) for its entries, so the sums need no
/// reduction and come out the same on any number of cores.
fn sparse_t_times(rows: &[Vec<(u32, f32)>], terms: usize, dense: &[f32], cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; terms * cols];
    out.par_chunks_mut(TERM_SPAN * cols)
        .enumerate()
        .for_each(|(span, block)| {
            let first = (span * TERM_SPAN) as u32;
            let end = first + (block.len() / cols) as u32;
            for (r, row) in rows.iter().enumerate() {
                let src = &dense[r * cols..(r + 1) * cols];
                let from = row.partition_point(|&(t, _)| t < first);
                for &(t, w) in row[from..].iter().take_while(|&&(t, _)| t < end) {
                    let base = (t - first) as usize * cols;
                    for (o, s) in block[base..base + cols].iter_mut().zip(src) {
                        *o += w * s;
                    }
                }
            }
        });
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
    let mut q = sparse_times(rows, &omega, l);
    orthonormalize(&mut q, l);
    for _ in 0..2 {
        let mut z = sparse_t_times(rows, terms, &q, l);
        orthonormalize(&mut z, l);
        q = sparse_times(rows, &z, l);
        orthonormalize(&mut q, l);
    }
    // B^T = A^T Q (terms x l); B B^T = (A^T Q)^T (A^T Q) is l x l: its eigenvectors rotate Q
    // onto the leading left singular vectors.
    let bt = sparse_t_times(rows, terms, &q, l);
    let eigen = nalgebra::SymmetricEigen::new(gram(&bt, l));
    let mut order: Vec<usize> = (0..l).collect();
    order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
    let keep = &order[..dims.min(l)];
    q.par_chunks(l)
        .map(|q_row| {
            let mut v: Vec<f32> = keep
                .iter()
                .map(|&c| {
                    let sigma = eigen.eigenvalues[c].max(0.0).sqrt();
                    let u: f64 = q_row
                        .iter()
                        .enumerate()
                        .map(|(i, &x)| f64::from(x) * eigen.eigenvectors[(i, c)])
                        .sum();
                    (u * sigma) as f32
                })
                .collect();
            normalize(&mut v);
            v
        })
        .collect()
}
