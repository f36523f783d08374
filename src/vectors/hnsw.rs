//! An HNSW graph (Malkov & Yashunin) over the vector index's slots: built on every core with one
//! lock per node, each node's links chosen by HNSW's neighbour-selection heuristic, and searched
//! without locks once frozen into flat arrays.
//!
//! Why not a crate: hnsw_rs built 100k x 256 at 0.41x hnswlib's speed (an `Arc` and a lock per
//! point, a `HashMap` visited set) and its search had to be replaced already; usearch compiles for
//! 12.5 min cold (BENCHMARKS.md "Vector index").

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError, RwLock};

use rayon::prelude::*;

use crate::embed::dot;

/// A distance and a slot, ordered by distance then slot (the search heaps need a total order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Far(pub f32, pub u32);

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

/// Slot vectors, one row of `dims` floats per slot, unit length (distance = 1 - dot).
#[derive(Clone, Copy)]
pub(crate) struct Rows<'a> {
    /// All rows, back to back.
    pub data: &'a [f32],
    /// Floats per row.
    pub dims: usize,
}

impl Rows<'_> {
    fn row(&self, slot: u32) -> &[f32] {
        let start = slot as usize * self.dims;
        &self.data[start..start + self.dims]
    }

    fn distance(&self, query: &[f32], slot: u32) -> f32 {
        1.0 - dot(query, self.row(slot))
    }

    fn len(&self) -> usize {
        self.data.len().checked_div(self.dims).unwrap_or(0)
    }

    /// Asks the CPU for the first cache lines of a row that is about to be read.
    fn prefetch(&self, slot: u32) {
        #[cfg(target_arch = "x86_64")]
        if let Some(row) = self.data.get(slot as usize * self.dims..) {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            for line in row.chunks(16).take(PREFETCH_LINES) {
                // SAFETY: a prefetch is only a hint; the address is inside `data`.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
            }
        }
    }
}

/// Cache lines (64 bytes) of a row prefetched: the hardware prefetcher follows on from there.
const PREFETCH_LINES: usize = 4;

/// Distances from one query to slots.
#[derive(Clone, Copy)]
struct Probe<'a> {
    rows: Rows<'a>,
    query: &'a [f32],
}

impl Probe<'_> {
    fn to(&self, slot: u32) -> Far {
        Far(self.rows.distance(self.query, slot), slot)
    }
}

/// Slots already seen by one search (a bit set cleared word by word, so one set serves every
/// insertion of a build thread), and the unseen neighbours of the node being expanded.
struct Visited {
    bits: Vec<u64>,
    touched: Vec<usize>,
    fresh: Vec<u32>,
}

impl Visited {
    fn new(slots: usize) -> Self {
        Visited {
            bits: vec![0; slots.div_ceil(64)],
            touched: Vec::new(),
            fresh: Vec::new(),
        }
    }

    /// True the first time `slot` is seen (a slot past the end counts as seen).
    fn first(&mut self, slot: u32) -> bool {
        let (word, bit) = (slot as usize / 64, 1u64 << (slot % 64));
        match self.bits.get_mut(word) {
            Some(w) if *w & bit == 0 => {
                if *w == 0 {
                    self.touched.push(word);
                }
                *w |= bit;
                true
            }
            _ => false,
        }
    }

    fn clear(&mut self) {
        for word in self.touched.drain(..) {
            self.bits[word] = 0;
        }
    }
}

/// Where a search reads a node's links: the frozen graph, or the graph being built (under the
/// node's lock).
trait Adjacency {
    fn each_link(&self, slot: u32, layer: usize, f: impl FnMut(u32));
}

/// Greedy descent on one upper layer: moves to the nearest neighbour while it is nearer.
fn greedy(adj: &impl Adjacency, probe: Probe, mut at: Far, layer: usize) -> Far {
    loop {
        let mut best = at;
        adj.each_link(at.1, layer, |n| {
            let candidate = probe.to(n);
            if candidate < best {
                best = candidate;
            }
        });
        if best == at {
            return at;
        }
        at = best;
    }
}

