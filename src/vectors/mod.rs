//! The vector index: paper vectors keyed by paper number, searched exactly for small collections
//! and through an HNSW graph (`hnsw`, dot product on unit vectors) for large ones, walked by
//! 8-bit codes of the vectors (`codes`) derived on load (never saved) and reranked by the floats.
//! [`views`] holds what a query in each script sees of a paper.
//!
//! Vectors live in slots. A paper whose vector changes gets a new slot and its old slot becomes a
//! tombstone (HNSW cannot delete a node cheaply); when tombstones pass 20% of the slots the graph
//! is rebuilt. On disk: `vectors.f32` (slot vectors), `vectors.json` (slot -> paper map,
//! parameters, checksums) and `graph.links` (the graph). Indexes written before the graph was
//! built here hold hnsw_rs's `graph.hnsw.{graph,data}` instead: they load through hnsw_rs.

mod codes;
mod hnsw;
mod memory;
pub mod views;

use std::collections::HashMap;
use std::path::Path;

use hnsw_rs::prelude::{Distance, HnswIo};
use serde::{Deserialize, Serialize};

use self::codes::Codes;
use self::hnsw::{Far, Graph, Rows};
use self::memory::huge_pages;
use crate::atomic::{write_atomically, write_json_atomically};
use crate::embed::dot;
use crate::error::{Error, Result};
use crate::paper::PaperNumber;

/// The slot map, parameters and checksums.
pub(crate) const META_FILE: &str = "vectors.json";
const VECTORS_FILE: &str = "vectors.f32";
/// hnsw_rs's file names (`graph.hnsw.graph`, `graph.hnsw.data`), in indexes written before.
const LEGACY_GRAPH_BASENAME: &str = "graph";
const GRAPH_FILE: &str = "graph.links";
const DEAD: u32 = u32::MAX;
const REBUILD_DEAD_SHARE: f64 = 0.20;

/// Cosine distance on unit vectors, for loading hnsw_rs graphs (hnsw_rs's own `DistDot` asserts
/// `dot <= 1.000002`, which float rounding of near-identical unit vectors can break).
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
    /// Neighbours per node and upper layer (twice as many on layer 0).
    pub m: usize,
    /// Candidate list size while building the graph (higher: better graph, slower build).
    pub ef_construction: usize,
    /// Candidate list size while searching (higher: better recall, slower); `None` when not
    /// chosen: searches then use [`DEFAULT_EF_SEARCH`] of the paperscope that searches, so an
    /// index follows a better default instead of keeping a copy of an old one.
    #[serde(default, deserialize_with = "chosen_ef_search")]
    pub ef_search: Option<usize>,
    /// Below this many live papers, search is exact and no graph is built (exact search over
    /// 256 dims overtakes hnsw_rs at ef=64 between 16k and 32k papers: BENCHMARKS.md).
    pub exact_below: usize,
}

/// The candidate list size of a graph search when none was chosen: recall@10 0.98, with a
/// margin for another build's graph, at M 24 on the generated 100k corpus (BENCHMARKS.md "Scale").
pub const DEFAULT_EF_SEARCH: usize = 1152;

/// `ef_search` values that mean "not chosen" when read from `vectors.json`: a file that holds
/// one of them was written when the field could not be left unset, and these are the defaults
/// such files were given; a default read back as a choice would pin the index to it. (A caller
/// who chooses one of these values gets the same search as long as it is the default.)
const DEFAULTS_SAVED_AS_CHOICES: [usize; 4] = [192, 512, 1152, 1536];

fn chosen_ef_search<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<usize>, D::Error> {
    let saved = Option::<usize>::deserialize(deserializer)?;
    Ok(saved.filter(|ef| !DEFAULTS_SAVED_AS_CHOICES.contains(ef)))
}

impl VectorParams {
    /// The candidate list size graph searches use: the chosen one, else [`DEFAULT_EF_SEARCH`].
    pub fn search_ef(&self) -> usize {
        self.ef_search.unwrap_or(DEFAULT_EF_SEARCH)
    }
}

