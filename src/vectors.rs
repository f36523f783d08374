//! The vector index: paper vectors keyed by paper number, searched exactly for small collections
//! and through an HNSW graph (hnsw_rs, dot product on unit vectors) for large ones.
//!
//! Vectors live in slots. A paper whose vector changes gets a new slot and its old slot becomes a
//! tombstone (hnsw_rs cannot delete); when tombstones pass 20% of the slots the graph is rebuilt.
//! On disk: `vectors.f32` (slot vectors), `vectors.json` (slot -> paper map, parameters,
//! checksums) and the graph's own `graph.hnsw.{graph,data}` files.

use std::collections::HashMap;
use std::path::Path;

use hnsw_rs::prelude::{AnnT, Distance, Hnsw, HnswIo};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::atomic::{write_atomically, write_json_atomically};
use crate::embed::dot;
use crate::error::{Error, Result};
use crate::paper::PaperNumber;

/// The slot map, parameters and checksums.
pub(crate) const META_FILE: &str = "vectors.json";
const VECTORS_FILE: &str = "vectors.f32";
const GRAPH_BASENAME: &str = "graph";
const DEAD: u32 = u32::MAX;
const REBUILD_DEAD_SHARE: f64 = 0.20;

/// Cosine distance on unit vectors. hnsw_rs's own `DistDot` asserts `dot <= 1.000002`, which float
/// rounding of near-identical unit vectors can break; this one clamps instead.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct UnitDot;

impl Distance<f32> for UnitDot {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - dot(a, b)).max(0.0)
    }
}

/// How the vector index is built and searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorParams {
    /// Neighbours per node and layer (hnsw_rs exits the process above 256; keep it small).
    pub m: usize,
    /// Candidate list size while building the graph (higher: better graph, slower build).
    pub ef_construction: usize,
    /// Candidate list size while searching (higher: better recall, slower).
    pub ef_search: usize,
    /// Below this many live papers, search is exact and no graph is built (exact search over
    /// 256 dims overtakes hnsw_rs at ef=64 between 16k and 32k papers: BENCHMARKS.md).
    pub exact_below: usize,
}

impl Default for VectorParams {
    fn default() -> Self {
        VectorParams {
            m: 16,
            ef_construction: 200,
            // Recall@10 with query texts on data/ (by score): 0.974 at 128, 0.980 at 160, 0.984 at
            // 192 (BENCHMARKS.md "Vector index"). hnsw_rs's filtered search reached 0.990 at 128
            // only by walking on past HNSW's stopping rule, at the cost of a larger ef.
            ef_search: 192,
            exact_below: 25_000,
        }
    }
}

type LoadedHnsw<'a> = Hnsw<'a, f32, UnitDot>;

self_cell::self_cell!(
    /// A graph reloaded from disk: hnsw_rs's graph borrows its loader, so both live here.
    struct LoadedGraph {
        owner: HnswIo,
        #[not_covariant]
        dependent: LoadedHnsw,
    }
);

enum Hnswlib {
    Built(Hnsw<'static, f32, UnitDot>),
    Loaded(LoadedGraph),
}

impl Hnswlib {
    fn with<R>(&self, f: impl FnOnce(&Hnsw<'_, f32, UnitDot>) -> R) -> R {
        match self {
            Hnswlib::Built(h) => f(h),
            Hnswlib::Loaded(l) => l.with_dependent(|_, h| f(h)),
        }
    }
}

/// hnsw_rs's graph (built, grown, saved and loaded by hnsw_rs) and a flat copy of its links that
/// unfiltered searches walk. hnsw_rs's own search answered 5-6x slower than hnswlib at the same
/// recall (BENCHMARKS.md "Vector index"): every link is an `Arc` to a separately allocated point
/// behind a lock, its visited set is a `HashMap`, and each candidate is a new `Arc`.
struct Graph {
    hnsw: Hnswlib,
    links: Links,
}

impl Graph {
    /// `slots`: how many vectors there are (a link past them, from a damaged file that still
    /// matched its checksum, is dropped rather than followed).
    fn new(hnsw: Hnswlib, slots: usize) -> Self {
        let links = hnsw.with(|h| Links::of(h, slots));
        Graph { hnsw, links }
    }