/// HNSW's layer search: a beam of `ef` from `entry` that stops when the nearest unexplored
/// candidate is farther than the `ef`-th best found. Only slots `keep` accepts enter the result
/// (all are walked through), so a filter never cuts the graph. Returns up to `ef`, nearest first.
fn search_layer(
    adj: &impl Adjacency,
    probe: Probe,
    entry: Far,
    ef: usize,
    layer: usize,
    visited: &mut Visited,
    keep: Option<&dyn Fn(u32) -> bool>,
) -> Vec<Far> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let kept = |slot: u32| keep.is_none_or(|k| k(slot));
    visited.clear();
    visited.first(entry.1);
    let mut candidates = BinaryHeap::from([Reverse(entry)]);
    let mut best = BinaryHeap::with_capacity(ef + 1);
    if kept(entry.1) {
        best.push(entry);
    }
    while let Some(Reverse(nearest)) = candidates.pop() {
        let bound = best.peek().map_or(f32::INFINITY, |w: &Far| w.0);
        if nearest.0 > bound && best.len() >= ef {
            break;
        }
        // Links first, distances after: the rows' first cache lines are requested for all
        // neighbours at once instead of one miss after another (and a build thread holds the
        // node's lock only while copying its links).
        let mut fresh = std::mem::take(&mut visited.fresh);
        fresh.clear();
        adj.each_link(nearest.1, layer, |n| {
            if visited.first(n) {
                fresh.push(n);
            }
        });
        fresh.iter().for_each(|&n| probe.rows.prefetch(n));
        for &n in &fresh {
            let candidate = probe.to(n);
            let full = best.len() >= ef;
            if full && best.peek().is_some_and(|worst| candidate >= *worst) {
                continue;
            }
            candidates.push(Reverse(candidate));
            if kept(n) {
                best.push(candidate);
                if best.len() > ef {
                    best.pop();
                }
            }
        }
        visited.fresh = fresh;
    }
    best.into_sorted_vec()
}

/// HNSW's heuristic: walking `candidates` nearest first, keep one only if it is nearer the
/// target than to every neighbour already kept. In crowded regions this spreads a node's few
/// links over directions instead of spending them all on one clump.
fn select(rows: Rows, candidates: &[Far], most: usize) -> Vec<u32> {
    let mut chosen: Vec<u32> = Vec::with_capacity(most);
    for &Far(distance, slot) in candidates {
        if chosen.len() >= most {
            break;
        }
        let row = rows.row(slot);
        if chosen.iter().all(|&c| rows.distance(row, c) >= distance) {
            chosen.push(slot);
        }
    }
    chosen
}

/// The level of a slot: geometric with ratio 1/M, from a hash of the slot (deterministic, and
/// the same whichever thread inserts it).
fn level_of(slot: u32, m: usize) -> u8 {
    let mut z = u64::from(slot).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let uniform = ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let level = -uniform.ln() / (m.max(2) as f64).ln();
    level.min(f64::from(MAX_LEVEL)) as u8
}

const MAX_LEVEL: u8 = 16;

/// The most links a node may keep on layer 0 (a larger count in a file is damage).
const MAX_CAP0: usize = 4096;

/// The graph, frozen: what searches walk and what is saved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Graph {
    /// Links chosen per node and the most an upper-layer node keeps.
    m: usize,
    /// The most links a node keeps on layer 0.
    cap0: usize,
    /// Each slot's top layer.
    levels: Vec<u8>,
    /// Layer 0, `cap0 + 1` words per slot: the count, then the links.
    base: Vec<u32>,
    /// Layers 1.. of the slots above layer 0: `[layer - 1]` -> links.
    upper: HashMap<u32, Vec<Vec<u32>>>,
    /// Where every search starts: a slot of the top layer.
    entry: Option<u32>,
}

impl Adjacency for Graph {
    fn each_link(&self, slot: u32, layer: usize, f: impl FnMut(u32)) {
        if layer == 0 {
            self.base_links(slot).iter().copied().for_each(f);
        } else if let Some(links) = self.upper.get(&slot).and_then(|l| l.get(layer - 1)) {
            links.iter().copied().for_each(f);
        }
    }
}

/// Per slot and layer (0 first), a node's links.
type Layers = Vec<Vec<u32>>;

impl Graph {
    /// The nodes of the graph (slots, live or not).
    pub(crate) fn len(&self) -> usize {
        self.levels.len()
    }

    fn base_links(&self, slot: u32) -> &[u32] {
        let start = slot as usize * (self.cap0 + 1);
        match self.base.get(start) {
            Some(&count) => &self.base[start + 1..start + 1 + count as usize],
            None => &[],
        }
    }

    fn top_level(&self) -> usize {
        self.entry
            .map_or(0, |e| usize::from(self.levels[e as usize]))
    }