impl Default for VectorParams {
    fn default() -> Self {
        // Chosen for recall@10 0.98 at the least build and query time past `exact_below`
        // (BENCHMARKS.md "Scale"); layer 0 holds twice M.
        VectorParams {
            m: 24,
            ef_construction: 100,
            ef_search: None,
            exact_below: 25_000,
        }
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
    /// The vectors in 8 bits, which the graph is walked by (derived, never saved), while there
    /// is a graph and they resolve the vectors.
    codes: Option<Codes>,
}

fn corrupt(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::IndexCorrupt {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// A graph hnsw_rs wrote (indexes from before `hnsw`), as this module's graph: its links by
/// slot and layer; links past the `slots` vectors (a damaged file that matched its checksum)
/// are dropped.
fn load_legacy_graph(dir: &Path, m: usize, slots: usize) -> Result<Graph> {
    let loader = HnswIo::new(dir, LEGACY_GRAPH_BASENAME);
    let hnsw = loader
        .load_hnsw_with_dist(UnitDot)
        .map_err(|e| corrupt(dir, format!("cannot load the HNSW graph: {e}")))?;
    let mut nodes = vec![vec![Vec::new()]; slots];
    let mut entry: Option<(u32, usize)> = None;
    for point in hnsw.get_point_indexation() {
        let slot = point.get_origin_id();
        if slot >= slots {
            continue;
        }
        let level = usize::from(point.get_point_id().0);
        if entry.is_none_or(|(_, top)| level > top) {
            entry = Some((slot as u32, level));
        }
        let mut layers: Vec<Vec<u32>> = point
            .get_neighborhood_id()
            .iter()
            .map(|layer| {
                layer
                    .iter()
                    .filter(|n| n.d_id < slots)
                    .map(|n| n.d_id as u32)
                    .collect()
            })
            .collect();
        layers.truncate(level + 1);
        nodes[slot] = layers;
    }
    Ok(Graph::from_layers(m, nodes, entry.map(|(e, _)| e)))
}

impl VectorIndex {
    /// A new index where paper `i` has `vectors[i]`.
    pub fn build(
        dims: usize,
        vectors: Vec<Vec<f32>>,
        params: VectorParams,
        on_insert: impl Fn() + Sync,
    ) -> Self {
        let numbered = (0..vectors.len()).map(PaperNumber::from_index).zip(vectors);
        Self::build_for(dims, numbered.collect(), params, on_insert)
    }

    /// A new index holding the vectors of the papers named (others have none yet).
    pub fn build_for(
        dims: usize,
        vectors: Vec<(PaperNumber, Vec<f32>)>,
        params: VectorParams,
        on_insert: impl Fn() + Sync,
    ) -> Self {
        let slot_paper: Vec<u32> = vectors.iter().map(|(paper, _)| paper.0).collect();
        let mut flat = huge_pages(vectors.iter().map(|(_, v)| v.len()).sum());
        flat.extend(vectors.into_iter().flat_map(|(_, v)| v));
        let mut index = VectorIndex {
            dims,
            params,
            vectors: flat,
            paper_slot: HashMap::new(),
            slot_paper,
            graph: None,
            codes: None,
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
        self.params.ef_search = Some(ef);
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
        } else if let Some(graph) = self.graph.take() {
            self.refresh_codes();
            let added: Vec<u32> = (first_new as u32..self.slot_paper.len() as u32).collect();
            let rows = self.rows();
            self.graph = Some(graph.extend(rows, &added, self.params.ef_construction, &on_insert));
        } else {
            self.rebuild_graph_if_large(&on_insert);
        }
    }

    fn rows(&self) -> Rows<'_> {
        Rows {
            data: &self.vectors,
            dims: self.dims,
            codes: self.codes.as_ref(),
        }
    }

    /// Codes of the current vectors (recomputed whole when vectors are added: a new vector may
    /// fall outside a dimension's old range, and 100k rows take ~30 ms).
    fn refresh_codes(&mut self) {
        self.codes = Codes::fit(&self.vectors, self.dims);
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
            self.codes = None;
            return;
        }
        self.refresh_codes();
        let live: Vec<u32> = (0..self.slot_paper.len() as u32)
            .filter(|&s| self.slot_paper[s as usize] != DEAD)
            .collect();
        let (m, ef) = (self.params.m, self.params.ef_construction);
        self.graph = Some(Graph::build(self.rows(), &live, m, ef, on_insert));
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

    /// Graph search: unfiltered, the walk's best (by 8-bit codes, reranked by the floats); with a
    /// filter or tombstones, the walk goes through every node but keeps only allowed live papers
    /// (HNSW's filtered search, as hnswlib's), so a filter that rejects the nearest papers still
    /// gets `k` answers.
    fn search_graph(
        &self,
        graph: &Graph,
        query: &[f32],
        k: usize,
        allowed: Option<&[bool]>,
    ) -> Vec<(PaperNumber, f32)> {
        let ef = self.params.search_ef().max(k);
        let keep = |slot: u32| {
            self.paper_in(slot as usize)
                .filter(|&paper| Self::is_allowed(allowed, paper))
        };
        let filter = |slot: u32| keep(slot).is_some();
        let filtered = allowed.is_some() || self.tombstones() > 0;
        let mut found: Vec<(PaperNumber, f32)> = graph
            .search(self.rows(), query, ef, k, filtered.then_some(&filter as _))
            .into_iter()
            .filter_map(|Far(distance, slot)| Some((keep(slot)?, 1.0 - distance)))
            .collect();
        found.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        found.truncate(k);
        found
    }

    pub(crate) fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
        let bytes: Vec<u8> = self.vectors.iter().flat_map(|x| x.to_le_bytes()).collect();
        write_atomically(&dir.join(VECTORS_FILE), &bytes)?;
        let mut crc_graph_files = Vec::new();
        if let Some(graph) = &self.graph {
            let bytes = graph.to_bytes();
            write_atomically(&dir.join(GRAPH_FILE), &bytes)?;
            crc_graph_files.push((GRAPH_FILE.to_string(), crc32fast::hash(&bytes)));
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

    /// Loads and checks every file (checksums first: hnsw_rs panics on a damaged legacy file).
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
        let mut vectors = huge_pages(bytes.len() / 4);
        vectors.extend(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        );
        let mut graph = None;
        for (name, crc) in &meta.crc_graph_files {
            let path = dir.join(name);
            let content = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            if crc32fast::hash(&content) != *crc {
                return Err(corrupt(&path, "checksum mismatch"));
            }
            if name == GRAPH_FILE {
                let read = Graph::from_bytes(&content, meta.slot_paper.len());
                graph = Some(read.map_err(|reason| corrupt(&path, reason))?);
            }
        }
        if meta.has_graph && graph.is_none() {
            graph = Some(load_legacy_graph(
                dir,
                meta.params.m,
                meta.slot_paper.len(),
            )?);
        }
        let mut index = VectorIndex {
            dims: meta.dims,
            params: meta.params,
            vectors,
            slot_paper: meta.slot_paper,
            paper_slot: HashMap::new(),
            graph,
            codes: None,
        };
        if index.graph.is_some() {
            index.refresh_codes();
        }
        index.reindex_papers();
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_default_ef_search_reads_as_not_chosen_and_a_chosen_one_stays() {
        let read = |ef: &str| -> VectorParams {
            let json = format!(r#"{{"m":16,"ef_construction":100,{ef}"exact_below":10}}"#);
            serde_json::from_str(&json).expect("parses")
        };
        for saved in DEFAULTS_SAVED_AS_CHOICES {
            let params = read(&format!(r#""ef_search":{saved},"#));
            assert_eq!(params.ef_search, None, "{saved}");
            assert_eq!(params.search_ef(), DEFAULT_EF_SEARCH);
            assert_eq!(params.m, 16, "the graph's own shape is kept");
        }
        assert_eq!(read(r#""ef_search":null,"#).ef_search, None);
        assert_eq!(read("").ef_search, None);
        let chosen = read(r#""ef_search":300,"#);
        assert_eq!((chosen.ef_search, chosen.search_ef()), (Some(300), 300));
        let written = serde_json::to_string(&chosen).expect("serialises");
        assert_eq!(
            serde_json::from_str::<VectorParams>(&written).expect("parses"),
            chosen
        );
    }

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

    /// An index as written before the graph was built here: hnsw_rs's graph files beside the
    /// same vectors and slot map.
    fn write_legacy(dir: &Path, vectors: &[Vec<f32>], params: VectorParams) {
        use hnsw_rs::prelude::{AnnT, Hnsw};
        let hnsw = Hnsw::new(params.m, vectors.len(), 16, params.ef_construction, UnitDot);
        let items: Vec<(&[f32], usize)> = vectors
            .iter()
            .enumerate()
            .map(|(i, v)| (v.as_slice(), i))
            .collect();
        hnsw.parallel_insert_slice(&items);
        hnsw.file_dump(dir, LEGACY_GRAPH_BASENAME).expect("dump");
        let bytes: Vec<u8> = vectors
            .iter()
            .flatten()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        std::fs::write(dir.join(VECTORS_FILE), &bytes).expect("vectors");
        let crc_graph_files = ["graph.hnsw.graph", "graph.hnsw.data"]
            .map(|name| {
                let content = std::fs::read(dir.join(name)).expect("graph file");
                (name.to_string(), crc32fast::hash(&content))
            })
            .to_vec();
        let meta = Meta {
            dims: vectors[0].len(),
            params,
            slot_paper: (0..vectors.len() as u32).collect(),
            has_graph: true,
            crc_vectors: crc32fast::hash(&bytes),
            crc_graph_files,
        };
        std::fs::write(
            dir.join(META_FILE),
            serde_json::to_vec(&meta).expect("json"),
        )
        .expect("meta");
    }

    /// An index from before loads its hnsw_rs graph, answers as exact search does, takes new
    /// papers, and is saved in the new format.
    #[test]
    fn an_index_with_an_hnsw_rs_graph_loads_grows_and_saves_in_the_new_format() {
        let dir = tempfile::tempdir().expect("tmp");
        let vectors = sample(400, 16);
        write_legacy(dir.path(), &vectors, graph_params());
        let mut index = VectorIndex::load(dir.path()).expect("loads");
        assert!(index.uses_graph());
        for q in [3, 150, 399] {
            let query = unit(q, 16);
            let best = index.search(&query, 1, None)[0];
            assert!((best.1 - 1.0).abs() < 1e-5, "{q}: {best:?}");
            let exact = index.search_exact(&query, 10, None);
            let graph = index.search(&query, 10, None);
            let same = exact
                .iter()
                .zip(&graph)
                .all(|(e, g)| (e.1 - g.1).abs() < 1e-5);
            assert!(
                same && graph.len() == 10,
                "query {q}: {graph:?} / {exact:?}"
            );
        }
        let added: Vec<(PaperNumber, Vec<f32>)> = (400..420)
            .map(|p| (PaperNumber(p), unit(p + 7000, 16)))
            .collect();
        index.upsert(added.clone(), || {});
        let out = tempfile::tempdir().expect("tmp");
        index.save(out.path()).expect("saves");
        assert!(out.path().join(GRAPH_FILE).is_file());
        assert!(!out.path().join("graph.hnsw.graph").exists());
        let reloaded = VectorIndex::load(out.path()).expect("reloads");
        for (paper, vector) in &added {
            let best = reloaded.search(vector, 1, None)[0];
            assert!((best.1 - 1.0).abs() < 1e-5, "{paper:?}: {best:?}");
        }
    }

    #[test]
    fn damaged_files_are_errors_not_panics() {
        let dir = tempfile::tempdir().expect("tmp");
        VectorIndex::build(16, sample(300, 16), graph_params(), || {})
            .save(dir.path())
            .expect("saves");
        let graph = dir.path().join(GRAPH_FILE);
        let mut bytes = std::fs::read(&graph).expect("read");
        bytes[10] ^= 0xff;
        std::fs::write(&graph, bytes).expect("write");
        let err = VectorIndex::load(dir.path())
            .err()
            .expect("damaged")
            .to_string();
        assert!(err.contains(GRAPH_FILE), "{err}");
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
