//! The topic map: every paper a point in 2-D, laid out so that topics read as separate groups.
//!
//! A single global projection (PCA or t-SNE of the 384-d vectors) either piles the topics on top
//! of each other (PCA: two directions cannot separate ~20 topics) or is slow and seed-dependent
//! (t-SNE). So the layout is in two steps, both deterministic:
//! 1. topic centres: classical MDS of the topics' mean vectors (the top two principal axes of
//!    the centres), then pushed apart until the topics' discs (area proportional to their
//!    size) no longer overlap;
//! 2. papers: inside their topic's disc, by the top two principal axes of the topic's own
//!    members, so neighbours within a topic stay neighbours on the map.
//!
//! Papers are placed by their nearest topic (outliers included).

use serde::Serialize;

use crate::embed::dot;
use crate::error::{Error, Result};
use crate::paper::PaperNumber;
use crate::search::{Engine, TopicLevel};

/// The map of one generation of an index.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Map {
    /// The index generation it was computed from.
    pub generation: u64,
    /// One per paper, in paper order.
    pub points: Vec<MapPoint>,
    /// One per topic, at its centre.
    pub topics: Vec<MapTopic>,
}

/// A paper on the map.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MapPoint {
    /// arXiv id.
    pub id: String,
    /// Horizontal position, within about -1..1.
    pub x: f32,
    /// Vertical position, within about -1..1.
    pub y: f32,
    /// The paper's nearest topic.
    pub topic: usize,
}

/// A topic on the map.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MapTopic {
    /// Topic id (as the topics endpoints list them).
    pub id: usize,
    /// Its first English label terms.
    pub label_en: String,
    /// Its first Chinese label words.
    pub label_zh: String,
    /// Centre, horizontally.
    pub x: f32,
    /// Centre, vertically.
    pub y: f32,
    /// Papers in it.
    pub size: usize,
}

/// Label terms shown on the map: more do not fit beside a point.
const LABEL_TERMS: usize = 3;
/// Power-iteration steps: the top two axes of a few hundred vectors settle well before this.
const ITERATIONS: usize = 60;
/// Space left between two topics' discs, in map units.
const GAP: f32 = 0.02;

impl Map {
    /// The map of `engine`'s generation (its fine topics and paper vectors).
    pub fn of(engine: &Engine) -> Result<Map> {
        let model = engine.topics(TopicLevel::Fine)?;
        let vectors = &engine
            .meaning()
            .ok_or_else(|| Error::IndexCorrupt {
                path: engine.store().dir().to_path_buf(),
                reason: engine
                    .meaning_error()
                    .unwrap_or("the vectors are not loaded")
                    .to_string(),
            })?
            .vectors;
        let ids: Vec<usize> = model.topics.iter().map(|t| t.id).collect();
        let slot_of = |id: usize| ids.iter().position(|&t| t == id);
        // Members of each topic, as (paper index, vector).
        let mut members: Vec<Vec<(usize, &[f32])>> = vec![Vec::new(); ids.len()];
        for (i, a) in model.assignments.iter().enumerate() {
            if let (Some(slot), Some(v)) = (
                slot_of(a.nearest),
                vectors.vector_of(PaperNumber::from_index(i)),
            ) {
                members[slot].push((i, v));
            }
        }
        let centres: Vec<Vec<f32>> = members
            .iter()
            .map(|m| mean(&m.iter().map(|&(_, v)| v).collect::<Vec<_>>()))
            .collect();
        let total: usize = members.iter().map(Vec::len).sum::<usize>().max(1);
        let radii: Vec<f32> = members
            .iter()
            .map(|m| 0.5 * (m.len() as f32 / total as f32).sqrt())
            .collect();
        let mut at = layout_centres(&centres);
        separate(&mut at, &radii);
        let mut points = vec![None; model.assignments.len()];
        for (slot, group) in members.iter().enumerate() {
            let rows: Vec<&[f32]> = group.iter().map(|&(_, v)| v).collect();
            for (&(i, _), (x, y)) in group.iter().zip(local_layout(&rows, &centres[slot])) {
                points[i] = Some(MapPoint {
                    id: model.assignments[i].arxiv_id.clone(),
                    x: at[slot].0 + radii[slot] * x,
                    y: at[slot].1 + radii[slot] * y,
                    topic: ids[slot],
                });
            }
        }
        let topics = model
            .topics
            .iter()
            .zip(&at)
            .zip(&members)
            .map(|((t, &(x, y)), m)| MapTopic {
                id: t.id,
                label_en: t
                    .label_en
                    .iter()
                    .take(LABEL_TERMS)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                label_zh: t
                    .label_zh
                    .iter()
                    .take(LABEL_TERMS)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("、"),
                x,
                y,
                size: m.len(),
            })
            .collect();
        Ok(Map {
            generation: engine.store().manifest.generation,
            points: points.into_iter().flatten().collect(),
            topics,
        })
    }
}

fn mean(rows: &[&[f32]]) -> Vec<f32> {
    let dims = rows.first().map_or(0, |r| r.len());
    let mut sum = vec![0.0f32; dims];
    for row in rows {
        for (s, x) in sum.iter_mut().zip(row.iter()) {
            *s += x;
        }
    }
    let n = rows.len().max(1) as f32;
    sum.iter_mut().for_each(|s| *s /= n);
    sum
}