    /// A graph of `rows`' slots `insert` (the others stay unlinked, as tombstones do), with `m`
    /// links per node (2m on layer 0), built with a beam of `ef_construction` on every core.
    pub(crate) fn build(
        rows: Rows,
        insert: &[u32],
        m: usize,
        ef_construction: usize,
        on_insert: &(impl Fn() + Sync),
    ) -> Self {
        // Bounded so that every graph built here reads back (`from_bytes` refuses more).
        let m = m.clamp(2, MAX_CAP0 / 2);
        let empty = Graph {
            m,
            cap0: 2 * m,
            levels: Vec::new(),
            base: Vec::new(),
            upper: HashMap::new(),
            entry: None,
        };
        empty.extend(rows, insert, ef_construction, on_insert)
    }

    /// This graph with `insert` added (slots of `rows` past the graph's become nodes).
    pub(crate) fn extend(
        self,
        rows: Rows,
        insert: &[u32],
        ef_construction: usize,
        on_insert: &(impl Fn() + Sync),
    ) -> Self {
        let building = Building::thaw(self, rows, ef_construction);
        let Some((&first, rest)) = insert.split_first() else {
            return building.freeze();
        };
        let slots = building.nodes.len();
        building.insert(first, &mut Visited::new(slots));
        on_insert();
        rest.par_iter().with_min_len(64).for_each_init(
            || Visited::new(slots),
            |visited, &slot| {
                building.insert(slot, visited);
                on_insert();
            },
        );
        building.freeze()
    }

    /// The up to `ef` slots nearest `query` that `keep` accepts (all when `None`), nearest first.
    pub(crate) fn search(
        &self,
        rows: Rows,
        query: &[f32],
        ef: usize,
        keep: Option<&dyn Fn(u32) -> bool>,
    ) -> Vec<Far> {
        let Some(entry) = self.entry else {
            return Vec::new();
        };
        let probe = Probe { rows, query };
        let mut at = probe.to(entry);
        for layer in (1..=self.top_level()).rev() {
            at = greedy(self, probe, at, layer);
        }
        let mut visited = Visited::new(self.len());
        search_layer(self, probe, at, ef, 0, &mut visited, keep)
    }

    /// A graph from each node's links by layer (layer 0 first), for graphs another library
    /// built: lists longer than this graph keeps are cut, links past `slots` dropped.
    pub(crate) fn from_layers(m: usize, nodes: Vec<Layers>, entry: Option<u32>) -> Self {
        let slots = nodes.len();
        let known = |links: &Vec<u32>| -> Vec<u32> {
            links
                .iter()
                .copied()
                .filter(|&s| (s as usize) < slots)
                .collect()
        };
        let cap0 = nodes
            .iter()
            .filter_map(|n| n.first().map(Vec::len))
            .max()
            .unwrap_or(0)
            .max(2 * m);
        let nodes = nodes
            .iter()
            .map(|layers| layers.iter().map(known).collect())
            .collect();
        freeze(m, cap0, nodes, entry.filter(|&e| (e as usize) < slots))
    }

