//! Clustering: spherical k-means over unit vectors, then small clusters dissolved.
//!
//! Spherical (cosine) because LSA coordinates and embedding vectors are both compared by
//! direction. Seeding is k-means++ from the fit's seeded generator, so the same input always gives
//! the same topics. Topics under `min_size` papers are dissolved into their members' next-nearest
//! topics rather than shown, and topics are numbered by size so topic 0 is the largest.

use rayon::prelude::*;

use super::rng::Rng;
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
    let norms: Vec<f32> = points.iter().map(|p| dot(p, p).sqrt()).collect();
    let k = centroids.len();
    let mut assignment = vec![0usize; n];
    let mut bounds = Bounds {
        own: vec![f32::NEG_INFINITY; n],
        each: vec![f32::INFINITY; n * k],
    };
    for _ in 0..60 {
        let next: Vec<usize> = points
            .par_iter()
            .zip(&assignment)
            .zip(&mut bounds.own)
            .zip(bounds.each.par_chunks_mut(k))
            .map(|(((p, &a), own), each)| assign(p, a, own, each, &centroids))
            .collect();
        let changed = next != assignment;
        assignment = next;
        let moved = recentre(points, &assignment, &centroids);
        bounds.loosen(&assignment, &norms, &centroids, &moved);
        centroids = moved;
        if !changed {
            break;
        }
    }
    (assignment, centroids)
}

/// What a round knows of each point without comparing it to every centroid: a lower bound on
/// its cosine to its own centroid and an upper bound on its cosine to each centroid. A centroid
/// whose bound stays below the own cosine (by [`SURE`]) cannot be the nearest and is not
/// compared. At 100k papers most papers stay put after a few rounds, and comparing each with
/// all 60 centroids in each of the 60 rounds was most of the clustering's CPU.
struct Bounds {
    /// Per point.
    own: Vec<f32>,
    /// Per point, `k` in a row (the own centroid's entry unused).
    each: Vec<f32>,
}

/// How much larger the own cosine must be than a centroid's bound before that centroid is
/// passed over: far above the rounding of the cosines (~1e-6), so what is passed over is never
/// what `nearest` would give.
const SURE: f32 = 1e-4;

/// The centroid `nearest` gives `p` (now in `a`), updating its bounds. Centroids are tried in
/// order and a tie goes to the first, as in `nearest`; one passed over has a cosine below the
/// best one's, so it could not have won.
fn assign(p: &[f32], a: usize, own: &mut f32, each: &mut [f32], centroids: &[Vec<f32>]) -> usize {
    let highest = each
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != a)
        .fold(f32::NEG_INFINITY, |m, (_, &u)| m.max(u));
    if *own > highest + SURE {
        return a;
    }
    let mut best = (a, dot(p, &centroids[a]));
    each[a] = best.1;
    for (j, c) in centroids.iter().enumerate() {
        if j == a || each[j] < best.1 - SURE {
            continue;
        }
        let x = dot(p, c);
        each[j] = x;
        if x > best.1 || (x == best.1 && j < best.0) {
            best = (j, x);
        }
    }
    *own = best.1;
    best.0
}

impl Bounds {
    /// Widens the bounds by how far the centroids moved: a cosine to a centroid changes by at
    /// most |p| times the centroid's move (Cauchy-Schwarz), for any vectors. Moves and lengths
    /// are taken a little larger than measured, so rounding never makes a bound too tight.
    fn loosen(&mut self, assignment: &[usize], norms: &[f32], old: &[Vec<f32>], new: &[Vec<f32>]) {
        let moves: Vec<f32> = old
            .iter()
            .zip(new)
            .map(|(o, n)| {
                let d = o.iter().zip(n).map(|(a, b)| (a - b) * (a - b)).sum::<f32>();
                d.sqrt() * 1.001 + 1e-6
            })
            .collect();
        let k = moves.len();
        self.own
            .par_iter_mut()
            .zip(self.each.par_chunks_mut(k))
            .zip(assignment)
            .zip(norms)
            .for_each(|(((own, each), &a), &norm)| {
                let reach = norm * 1.001 + 1e-6;
                *own -= reach * moves[a];
                for (u, m) in each.iter_mut().zip(&moves) {
                    *u += reach * m;
                }
            });
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topics::lsa::lsa;
    use crate::topics::terms::{MAX_TERMS, doc_terms, tfidf};

    #[test]
    fn bounded_rounds_assign_as_comparing_every_paper_with_every_centroid() {
        let digests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digests");
        let found = crate::digest::find_digests(&[digests]);
        let papers = crate::digest::load(&found.files, || {})
            .expect("data/digests loads")
            .papers;
        let (docs, vocabulary) = doc_terms(&papers);
        let (rows, terms) = tfidf(&docs, &vocabulary, MAX_TERMS);
        let points = lsa(&rows, terms, 100, &mut Rng(42));
        let k = 24;
        let initial: Vec<Vec<f32>> = (0..k)
            .map(|c| points[c * points.len() / k].clone())
            .collect();
        let (assignment, centroids) = kmeans_from(&points, initial.clone(), k, &mut Rng(7));
        // The rounds without bounds: every paper to its nearest centroid, then recentre.
        let mut expected = (vec![0usize; points.len()], initial);
        for _ in 0..60 {
            let next: Vec<usize> = points.iter().map(|p| nearest(p, &expected.1).0).collect();
            let changed = next != expected.0;
            expected.1 = recentre(&points, &next, &expected.1);
            expected.0 = next;
            if !changed {
                break;
            }
        }
        assert_eq!(assignment, expected.0);
        assert_eq!(centroids, expected.1);
    }
}
