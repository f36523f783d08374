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

/// The sparse matrix by column: each term's (document, weight) entries, documents in order.
struct Columns {
    /// Term t's entries are `entries[starts[t]..starts[t + 1]]`.
    starts: Vec<usize>,
    entries: Vec<(u32, f32)>,
}

/// The columns of `rows` (a counting sort by term).
fn columns(rows: &[Vec<(u32, f32)>], terms: usize) -> Columns {
    let mut starts = vec![0usize; terms + 1];
    for &(t, _) in rows.iter().flatten() {
        starts[t as usize + 1] += 1;
    }
    for t in 0..terms {
        starts[t + 1] += starts[t];
    }
    let mut entries = vec![(0u32, 0f32); starts[terms]];
    let mut next = starts.clone();
    for (r, row) in rows.iter().enumerate() {
        for &(t, w) in row {
            entries[next[t as usize]] = (r as u32, w);
            next[t as usize] += 1;
        }
    }
    Columns { starts, entries }
}

/// Transposed sparse matrix times a dense (docs x cols) matrix: (terms x cols), each term's row
/// summed on its own (documents in order), so it comes out the same on any number of cores.
/// (Adding the rows' entries into a shared output instead needs one core or a reduction: the
/// one core took 2-3 s of each product at 100k papers.)
fn sparse_t_times(columns: &Columns, dense: &[f32], cols: usize) -> Vec<f32> {
    let terms = columns.starts.len() - 1;
    let mut out = vec![0f32; terms * cols];
    out.par_chunks_mut(cols)
        .with_min_len(64)
        .enumerate()
        .for_each(|(t, acc)| {
            for &(r, w) in &columns.entries[columns.starts[t]..columns.starts[t + 1]] {
                let src = &dense[r as usize * cols..(r as usize + 1) * cols];
                for (o, s) in acc.iter_mut().zip(src) {
                    *o += w * s;
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
    let by_term = columns(rows, terms);
    let mut q = sparse_times(rows, &omega, l);
    orthonormalize(&mut q, l);
    for _ in 0..2 {
        let mut z = sparse_t_times(&by_term, &q, l);
        orthonormalize(&mut z, l);
        q = sparse_times(rows, &z, l);
        orthonormalize(&mut q, l);
    }
    // B^T = A^T Q (terms x l); B B^T = (A^T Q)^T (A^T Q) is l x l: its eigenvectors rotate Q
    // onto the leading left singular vectors.
    let bt = sparse_t_times(&by_term, &q, l);
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
            for (&x, r_row) in q_row.iter().zip(rotation.chunks_exact(keep.len())) {
                for (o, &y) in v.iter_mut().zip(r_row) {
                    *o += x * y;
                }
            }
            normalize(&mut v);
            v
        })
        .collect()
}