    /// The graph as bytes (`from_bytes` reads them back).
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut words: Vec<u32> = vec![
            self.m as u32,
            self.cap0 as u32,
            self.levels.len() as u32,
            self.entry.unwrap_or(u32::MAX),
        ];
        words.extend(&self.base);
        for (slot, &level) in self.levels.iter().enumerate() {
            for layer in 1..=usize::from(level) {
                let links = self.upper_links(slot as u32, layer);
                words.push(links.len() as u32);
                words.extend(links);
            }
        }
        let mut bytes = MAGIC.to_vec();
        bytes.extend(&self.levels);
        bytes.extend(words.iter().flat_map(|w| w.to_le_bytes()));
        bytes
    }

    fn upper_links(&self, slot: u32, layer: usize) -> &[u32] {
        self.upper
            .get(&slot)
            .and_then(|l| l.get(layer - 1))
            .map_or(&[], Vec::as_slice)
    }

    /// Reads `to_bytes`' output for a graph of `slots` nodes; says what is wrong otherwise.
    pub(crate) fn from_bytes(bytes: &[u8], slots: usize) -> Result<Self, String> {
        let rest = bytes.strip_prefix(MAGIC).ok_or("not a paperscope graph")?;
        let levels = rest.get(..slots).ok_or("shorter than its levels")?.to_vec();
        let mut words = Words(&rest[slots..]);
        let [m, cap0, nodes, entry] = [(); 4].map(|()| words.next());
        let (m, cap0) = (m? as usize, cap0? as usize);
        if nodes? as usize != slots || m == 0 || cap0 == 0 || cap0 > MAX_CAP0 || m > cap0 {
            return Err("header does not match the vectors".into());
        }
        let entry = match entry? {
            u32::MAX => None,
            e if (e as usize) < slots => Some(e),
            _ => return Err("entry point past the vectors".into()),
        };
        let top = levels.iter().copied().max().unwrap_or(0);
        if top > MAX_LEVEL || entry.is_some_and(|e| levels[e as usize] != top) {
            return Err("levels do not match the entry point".into());
        }
        let base = words.take(slots * (cap0 + 1))?;
        let mut upper = HashMap::new();
        for (slot, &level) in levels.iter().enumerate() {
            let count = base[slot * (cap0 + 1)] as usize;
            let links = &base[slot * (cap0 + 1) + 1..][..cap0];
            if count > cap0 || links[..count].iter().any(|&s| s as usize >= slots) {
                return Err(format!("slot {slot}: layer 0 links out of range"));
            }
            let layers: Vec<Vec<u32>> = (0..level)
                .map(|_| {
                    let count = words.next()? as usize;
                    let links = words.take(count.min(m + 1))?;
                    match count <= m && links.iter().all(|&s| (s as usize) < slots) {
                        true => Ok(links),
                        false => Err(format!("slot {slot}: upper links out of range")),
                    }
                })
                .collect::<Result<_, _>>()?;
            if level > 0 {
                upper.insert(slot as u32, layers);
            }
        }
        if !words.0.is_empty() {
            return Err("trailing bytes".into());
        }
        Ok(Graph {
            m,
            cap0,
            levels,
            base,
            upper,
            entry,
        })
    }
}

const MAGIC: &[u8; 8] = b"PSHNSW01";

/// Little-endian u32s read off a byte slice, short input an error.
struct Words<'a>(&'a [u8]);

impl Words<'_> {
    fn next(&mut self) -> Result<u32, String> {
        let (word, rest) = self.0.split_first_chunk::<4>().ok_or("truncated")?;
        self.0 = rest;
        Ok(u32::from_le_bytes(*word))
    }

    fn take(&mut self, count: usize) -> Result<Vec<u32>, String> {
        (0..count).map(|_| self.next()).collect()
    }
}

/// Nodes' links by layer into the frozen layout. A node's empty top layers are dropped (a slot
/// never inserted, a tombstone's, has its drawn level but no links), except the entry point's.
fn freeze(m: usize, cap0: usize, nodes: Vec<Layers>, entry: Option<u32>) -> Graph {
    let mut levels = Vec::with_capacity(nodes.len());
    let mut base = vec![0u32; nodes.len() * (cap0 + 1)];
    let mut upper = HashMap::new();
    for (slot, mut layers) in nodes.into_iter().enumerate() {
        layers.truncate(usize::from(MAX_LEVEL) + 1);
        while layers.len() > 1
            && layers.last().is_some_and(Vec::is_empty)
            && entry != Some(slot as u32)
        {
            layers.pop();
        }
        levels.push(layers.len().saturating_sub(1) as u8);
        let mut layers = layers.into_iter();
        let mut zero = layers.next().unwrap_or_default();
        zero.truncate(cap0);
        let start = slot * (cap0 + 1);
        base[start] = zero.len() as u32;
        base[start + 1..start + 1 + zero.len()].copy_from_slice(&zero);
        let rest: Vec<Vec<u32>> = layers.map(|mut l| (l.truncate(m), l).1).collect();
        if !rest.is_empty() {
            upper.insert(slot as u32, rest);
        }
    }
    // A graph from another library may name an entry below its top layer: start at the top.
    let top = levels.iter().copied().max().unwrap_or(0);
    let entry = entry.and_then(|e| {
        (levels[e as usize] == top)
            .then_some(e)
            .or_else(|| levels.iter().position(|&l| l == top).map(|s| s as u32))
    });
    Graph {
        m,
        cap0,
        levels,
        base,
        upper,
        entry,
    }
}

/// The graph while nodes are inserted: each node's links behind its own lock, the entry point
/// behind one more.
struct Building<'a> {
    rows: Rows<'a>,
    m: usize,
    cap0: usize,
    ef: usize,
    nodes: Vec<Mutex<Layers>>,
    /// The entry point and its level.
    top: RwLock<Option<(u32, usize)>>,
}