/// The top two principal axes of `rows` minus `centre` (power iteration from a fixed start,
/// the second kept orthogonal to the first; each axis's sign fixed so its largest entry is
/// positive): the same input always gives the same axes.
fn principal_axes(rows: &[Vec<f32>]) -> [Vec<f32>; 2] {
    let dims = rows.first().map_or(0, Vec::len);
    let start = |k: usize| -> Vec<f32> {
        (0..dims)
            .map(|j| ((j * 7 + k * 13) % 17) as f32 - 8.0 + 0.5)
            .collect()
    };
    let mut axes: [Vec<f32>; 2] = [start(0), start(1)];
    for k in 0..2 {
        let mut v = std::mem::take(&mut axes[k]);
        for _ in 0..ITERATIONS {
            let mut next = vec![0.0f32; dims];
            for row in rows {
                let along = dot(row, &v);
                for (n, x) in next.iter_mut().zip(row) {
                    *n += along * x;
                }
            }
            if k == 1 {
                let overlap = dot(&next, &axes[0]);
                for (n, a) in next.iter_mut().zip(&axes[0]) {
                    *n -= overlap * a;
                }
            }
            let norm = dot(&next, &next).sqrt();
            if norm <= f32::EPSILON {
                break;
            }
            v = next.iter().map(|x| x / norm).collect();
        }
        let largest = v
            .iter()
            .copied()
            .max_by(|a, b| a.abs().total_cmp(&b.abs()))
            .unwrap_or(1.0);
        if largest < 0.0 {
            v.iter_mut().for_each(|x| *x = -*x);
        }
        axes[k] = v;
    }
    axes
}

fn centred(rows: &[&[f32]], centre: &[f32]) -> Vec<Vec<f32>> {
    rows.iter()
        .map(|r| r.iter().zip(centre).map(|(x, c)| x - c).collect())
        .collect()
}

/// Topic centres in 2-D (classical MDS = projection on the centres' top two axes), scaled to
/// fit -1..1.
fn layout_centres(centres: &[Vec<f32>]) -> Vec<(f32, f32)> {
    let rows: Vec<&[f32]> = centres.iter().map(Vec::as_slice).collect();
    let rows = centred(&rows, &mean(&rows));
    let axes = principal_axes(&rows);
    let at: Vec<(f32, f32)> = rows
        .iter()
        .map(|r| (dot(r, &axes[0]), dot(r, &axes[1])))
        .collect();
    let reach = at
        .iter()
        .map(|&(x, y)| x.abs().max(y.abs()))
        .fold(f32::EPSILON, f32::max);
    at.iter().map(|&(x, y)| (x / reach, y / reach)).collect()
}

/// Pushes overlapping discs apart (each pair along the line joining them, in a fixed order,
/// until none overlap or the rounds run out).
fn separate(at: &mut [(f32, f32)], radii: &[f32]) {
    for round in 0..200 {
        let mut moved = false;
        for i in 0..at.len() {
            for j in i + 1..at.len() {
                let (dx, dy) = (at[j].0 - at[i].0, at[j].1 - at[i].1);
                let distance = (dx * dx + dy * dy).sqrt();
                let needed = radii[i] + radii[j] + GAP;
                if distance >= needed {
                    continue;
                }
                // Coinciding centres move apart along a direction fixed by their positions.
                let (ux, uy) = if distance > 1e-6 {
                    (dx / distance, dy / distance)
                } else {
                    let angle = (i * 31 + j * 17 + round) as f32;
                    (angle.cos(), angle.sin())
                };
                let push = (needed - distance) / 2.0;
                at[i] = (at[i].0 - ux * push, at[i].1 - uy * push);
                at[j] = (at[j].0 + ux * push, at[j].1 + uy * push);
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
}

/// Members of one topic in their disc: on the members' own top two axes, scaled so that 90% of
/// them fall inside the unit disc, the rest drawn in to its edge.
fn local_layout(rows: &[&[f32]], centre: &[f32]) -> Vec<(f32, f32)> {
    let rows = centred(rows, centre);
    let axes = principal_axes(&rows);
    let at: Vec<(f32, f32)> = rows
        .iter()
        .map(|r| (dot(r, &axes[0]), dot(r, &axes[1])))
        .collect();
    let mut norms: Vec<f32> = at.iter().map(|&(x, y)| (x * x + y * y).sqrt()).collect();
    norms.sort_by(f32::total_cmp);
    let scale = norms
        .get(norms.len() * 9 / 10)
        .copied()
        .unwrap_or(1.0)
        .max(f32::EPSILON);
    at.iter()
        .map(|&(x, y)| {
            let (x, y) = (x / scale, y / scale);
            let norm = (x * x + y * y).sqrt();
            if norm > 1.0 {
                (x / norm, y / norm)
            } else {
                (x, y)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separated_discs_do_not_overlap() {
        let mut at = vec![(0.0, 0.0), (0.0, 0.0), (0.01, 0.0)];
        let radii = [0.2, 0.1, 0.3];
        separate(&mut at, &radii);
        for i in 0..3 {
            for j in i + 1..3 {
                let d = ((at[i].0 - at[j].0).powi(2) + (at[i].1 - at[j].1).powi(2)).sqrt();
                assert!(d + 1e-4 >= radii[i] + radii[j] + GAP, "{i} {j} {d}");
            }
        }
    }

    #[test]
    fn principal_axis_follows_the_spread() {
        let rows: Vec<Vec<f32>> = (0..20)
            .map(|i| vec![i as f32 - 10.0, 0.1 * ((i % 3) as f32 - 1.0), 0.0])
            .collect();
        let [first, second] = principal_axes(&rows);
        assert!(first[0] > 0.99, "{first:?}");
        assert!(dot(&first, &second).abs() < 1e-3);
    }
}