    fn with<R>(&self, f: impl FnOnce(&Hnsw<'_, f32, UnitDot>) -> R) -> R {
        self.hnsw.with(f)
    }

    /// After hnsw_rs inserted points: its links changed, so copy them again.
    fn refresh(&mut self, slots: usize) {
        self.links = self.hnsw.with(|h| Links::of(h, slots));
    }
}

/// An HNSW graph's links by slot: layer 0 for every slot, upper layers for the few slots in them.
#[derive(Default)]
struct Links {
    /// Layer 0: slot -> neighbour slots.
    base: Vec<Vec<u32>>,
    /// Layers 1..: slot -> neighbour slots, for the slots in that layer.
    upper: Vec<HashMap<u32, Vec<u32>>>,
    /// Where every search starts: a slot of the top layer.
    entry: Option<u32>,
}

impl Links {
    fn of(hnsw: &Hnsw<'_, f32, UnitDot>, slots: usize) -> Self {
        let mut links = Links::default();
        let mut top = 0;
        let known = |slot: usize| (slot < slots).then_some(slot as u32);
        for point in hnsw.get_point_indexation() {
            let Some(slot) = known(point.get_origin_id()) else {
                continue;
            };
            let layers = point.get_neighborhood_id();
            let level = usize::from(point.get_point_id().0);
            if links.entry.is_none() || level > top {
                (links.entry, top) = (Some(slot), level);
            }
            if links.upper.len() < layers.len().saturating_sub(1) {
                links.upper.resize_with(layers.len() - 1, HashMap::new);
            }
            for (layer, neighbours) in layers.into_iter().enumerate() {
                let ids: Vec<u32> = neighbours.iter().filter_map(|n| known(n.d_id)).collect();
                if layer == 0 {
                    if links.base.len() <= slot as usize {
                        links.base.resize_with(slot as usize + 1, Vec::new);
                    }
                    links.base[slot as usize] = ids;
                } else if !ids.is_empty() {
                    links.upper[layer - 1].insert(slot, ids);
                }
            }
        }
        links.upper.truncate(top);
        links
    }
}

/// A distance with a total order, for the search heaps.
#[derive(Clone, Copy, PartialEq)]
struct Far(f32, u32);

impl Eq for Far {}

impl PartialOrd for Far {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Far {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    dims: usize,
    params: VectorParams,
    /// slot -> paper number, `u32::MAX` for a tombstone.
    slot_paper: Vec<u32>,
    has_graph: bool,
    crc_vectors: u32,
    crc_graph_files: Vec<(String, u32)>,
}

/// Paper vectors, searched exactly or through an HNSW graph.
pub struct VectorIndex {
    dims: usize,
    params: VectorParams,
    vectors: Vec<f32>,
    slot_paper: Vec<u32>,
    paper_slot: HashMap<PaperNumber, usize>,
    graph: Option<Graph>,
}

fn corrupt(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::IndexCorrupt {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

impl VectorIndex {
    /// A new index where paper `i` has `vectors[i]`.
    pub fn build(
        dims: usize,
        vectors: Vec<Vec<f32>>,
        params: VectorParams,
        on_insert: impl Fn() + Sync,
    ) -> Self {
        let slot_paper: Vec<u32> = (0..vectors.len() as u32).collect();
        let flat: Vec<f32> = vectors.into_iter().flatten().collect();
        let mut index = VectorIndex {
            dims,
            params,
            vectors: flat,
            paper_slot: HashMap::new(),
            slot_paper,
            graph: None,
        };
        index.reindex_papers();
        index.rebuild_graph_if_large(&on_insert);
        index
    }

    fn reindex_papers(&mut self) {
        self.paper_slot = self
            .slot_paper
            .iter()
            .enumerate()
            .filter(|&(_, &p)| p != DEAD)
            .map(|(slot, &p)| (PaperNumber(p), slot))
            .collect();
    }

    /// Papers with a vector.
    pub fn len(&self) -> usize {
        self.paper_slot.len()
    }

    /// Whether no paper has a vector.
    pub fn is_empty(&self) -> bool {
        self.paper_slot.is_empty()
    }

    /// Vector dimensions.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Slots of replaced vectors still in the graph.
    pub fn tombstones(&self) -> usize {
        self.slot_paper.len() - self.paper_slot.len()
    }

    /// Whether searches go through the HNSW graph (large collections) rather than exactly.
    pub fn uses_graph(&self) -> bool {
        self.graph.is_some()
    }

    /// The parameters it was built with.
    pub fn params(&self) -> VectorParams {
        self.params
    }

    /// Sets the candidate list size of later graph searches (a recall/speed trade).
    pub fn set_ef_search(&mut self, ef: usize) {
        self.params.ef_search = ef;
    }

    fn slot_vector(&self, slot: usize) -> &[f32] {
        &self.vectors[slot * self.dims..(slot + 1) * self.dims]
    }

    /// The paper's vector, if it has one.
    pub fn vector_of(&self, paper: PaperNumber) -> Option<&[f32]> {
        self.paper_slot.get(&paper).map(|&s| self.slot_vector(s))
    }

    /// Copies of the vectors of papers `0..papers` (empty for a paper without one).
    pub fn by_paper(&self, papers: usize) -> Vec<Vec<f32>> {
        (0..papers)
            .map(|i| {
                self.vector_of(PaperNumber::from_index(i))
                    .map(<[f32]>::to_vec)
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Adds or replaces papers' vectors: a changed paper's old slot becomes a tombstone.
    pub(crate) fn upsert(
        &mut self,
        changed: Vec<(PaperNumber, Vec<f32>)>,
        on_insert: impl Fn() + Sync,
    ) {
        let first_new = self.slot_paper.len();
        for (paper, vector) in changed {
            if let Some(old) = self.paper_slot.insert(paper, self.slot_paper.len()) {
                self.slot_paper[old] = DEAD;
            }
            self.slot_paper.push(paper.0);
            self.vectors.extend(vector);
        }
        let dead_share = self.tombstones() as f64 / self.slot_paper.len().max(1) as f64;
        if dead_share > REBUILD_DEAD_SHARE {
            self.compact();
            self.rebuild_graph_if_large(&on_insert);
        } else if let Some(mut graph) = self.graph.take() {
            let items: Vec<(&[f32], usize)> = (first_new..self.slot_paper.len())
                .map(|s| (self.slot_vector(s), s))
                .collect();
            graph.with(|h| h.parallel_insert_slice(&items));
            graph.refresh(self.slot_paper.len());
            self.graph = Some(graph);
        } else {
            self.rebuild_graph_if_large(&on_insert);
        }
    }

    /// Drops tombstones: slots are renumbered, so any graph must be rebuilt.
    fn compact(&mut self) {
        let mut vectors = Vec::with_capacity(self.paper_slot.len() * self.dims);
        let mut slot_paper = Vec::with_capacity(self.paper_slot.len());
        for (slot, &paper) in self.slot_paper.iter().enumerate() {
            if paper != DEAD {
                vectors.extend_from_slice(self.slot_vector(slot));
                slot_paper.push(paper);
            }
        }
        self.vectors = vectors;
        self.slot_paper = slot_paper;
        self.graph = None;
        self.reindex_papers();
    }

    fn rebuild_graph_if_large(&mut self, on_insert: &(impl Fn() + Sync)) {
        if self.len() < self.params.exact_below {
            self.graph = None;
            return;
        }
        let slots = self.slot_paper.len();
        let hnsw = Hnsw::new(
            self.params.m,
            slots.max(1),
            16,
            self.params.ef_construction,
            UnitDot,
        );
        let items: Vec<(&[f32], usize)> = (0..slots)
            .filter(|&s| self.slot_paper[s] != DEAD)
            .map(|s| (self.slot_vector(s), s))
            .collect();
        items.par_chunks(256).for_each(|chunk| {
            hnsw.parallel_insert_slice(&chunk.to_vec());
            (0..chunk.len()).for_each(|_| on_insert());
        });
        let mut hnsw = hnsw;
        hnsw.set_searching_mode(true);
        self.graph = Some(Graph::new(Hnswlib::Built(hnsw), slots));
    }

    /// The `k` papers nearest `query` (a unit vector) with their cosine, best first, among
    /// papers `allowed` says yes to. Exact when there is no graph or the filter is selective.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        allowed: Option<&[bool]>,
    ) -> Vec<(PaperNumber, f32)> {
        let allowed_count = allowed.map_or(self.len(), |a| a.iter().filter(|&&x| x).count());
        let selective = allowed_count * 10 < self.len();
        match &self.graph {
            Some(graph) if !selective => self.search_graph(graph, query, k, allowed),
            _ => self.search_exact(query, k, allowed),
        }
    }

    fn is_allowed(allowed: Option<&[bool]>, paper: PaperNumber) -> bool {
        allowed.is_none_or(|a| a.get(paper.index()).copied().unwrap_or(false))
    }

    /// The paper in `slot`, `None` for a tombstone or a slot past the end.
    fn paper_in(&self, slot: usize) -> Option<PaperNumber> {
        self.slot_paper
            .get(slot)
            .copied()
            .filter(|&p| p != DEAD)
            .map(PaperNumber)
    }

    /// The `k` nearest papers by exact cosine, among those `allowed` (all when `None`).
    pub fn search_exact(
        &self,
        query: &[f32],
        k: usize,
        allowed: Option<&[bool]>,
    ) -> Vec<(PaperNumber, f32)> {
        let mut scored: Vec<(PaperNumber, f32)> = (0..self.slot_paper.len())
            .filter_map(|slot| Some((slot, self.paper_in(slot)?)))
            .filter(|&(_, p)| Self::is_allowed(allowed, p))
            .map(|(slot, p)| (p, dot(query, self.slot_vector(slot))))
            .collect();
        let k = k.min(scored.len());
        if k == 0 {
            return Vec::new();
        }
        scored.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored.truncate(k);
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored
    }

    /// Graph search. hnsw_rs's filtered search never takes the early exit of HNSW's layer
    /// search (it walks on until no candidate is left: 5-10x the distance evaluations), so the
    /// graph is searched unfiltered for its `ef` best and those are filtered here; only when
    /// fewer than `k` of them pass does the filtered search run.
    fn search_graph(
        &self,
        graph: &Graph,
        query: &[f32],
        k: usize,
        allowed: Option<&[bool]>,
    ) -> Vec<(PaperNumber, f32)> {
        let ef = self.params.ef_search.max(k);
        let keep = |slot: usize| {
            self.paper_in(slot)
                .filter(|&paper| Self::is_allowed(allowed, paper))
        };
        let unfiltered = allowed.is_none() && self.tombstones() == 0;
        let wanted = if unfiltered { k } else { ef };
        let mut found: Vec<(PaperNumber, f32)> = self
            .walk(&graph.links, query, ef)
            .into_iter()
            .filter_map(|Far(distance, slot)| Some((keep(slot as usize)?, 1.0 - distance)))
            .take(wanted)
            .collect();
        if found.len() < k.min(self.len()) && !unfiltered {
            let filter = |slot: &usize| keep(*slot).is_some();
            found = graph
                .with(|h| h.search_filter(query, k, ef, Some(&filter)))
                .iter()
                .filter_map(|n| Some((keep(n.d_id)?, 1.0 - n.distance)))
                .collect();
        }
        found.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        found.truncate(k);
        found
    }

    /// HNSW's search on the flat links: greedy descent through the upper layers, then a beam of
    /// `ef` on layer 0 that stops when the nearest unexplored candidate is farther than the
    /// `ef`-th best found. Returns up to `ef` slots, nearest first.
    fn walk(&self, links: &Links, query: &[f32], ef: usize) -> Vec<Far> {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let Some(entry) = links.entry else {
            return Vec::new();
        };
        let distance = |slot: u32| 1.0 - dot(query, self.slot_vector(slot as usize));
        let mut at = Far(distance(entry), entry);
        for layer in links.upper.iter().rev() {
            while let Some(better) = layer
                .get(&at.1)
                .into_iter()
                .flatten()
                .map(|&n| Far(distance(n), n))
                .min()
                .filter(|n| n.0 < at.0)
            {
                at = better;
            }
        }
        let mut visited = vec![0u64; links.base.len().div_ceil(64)];
        let mut first_visit = |slot: u32| {
            let (word, bit) = (slot as usize / 64, 1u64 << (slot % 64));
            let seen = visited.get(word).is_none_or(|w| w & bit != 0);
            if !seen {
                visited[word] |= bit;
            }
            !seen
        };
        first_visit(at.1);
        let mut candidates = BinaryHeap::from([Reverse(at)]);
        let mut best = BinaryHeap::from([at]);
        while let Some(Reverse(nearest)) = candidates.pop() {
            if best.len() >= ef && best.peek().is_some_and(|worst| nearest.0 > worst.0) {
                break;
            }
            for &n in links.base.get(nearest.1 as usize).into_iter().flatten() {
                if !first_visit(n) {
                    continue;
                }
                let candidate = Far(distance(n), n);
                if best.len() < ef || best.peek().is_some_and(|worst| candidate < *worst) {
                    candidates.push(Reverse(candidate));
                    best.push(candidate);
                    if best.len() > ef {
                        best.pop();
                    }
                }
            }
        }
        best.into_sorted_vec()
    }

    pub(crate) fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
        let bytes: Vec<u8> = self.vectors.iter().flat_map(|x| x.to_le_bytes()).collect();
        write_atomically(&dir.join(VECTORS_FILE), &bytes)?;
        let mut crc_graph_files = Vec::new();
        if let Some(graph) = &self.graph {
            graph
                .with(|h| h.file_dump(dir, GRAPH_BASENAME))
                .map_err(|e| corrupt(dir, format!("cannot write the HNSW graph: {e}")))?;
            for suffix in ["hnsw.graph", "hnsw.data"] {
                let name = format!("{GRAPH_BASENAME}.{suffix}");
                let path = dir.join(&name);
                let content = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                crc_graph_files.push((name, crc32fast::hash(&content)));
            }
        }
        let meta = Meta {
            dims: self.dims,
            params: self.params,
            slot_paper: self.slot_paper.clone(),
            has_graph: self.graph.is_some(),
            crc_vectors: crc32fast::hash(&bytes),
            crc_graph_files,
        };
        write_json_atomically(&dir.join(META_FILE), &meta)
    }

    /// Loads and checks every file (checksums first: hnsw_rs panics on a damaged file).
    pub(crate) fn load(dir: &Path) -> Result<Self> {
        let meta_path = dir.join(META_FILE);
        let text = std::fs::read_to_string(&meta_path).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => corrupt(&meta_path, "not UTF-8 text"),
            _ => Error::io(&meta_path, e),
        })?;
        let meta: Meta = serde_json::from_str(&text)
            .map_err(|e| corrupt(&meta_path, format!("not valid ({e})")))?;
        let mut seen = std::collections::HashSet::new();
        if meta.dims == 0 || !meta.slot_paper.iter().all(|&p| p == DEAD || seen.insert(p)) {
            return Err(corrupt(
                &meta_path,
                "slot map names a paper twice (or vectors have no dimensions)",
            ));
        }
        let vectors_path = dir.join(VECTORS_FILE);
        let bytes = std::fs::read(&vectors_path).map_err(|e| Error::io(&vectors_path, e))?;
        let expected = meta
            .dims
            .checked_mul(4)
            .and_then(|row| row.checked_mul(meta.slot_paper.len()));
        if crc32fast::hash(&bytes) != meta.crc_vectors || Some(bytes.len()) != expected {
            return Err(corrupt(&vectors_path, "checksum or size mismatch"));
        }
        let vectors = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        for (name, crc) in &meta.crc_graph_files {
            let path = dir.join(name);
            let content = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            if crc32fast::hash(&content) != *crc {
                return Err(corrupt(&path, "checksum mismatch"));
            }
        }
        let graph = if meta.has_graph {
            let loader = HnswIo::new(dir, GRAPH_BASENAME);
            let loaded = LoadedGraph::try_new(loader, |io| io.load_hnsw_with_dist(UnitDot))
                .map_err(|e| corrupt(dir, format!("cannot load the HNSW graph: {e}")))?;
            Some(Graph::new(Hnswlib::Loaded(loaded), meta.slot_paper.len()))
        } else {
            None
        };
        let mut index = VectorIndex {
            dims: meta.dims,
            params: meta.params,
            vectors,
            slot_paper: meta.slot_paper,
            paper_slot: HashMap::new(),
            graph,
        };
        index.reindex_papers();
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::any;

    fn unit(seed: u32, dims: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..dims)
            .map(|i| {
                ((seed.wrapping_mul(2654435761).wrapping_add(i as u32 * 40503)) % 1000) as f32
                    - 500.0
            })
            .collect();
        crate::embed::normalize(&mut v);
        v
    }

    fn sample(n: u32, dims: usize) -> Vec<Vec<f32>> {
        (0..n).map(|i| unit(i, dims)).collect()
    }

    fn graph_params() -> VectorParams {
        VectorParams {
            exact_below: 0,
            ..VectorParams::default()
        }
    }

    #[test]
    fn filtered_graph_search_falls_back_when_the_best_are_filtered_out() {
        let index = VectorIndex::build(16, sample(300, 16), graph_params(), || {});
        let query = unit(4, 16);
        let near: Vec<PaperNumber> = index
            .search_exact(&query, 200, None)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        // Only the 100 papers farthest from the query are allowed (a third: not selective enough
        // for exact search), so the graph's unfiltered candidates hold none of them.
        let mut allowed = vec![true; 300];
        near.iter().for_each(|p| allowed[p.index()] = false);
        let hits = index.search(&query, 10, Some(&allowed));
        assert_eq!(hits.len(), 10);
        assert!(hits.iter().all(|(p, _)| allowed[p.index()]));
    }

    #[test]
    fn exact_search_finds_the_vector_itself_first() {
        let index = VectorIndex::build(16, sample(50, 16), VectorParams::default(), || {});
        assert!(!index.uses_graph());
        let hits = index.search(&unit(7, 16), 3, None);
        assert_eq!(hits[0].0, PaperNumber(7));
        assert!((hits[0].1 - 1.0).abs() < 1e-5);
    }

    #[test]
    fn graph_search_agrees_with_exact_on_a_small_set() {
        let index = VectorIndex::build(16, sample(300, 16), graph_params(), || {});
        assert!(index.uses_graph());
        for q in [3, 77, 250] {
            assert_eq!(index.search(&unit(q, 16), 1, None)[0].0, PaperNumber(q));
        }
    }

    #[test]
    fn filters_apply_before_the_cut() {
        let index = VectorIndex::build(16, sample(300, 16), graph_params(), || {});
        let allowed: Vec<bool> = (0..300).map(|i| i % 2 == 1).collect();
        let hits = index.search(&unit(4, 16), 10, Some(&allowed));
        assert_eq!(hits.len(), 10);
        assert!(hits.iter().all(|(p, _)| p.0 % 2 == 1));
    }

    #[test]
    fn upsert_tombstones_and_rebuilds_past_the_threshold() {
        let mut index = VectorIndex::build(16, sample(100, 16), graph_params(), || {});
        index.upsert(vec![(PaperNumber(5), unit(1000, 16))], || {});
        assert_eq!(index.tombstones(), 1);
        assert_eq!(index.search(&unit(1000, 16), 1, None)[0].0, PaperNumber(5));
        assert_ne!(
            index.search(&unit(5, 16), 1, None)[0].0,
            PaperNumber(5),
            "old vector is a tombstone"
        );
        let changed: Vec<(PaperNumber, Vec<f32>)> = (10..40)
            .map(|p| (PaperNumber(p), unit(p + 2000, 16)))
            .collect();
        index.upsert(changed, || {});
        assert_eq!(
            index.tombstones(),
            0,
            "more than 20% dead: compacted and rebuilt"
        );
        assert_eq!(index.len(), 100);
        assert_eq!(index.search(&unit(2020, 16), 1, None)[0].0, PaperNumber(20));
    }

    #[test]
    fn save_and_load_give_identical_results() {
        let dir = tempfile::tempdir().expect("tmp");
        let index = VectorIndex::build(16, sample(300, 16), graph_params(), || {});
        index.save(dir.path()).expect("saves");
        let loaded = VectorIndex::load(dir.path()).expect("loads");
        assert!(loaded.uses_graph());
        for q in [1, 99, 299] {
            assert_eq!(
                index.search(&unit(q, 16), 10, None),
                loaded.search(&unit(q, 16), 10, None)
            );
        }
    }

    /// A paper added to a graph loaded from disk is found as in a graph built at once: its own
    /// vector's best match scores 1 (this sample repeats some vectors exactly: a tie may name
    /// the twin).
    #[test]
    fn papers_added_to_a_loaded_graph_are_found() {
        let dir = tempfile::tempdir().expect("tmp");
        VectorIndex::build(16, sample(300, 16), graph_params(), || {})
            .save(dir.path())
            .expect("saves");
        let mut loaded = VectorIndex::load(dir.path()).expect("loads");
        let added: Vec<(PaperNumber, Vec<f32>)> = (300..330)
            .map(|p| (PaperNumber(p), unit(p + 5000, 16)))
            .collect();
        loaded.upsert(added.clone(), || {});
        assert!(loaded.uses_graph());
        for (paper, vector) in &added {
            let best = loaded.search(vector, 1, None)[0];
            assert!((best.1 - 1.0).abs() < 1e-5, "{paper:?}: best {best:?}");
        }
        // One paper at a time, each into a freshly loaded graph.
        for seed in 0..40 {
            let mut loaded = VectorIndex::load(dir.path()).expect("loads");
            let vector = unit(seed + 9000, 16);
            loaded.upsert(vec![(PaperNumber(300), vector.clone())], || {});
            let best = loaded.search(&vector, 1, None)[0];
            assert!((best.1 - 1.0).abs() < 1e-5, "seed {seed}: best {best:?}");
        }
    }

    #[test]
    fn damaged_files_are_errors_not_panics() {
        let dir = tempfile::tempdir().expect("tmp");
        VectorIndex::build(16, sample(300, 16), graph_params(), || {})
            .save(dir.path())
            .expect("saves");
        let graph = dir.path().join("graph.hnsw.graph");
        let mut bytes = std::fs::read(&graph).expect("read");
        bytes[10] ^= 0xff;
        std::fs::write(&graph, bytes).expect("write");
        let err = VectorIndex::load(dir.path())
            .err()
            .expect("damaged")
            .to_string();
        assert!(err.contains("graph.hnsw.graph"), "{err}");
    }

    /// Every file of a saved index (exact and with a graph), damaged in every way the mutation
    /// strategy knows: loading never panics (hnsw_rs would, so checksums are checked first),
    /// and an index that loads answers a search.
    #[test]
    fn damaged_files_never_panic_the_loader() {
        use crate::fuzzing::{apply, mutation, runner, scratch};
        let originals = scratch();
        // Each saved index: its files, by name.
        type Files = Vec<(String, Vec<u8>)>;
        let saved: Vec<Files> = [
            ("exact", VectorParams::default(), 30),
            ("graph", graph_params(), 60),
        ]
        .into_iter()
        .map(|(name, params, n)| {
            let dir = originals.path().join(name);
            VectorIndex::build(8, sample(n, 8), params, || {})
                .save(&dir)
                .expect("saves");
            std::fs::read_dir(&dir)
                .expect("dir")
                .map(|e| {
                    let path = e.expect("entry").path();
                    let name = path
                        .file_name()
                        .expect("name")
                        .to_string_lossy()
                        .into_owned();
                    (name, std::fs::read(&path).expect("file"))
                })
                .collect()
        })
        .collect();
        let work = scratch();
        let mut runner = runner();
        let strategy = (0usize..2, any::<usize>(), mutation());
        runner
            .run(&strategy, |(which, file, damage)| {
                let files = &saved[which];
                let target = file % files.len();
                for (i, (name, bytes)) in files.iter().enumerate() {
                    let bytes = if i == target {
                        apply(bytes, &damage)
                    } else {
                        bytes.clone()
                    };
                    std::fs::write(work.path().join(name), bytes).expect("write");
                }
                if let Ok(index) = VectorIndex::load(work.path()) {
                    let _ = index.search(&unit(3, 8), 5, None);
                }
                Ok(())
            })
            .expect("no input panics the loader");
    }
}