impl Adjacency for Building<'_> {
    fn each_link(&self, slot: u32, layer: usize, f: impl FnMut(u32)) {
        let node = self.nodes[slot as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(links) = node.get(layer) {
            links.iter().copied().for_each(f);
        }
    }
}

impl<'a> Building<'a> {
    /// Unfreezes `graph`; every slot of `rows` gets a node (new ones their levels, no links).
    fn thaw(graph: Graph, rows: Rows<'a>, ef: usize) -> Self {
        let entry = graph.entry.map(|e| (e, graph.top_level()));
        let mut nodes: Vec<Mutex<Layers>> = (0..graph.len() as u32)
            .map(|slot| {
                let mut layers = vec![graph.base_links(slot).to_vec()];
                layers.extend(graph.upper.get(&slot).cloned().unwrap_or_default());
                Mutex::new(layers)
            })
            .collect();
        let known = nodes.len() as u32;
        nodes
            .extend((known..rows.len() as u32).map(|slot| {
                Mutex::new(vec![Vec::new(); usize::from(level_of(slot, graph.m)) + 1])
            }));
        Building {
            rows,
            m: graph.m,
            cap0: graph.cap0,
            ef: ef.max(graph.m),
            nodes,
            top: RwLock::new(entry),
        }
    }

    fn freeze(self) -> Graph {
        let entry = self
            .top
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .map(|(e, _)| e);
        let nodes = self
            .nodes
            .into_iter()
            .map(|n| n.into_inner().unwrap_or_else(PoisonError::into_inner))
            .collect();
        freeze(self.m, self.cap0, nodes, entry)
    }

