//! Clustering: spherical k-means over unit vectors, then small clusters dissolved.
//!
//! Spherical (cosine) because LSA coordinates and embedding vectors are both compared by
//! direction. Seeding is k-means++ from the fit's seeded generator, so the same input always gives
//! the same topics. Topics under `min_size` papers are dissolved into their members' next-nearest
//! topics rather than shown, and topics are numbered by size so topic 0 is the largest.

use rayon::prelude::*;

use super::Rng;
use crate::embed::{dot, normalize};

/// Spherical k-means starting from `initial` centroids (a previous fit's topics), topped up to
/// `k` by k-means++ picks; with no initial centroids this is plain k-means++.
pub(super) fn kmeans_from(
    points: &[Vec<f32>],
    initial: Vec<Vec<f32>>,
    k: usize,
    rng: &mut Rng,
) -> (Vec<usize>, Vec<Vec<f32>>) {
    let n = points.len();
    let k = k.clamp(1, n.max(1));
    let mut centroids = initial;
    centroids.truncate(k);
    if centroids.is_empty() {
        centroids.push(points[(rng.next() % n as u64) as usize].clone());
    }
    let mut best: Vec<f32> = points
        .iter()
        .map(|p| 1.0 - nearest(p, &centroids).1)
        .collect();
    while centroids.len() < k {
        let total: f32 = best.iter().map(|d| d.max(0.0).powi(2)).sum();
        let mut target = rng.unit() * total;
        let mut pick = n - 1;
        for (i, d) in best.iter().enumerate() {
            target -= d.max(0.0).powi(2);
            if target <= 0.0 {
                pick = i;
                break;
            }
        }
        centroids.push(points[pick].clone());
        let c = &centroids[centroids.len() - 1];
        best.par_iter_mut().zip(points).for_each(|(b, p)| {
            *b = b.min(1.0 - dot(p, c));
        });
    }
    // Run to a fixed point (not to a tolerance): a refit that starts from these centroids must
    // come out as this fit did (stopping once a round moved at most 1 paper in 2,000 broke that).
    let mut assignment = vec![0usize; n];
    for _ in 0..60 {
        let next: Vec<usize> = points
            .par_iter()
            .map(|p| nearest(p, &centroids).0)
            .collect();
        let changed = next != assignment;
        assignment = next;
        centroids = recentre(points, &assignment, &centroids);
        if !changed {
            break;
        }
    }
    (assignment, centroids)
}

/// The centroid with the highest cosine to `p`, and that cosine.
pub(super) fn nearest(p: &[f32], centroids: &[Vec<f32>]) -> (usize, f32) {
    centroids
        .iter()
        .enumerate()
        .map(|(i, c)| (i, dot(p, c)))
        .fold(
            (0, f32::NEG_INFINITY),
            |best, x| if x.1 > best.1 { x } else { best },
        )
}

/// Each cluster's mean direction; a cluster left empty keeps its old centroid rather than a
/// zero vector no point could be near.
fn recentre(points: &[Vec<f32>], assignment: &[usize], old: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let dims = points.first().map_or(0, Vec::len);
    let mut sums = vec![vec![0f32; dims]; old.len()];
    for (p, &a) in points.iter().zip(assignment) {
        for (s, x) in sums[a].iter_mut().zip(p) {
            *s += x;
        }
    }
    sums.into_iter()
        .zip(old)
        .map(|(mut s, o)| {
            if s.iter().all(|&x| x == 0.0) {
                return o.clone();
            }
            normalize(&mut s);
            s
        })
        .collect()
}

/// Dissolves topics under `min_size` into their members' next-nearest topics, then renumbers
/// topics by size (0 = largest).
pub(super) fn dissolve_small(
    points: &[Vec<f32>],
    mut assignment: Vec<usize>,
    mut centroids: Vec<Vec<f32>>,
    min_size: usize,
) -> (Vec<usize>, Vec<Vec<f32>>) {
    loop {
        let mut sizes = vec![0usize; centroids.len()];
        assignment.iter().for_each(|&a| sizes[a] += 1);
        let smallest = (0..centroids.len())
            .filter(|&c| sizes[c] < min_size)
            .min_by_key(|&c| (sizes[c], c));
        let Some(small) = smallest.filter(|_| centroids.len() > 1) else {
            let mut order: Vec<usize> = (0..centroids.len()).collect();
            order.sort_by_key(|&c| (std::cmp::Reverse(sizes[c]), c));
            let mut rename = vec![0usize; centroids.len()];
            for (new, &old) in order.iter().enumerate() {
                rename[old] = new;
            }
            let centroids = order.iter().map(|&c| centroids[c].clone()).collect();
            return (assignment.iter().map(|&a| rename[a]).collect(), centroids);
        };
        centroids.remove(small);
        assignment = points
            .iter()
            .zip(&assignment)
            .map(|(p, &a)| match a.cmp(&small) {
                std::cmp::Ordering::Equal => nearest(p, &centroids).0,
                std::cmp::Ordering::Greater => a - 1,
                std::cmp::Ordering::Less => a,
            })
            .collect();
    }
}