    fn level(&self, slot: u32) -> usize {
        self.nodes[slot as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
            - 1
    }

    /// Links `slot` into the graph: descends greedily to its level, then on each layer below
    /// searches a beam of `ef`, keeps the heuristic's `m` and links them back (a full neighbour
    /// list is thinned by the same heuristic). A node above the entry point holds the entry
    /// lock while it inserts (rare: one node in M^level).
    fn insert(&self, slot: u32, visited: &mut Visited) {
        let level = self.level(slot);
        let read = *self.top.read().unwrap_or_else(PoisonError::into_inner);
        let mut raising = None;
        let (entry, top) = match read {
            Some((e, top)) if level <= top => (e, top),
            _ => {
                let mut guard = self.top.write().unwrap_or_else(PoisonError::into_inner);
                let Some((e, top)) = *guard else {
                    *guard = Some((slot, level));
                    return;
                };
                if level > top {
                    raising = Some(guard);
                }
                (e, top)
            }
        };
        let probe = Probe {
            rows: self.rows,
            query: self.rows.row(slot),
        };
        let mut at = probe.to(entry);
        for layer in (level + 1..=top).rev() {
            at = greedy(self, probe, at, layer);
        }
        for layer in (0..=level.min(top)).rev() {
            let mut found = search_layer(self, probe, at, self.ef, layer, visited, None);
            found.retain(|f| f.1 != slot);
            let chosen = select(self.rows, &found, self.m);
            self.set_links(slot, layer, chosen.clone());
            for &neighbour in &chosen {
                self.link(neighbour, slot, layer);
            }
            at = found.first().copied().unwrap_or(at);
        }
        if let Some(mut guard) = raising {
            *guard = Some((slot, level));
        }
    }

    fn set_links(&self, slot: u32, layer: usize, links: Vec<u32>) {
        let mut node = self.nodes[slot as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(l) = node.get_mut(layer) {
            *l = links;
        }
    }

    /// Adds `to` to `from`'s links on `layer`; a full list keeps the heuristic's choice of its
    /// links and `to`.
    fn link(&self, from: u32, to: u32, layer: usize) {
        let cap = if layer == 0 { self.cap0 } else { self.m };
        let mut node = self.nodes[from as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(links) = node.get_mut(layer) else {
            return;
        };
        if links.contains(&to) {
            return;
        }
        if links.len() < cap {
            links.push(to);
            return;
        }
        let centre = self.rows.row(from);
        let mut candidates: Vec<Far> = links
            .iter()
            .chain([&to])
            .map(|&s| Far(self.rows.distance(centre, s), s))
            .collect();
        candidates.sort_unstable();
        *links = select(self.rows, &candidates, cap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unit vectors of a few clumps (crowded, like generated papers), from a fixed hash.
    fn clumped(n: usize, dims: usize) -> Vec<f32> {
        let mut data = Vec::with_capacity(n * dims);
        for i in 0..n {
            let mut v: Vec<f32> = (0..dims)
                .map(|d| {
                    let centre = ((i % 7 * 31 + d * 17) % 13) as f32;
                    let noise = ((i * 2654435761 + d * 40503) % 1000) as f32 / 1000.0;
                    centre + noise
                })
                .collect();
            crate::embed::normalize(&mut v);
            data.extend(v);
        }
        data
    }

    fn exact(rows: Rows, query: &[f32], k: usize) -> Vec<u32> {
        let mut all: Vec<Far> = (0..rows.len() as u32)
            .map(|s| Far(rows.distance(query, s), s))
            .collect();
        all.sort_unstable();
        all.into_iter().take(k).map(|f| f.1).collect()
    }

    fn recall(graph: &Graph, rows: Rows, queries: std::ops::Range<u32>, ef: usize) -> f64 {
        let mut hits = 0;
        let mut wanted = 0;
        for q in queries {
            let query = rows.row(q);
            let truth = exact(rows, query, 10);
            let tenth = rows.distance(query, truth[9]);
            let found = graph.search(rows, query, ef, None);
            hits += found
                .iter()
                .take(10)
                .filter(|f| f.0 <= tenth + 1e-6)
                .count();
            wanted += 10;
        }
        hits as f64 / wanted as f64
    }

    #[test]
    fn a_built_graph_finds_the_exact_neighbours() {
        let data = clumped(3000, 24);
        let rows = Rows {
            data: &data,
            dims: 24,
        };
        let all: Vec<u32> = (0..3000).collect();
        let graph = Graph::build(rows, &all, 8, 100, &|| {});
        let r = recall(&graph, rows, 0..100, 64);
        assert!(r >= 0.95, "recall@10 {r}");
    }

    #[test]
    fn an_extended_graph_is_as_good_and_bytes_round_trip() {
        let data = clumped(3000, 24);
        let rows = Rows {
            data: &data,
            dims: 24,
        };
        let first: Vec<u32> = (0..2500).collect();
        let part = Rows {
            data: &data[..2500 * 24],
            dims: 24,
        };
        let graph = Graph::build(part, &first, 8, 100, &|| {});
        let rest: Vec<u32> = (2500..3000).collect();
        let graph = graph.extend(rows, &rest, 100, &|| {});
        assert_eq!(graph.len(), 3000);
        let r = recall(&graph, rows, 2500..2600, 64);
        assert!(r >= 0.95, "recall@10 of added nodes {r}");
        let again = Graph::from_bytes(&graph.to_bytes(), 3000).expect("reads");
        assert_eq!(again, graph);
        assert!(Graph::from_bytes(&graph.to_bytes(), 2999).is_err());
    }

    #[test]
    fn a_filter_keeps_only_what_it_accepts() {
        let data = clumped(2000, 16);
        let rows = Rows {
            data: &data,
            dims: 16,
        };
        let all: Vec<u32> = (0..2000).collect();
        let graph = Graph::build(rows, &all, 8, 64, &|| {});
        let odd = |s: u32| s % 2 == 1;
        let found = graph.search(rows, rows.row(4), 32, Some(&odd));
        assert_eq!(found.len(), 32);
        assert!(found.iter().all(|f| f.1 % 2 == 1));
    }

    /// The checksum in vectors.json catches a damaged file first; this is for the file whose
    /// checksum was rewritten with it: no damage may panic the reader, and a graph it accepts
    /// must answer a search.
    #[test]
    fn damaged_graph_bytes_never_panic_the_reader_or_a_search() {
        use crate::fuzzing::{apply, mutation, runner};
        let data = clumped(200, 8);
        let rows = Rows {
            data: &data,
            dims: 8,
        };
        let all: Vec<u32> = (0..200).collect();
        let bytes = Graph::build(rows, &all, 4, 32, &|| {}).to_bytes();
        runner()
            .run(&mutation(), |damage| {
                if let Ok(graph) = Graph::from_bytes(&apply(&bytes, &damage), 200) {
                    let _ = graph.search(rows, rows.row(7), 16, None);
                }
                Ok(())
            })
            .expect("no damage panics the graph reader");
    }
}
