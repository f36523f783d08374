//! An HNSW graph (Malkov & Yashunin) over the vector index's slots: built on every core with one
//! lock per node (inside the node's layer-0 record), each node's links chosen by HNSW's
//! neighbour-selection heuristic and its list then filled with the nearest of the rest, and
//! searched without locks once frozen into flat arrays. Walks go by 8-bit codes of the vectors
//! (`Codes`) where these resolve them, and their best candidates are reranked by the floats.
//!
//! One concept, the graph (its build, search, frozen layout and file), hence past 800 lines;
//! the codes it walks by and their kernels are in `codes`.
//!
//! Why not a crate: hnsw_rs built 100k x 256 at 0.41x hnswlib's speed (an `Arc` and a lock per
//! point, a `HashMap` visited set) and its search had to be replaced already; usearch compiles for
//! 12.5 min cold (BENCHMARKS.md "Vector index").

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};

use rayon::prelude::*;

use super::codes::Codes;
use super::memory::{PREFETCH_LINES, huge_pages, prefetch};
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
    /// The rows in 8 bits, which searches walk by when present (then rerank by the floats).
    pub codes: Option<&'a Codes>,
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
        prefetch(self.data, slot as usize * self.dims, PREFETCH_LINES);
    }
}

/// The fewest of a search's candidates reranked by their floats (4 x k when more).
const RERANKED: usize = 64;

/// Distances from one query to slots: through the 8-bit codes when the rows have them (a
/// quarter of the memory read per distance), else the floats.
struct Probe<'a> {
    rows: Rows<'a>,
    query: &'a [f32],
    /// The query scaled by each dimension's code step, and its dot with the code offsets.
    weights: Vec<f32>,
    offset: f32,
}

impl<'a> Probe<'a> {
    fn new(rows: Rows<'a>, query: &'a [f32]) -> Self {
        let (weights, offset) = match rows.codes {
            Some(codes) => codes.weigh(query),
            None => (Vec::new(), 0.0),
        };
        Probe {
            rows,
            query,
            weights,
            offset,
        }
    }

    fn to(&self, slot: u32) -> Far {
        match self.rows.codes {
            Some(codes) => Far(1.0 - self.offset - codes.dot(&self.weights, slot), slot),
            None => Far(self.rows.distance(self.query, slot), slot),
        }
    }

    fn prefetch(&self, slot: u32) {
        match self.rows.codes {
            Some(codes) => codes.prefetch(slot),
            None => self.rows.prefetch(slot),
        }
    }

    /// The nearest `most` of the slots a search found by their codes' distance (nearest
    /// first), nearest first by the floats' distance. Codes misorder near-ties (recall@10 0.94
    /// against 0.99 without a rerank at 30k) but not past a few dozen places: reranking 32 of
    /// ef 1024 found all that reranking all did, for a sixth less time a query.
    fn rerank(&self, mut found: Vec<Far>, most: usize) -> Vec<Far> {
        if self.rows.codes.is_some() {
            found.truncate(most);
            for f in &mut found {
                f.0 = self.rows.distance(self.query, f.1);
            }
            found.sort_unstable();
        }
        found
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

    /// Asks the CPU for a node's layer-0 links, which are read next.
    fn prefetch_links(&self, slot: u32);
}

/// Greedy descent on one upper layer: moves to the nearest neighbour while it is nearer.
fn greedy(adj: &impl Adjacency, probe: &Probe, mut at: Far, layer: usize) -> Far {
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
    probe: &Probe,
    entries: &[Far],
    ef: usize,
    layer: usize,
    visited: &mut Visited,
    keep: Option<&dyn Fn(u32) -> bool>,
) -> Vec<Far> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let kept = |slot: u32| keep.is_none_or(|k| k(slot));
    visited.clear();
    let mut candidates = BinaryHeap::with_capacity(ef * 2);
    let mut best = BinaryHeap::with_capacity(ef + 1);
    for &entry in entries {
        if !visited.first(entry.1) {
            continue;
        }
        candidates.push(Reverse(entry));
        if kept(entry.1) {
            best.push(entry);
            if best.len() > ef {
                best.pop();
            }
        }
    }
    while let Some(Reverse(nearest)) = candidates.pop() {
        let bound = best.peek().map_or(f32::INFINITY, |w: &Far| w.0);
        if nearest.0 > bound && best.len() >= ef {
            break;
        }
        // The next node to expand is most likely the nearest candidate now: its links'
        // cache miss overlaps this node's distances (hnswlib does the same).
        if let Some(Reverse(next)) = candidates.peek() {
            adj.prefetch_links(next.1);
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
        fresh.iter().for_each(|&n| probe.prefetch(n));
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
/// target than to every neighbour already kept, then the nearest of the others up to `most`.
/// In crowded regions this spreads a node's links over directions instead of spending them
/// all on one clump, and still spends all of them.
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
    // Fill the rest with the nearest pruned candidates (the paper's keepPrunedConnections): the
    // queries are short texts unlike any paper, and the heuristic's sparse lists left their
    // nearest papers unreachable from one another (30k, recall@10 at ef 512: 0.964 -> 0.985;
    // at ef_construction 100 the build costs what 200 cost without, for 0.978).
    for &Far(_, slot) in candidates {
        if chosen.len() >= most {
            break;
        }
        if !chosen.contains(&slot) {
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
    fn prefetch_links(&self, slot: u32) {
        prefetch(&self.base, slot as usize * (self.cap0 + 1), 1);
    }

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
        let slots = building.levels.len();
        building.insert(first, &mut Visited::new(slots));
        on_insert();
        rest.par_iter().with_min_len(64).for_each_init(
            || Visited::new(slots),
            |visited, &slot| {
                building.insert(slot, visited);
                on_insert();
            },
        );
        building.link_orphans();
        building.freeze()
    }

    /// Slots near `query` that `keep` accepts (all when `None`), nearest first: the `ef` best
    /// of the walk, of them at least the `k` best (4 x k, at least 64, when the walk went by
    /// the codes and these were reranked by the floats).
    pub(crate) fn search(
        &self,
        rows: Rows,
        query: &[f32],
        ef: usize,
        k: usize,
        keep: Option<&dyn Fn(u32) -> bool>,
    ) -> Vec<Far> {
        let Some(entry) = self.entry else {
            return Vec::new();
        };
        let probe = Probe::new(rows, query);
        let mut at = probe.to(entry);
        for layer in (1..=self.top_level()).rev() {
            at = greedy(self, &probe, at, layer);
        }
        let mut visited = Visited::new(self.len());
        let found = search_layer(self, &probe, &[at], ef, 0, &mut visited, keep);
        probe.rerank(found, k.saturating_mul(4).max(RERANKED))
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
        // A damaged header's count must not reserve memory the file cannot fill.
        if self.0.len() / 4 < count {
            return Err("truncated".into());
        }
        let mut words = huge_pages(count);
        for _ in 0..count {
            words.push(self.next()?);
        }
        Ok(words)
    }
}

/// Nodes' links by layer into the frozen layout. A node's empty top layers are dropped (a slot
/// never inserted, a tombstone's, has its drawn level but no links), except the entry point's.
fn freeze(m: usize, cap0: usize, nodes: Vec<Layers>, entry: Option<u32>) -> Graph {
    let mut levels = Vec::with_capacity(nodes.len());
    let mut base = huge_pages(nodes.len() * (cap0 + 1));
    base.resize(nodes.len() * (cap0 + 1), 0u32);
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

/// Layer 0 while nodes are inserted, laid out as the frozen graph's (`cap0 + 1` words a node:
/// the count, then the links), each node's first word also its lock: the lock, the count and
/// the first links share a cache line, where a `Mutex` per node cost three dependent misses
/// (lock, list of layers, list of links) on every expansion (perf at 30k: ~40% of the build).
struct Layer0 {
    words: Vec<AtomicU32>,
    stride: usize,
}

/// The lock bit of a node's first word (the count never comes near it: `cap0 <= MAX_CAP0`).
const LOCKED: u32 = 1 << 31;

/// One node's layer-0 links, locked until dropped.
struct Locked<'a> {
    record: &'a [AtomicU32],
    count: u32,
}

impl Locked<'_> {
    fn links(&self) -> impl Iterator<Item = u32> + '_ {
        self.record[1..=self.count as usize]
            .iter()
            .map(|w| w.load(Ordering::Relaxed))
    }

    fn set(&mut self, links: &[u32]) {
        for (word, &link) in self.record[1..].iter().zip(links) {
            word.store(link, Ordering::Relaxed);
        }
        self.count = links.len().min(self.record.len() - 1) as u32;
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        self.record[0].store(self.count, Ordering::Release);
    }
}

impl Layer0 {
    fn from_words(words: Vec<u32>, stride: usize) -> Self {
        Layer0 {
            words: {
                let mut atomic = huge_pages(words.len());
                atomic.extend(words.into_iter().map(AtomicU32::new));
                atomic
            },
            stride,
        }
    }

    /// Spins for the node's lock: it is held only while a few dozen links are copied or one
    /// list is thinned, and two build threads seldom want the same node.
    fn lock(&self, slot: u32) -> Locked<'_> {
        let start = slot as usize * self.stride;
        let record = &self.words[start..start + self.stride];
        let mut spins = 0u32;
        loop {
            let word = record[0].load(Ordering::Relaxed);
            if word & LOCKED == 0
                && record[0]
                    .compare_exchange_weak(
                        word,
                        word | LOCKED,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    )
                    .is_ok()
            {
                return Locked {
                    record,
                    count: word,
                };
            }
            spins += 1;
            if spins.is_multiple_of(64) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }

    fn into_words(self) -> Vec<u32> {
        self.words.into_iter().map(AtomicU32::into_inner).collect()
    }
}

/// The graph while nodes are inserted: layer 0 in `Layer0`, the upper layers of each node
/// behind its own lock (one node in M has any), the entry point behind one more.
struct Building<'a> {
    rows: Rows<'a>,
    m: usize,
    cap0: usize,
    ef: usize,
    levels: Vec<u8>,
    base: Layer0,
    /// Layers 1.. of each node (empty for a node on layer 0 only).
    upper: Vec<Mutex<Layers>>,
    /// The entry point and its level.
    top: RwLock<Option<(u32, usize)>>,
}

impl Adjacency for Building<'_> {
    fn prefetch_links(&self, slot: u32) {
        prefetch(&self.base.words, slot as usize * self.base.stride, 1);
    }

    fn each_link(&self, slot: u32, layer: usize, f: impl FnMut(u32)) {
        if layer == 0 {
            self.base.lock(slot).links().for_each(f);
            return;
        }
        let node = self.upper[slot as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(links) = node.get(layer - 1) {
            links.iter().copied().for_each(f);
        }
    }
}

impl<'a> Building<'a> {
    /// Unfreezes `graph`; every slot of `rows` gets a node (new ones their levels, no links).
    fn thaw(graph: Graph, rows: Rows<'a>, ef: usize) -> Self {
        let entry = graph.entry.map(|e| (e, graph.top_level()));
        let known = graph.len() as u32;
        let slots = rows.len().max(graph.len());
        let mut levels = graph.levels;
        levels.extend((known..slots as u32).map(|slot| level_of(slot, graph.m)));
        let mut base = graph.base;
        base.resize(slots * (graph.cap0 + 1), 0);
        let mut upper_of = graph.upper;
        let upper = levels
            .iter()
            .enumerate()
            .map(|(slot, &level)| {
                let mut layers = upper_of.remove(&(slot as u32)).unwrap_or_default();
                layers.resize(usize::from(level), Vec::new());
                Mutex::new(layers)
            })
            .collect();
        Building {
            rows,
            m: graph.m,
            cap0: graph.cap0,
            ef: ef.max(graph.m),
            levels,
            base: Layer0::from_words(base, graph.cap0 + 1),
            upper,
            top: RwLock::new(entry),
        }
    }

    /// Links back every node that no other links to on layer 0 (a search reaches it only as
    /// the entry point: one build in a dozen on 300 papers left one, about one node in 300 at
    /// 30k before lists were filled). Its nearest link takes it in, in place of its own
    /// farthest link that has another way in when its list is full.
    fn link_orphans(&self) {
        let slots = self.levels.len();
        let mut incoming = vec![0u32; slots];
        for slot in 0..slots as u32 {
            for link in self.base.lock(slot).links() {
                incoming[link as usize] += 1;
            }
        }
        let orphans: Vec<u32> = (0..slots as u32)
            .filter(|&s| incoming[s as usize] == 0)
            .collect();
        for orphan in orphans {
            let centre = self.rows.row(orphan);
            let mut hosts: Vec<Far> = (self.base.lock(orphan).links())
                .map(|s| Far(self.rows.distance(centre, s), s))
                .collect();
            hosts.sort_unstable();
            for Far(_, host) in hosts {
                let mut node = self.base.lock(host);
                let mut links: Vec<u32> = node.links().collect();
                if links.len() >= self.cap0 {
                    let far = self.rows.row(host);
                    let spare = (0..links.len())
                        .filter(|&i| incoming[links[i] as usize] > 1)
                        .map(|i| (self.rows.distance(far, links[i]), i))
                        .max_by(|a, b| a.0.total_cmp(&b.0));
                    let Some((_, i)) = spare else { continue };
                    incoming[links[i] as usize] -= 1;
                    links.remove(i);
                }
                links.push(orphan);
                node.set(&links);
                incoming[orphan as usize] += 1;
                break;
            }
        }
    }

    fn freeze(self) -> Graph {
        let entry = self
            .top
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .map(|(e, _)| e);
        let stride = self.cap0 + 1;
        let base = self.base.into_words();
        let nodes = self
            .upper
            .into_iter()
            .enumerate()
            .map(|(slot, upper)| {
                let record = &base[slot * stride..(slot + 1) * stride];
                let zero = record[1..=record[0] as usize].to_vec();
                let upper = upper.into_inner().unwrap_or_else(PoisonError::into_inner);
                std::iter::once(zero).chain(upper).collect()
            })
            .collect();
        freeze(self.m, self.cap0, nodes, entry)
    }

    /// Links `slot` into the graph: descends greedily to its level, then on each layer below
    /// searches a beam of `ef`, keeps the heuristic's `m` and links them back (a full neighbour
    /// list is thinned by the same heuristic). A node above the entry point holds the entry
    /// lock while it inserts (rare: one node in M^level).
    fn insert(&self, slot: u32, visited: &mut Visited) {
        let level = usize::from(self.levels[slot as usize]);
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
        let probe = Probe::new(self.rows, self.rows.row(slot));
        let mut at = probe.to(entry);
        for layer in (level + 1..=top).rev() {
            at = greedy(self, &probe, at, layer);
        }
        for layer in (0..=level.min(top)).rev() {
            let found = search_layer(self, &probe, &[at], self.ef, layer, visited, None);
            let mut found = probe.rerank(found, self.ef);
            found.retain(|f| f.1 != slot);
            let chosen = select(self.rows, &found, self.m);
            self.set_links(slot, layer, &chosen);
            for &neighbour in &chosen {
                self.link(neighbour, slot, layer);
            }
            // The rerank gave float distances; the next layer's walk compares by codes.
            at = found.first().map_or(at, |f| probe.to(f.1));
        }
        if let Some(mut guard) = raising {
            *guard = Some((slot, level));
        }
    }

    fn set_links(&self, slot: u32, layer: usize, links: &[u32]) {
        if layer == 0 {
            self.base.lock(slot).set(links);
            return;
        }
        let mut node = self.upper[slot as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(l) = node.get_mut(layer - 1) {
            *l = links.to_vec();
        }
    }

    /// Adds `to` to `from`'s links on `layer`; a full list keeps the heuristic's choice of its
    /// links and `to`.
    fn link(&self, from: u32, to: u32, layer: usize) {
        if layer == 0 {
            let mut node = self.base.lock(from);
            let mut links: Vec<u32> = node.links().collect();
            if self.add_link(from, &mut links, to, self.cap0) {
                node.set(&links);
            }
            return;
        }
        let mut node = self.upper[from as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(links) = node.get_mut(layer - 1) {
            self.add_link(from, links, to, self.m);
        }
    }

    /// `links` of `from` with `to` added, thinned back to `cap` by the heuristic when full;
    /// false when `to` was there already.
    fn add_link(&self, from: u32, links: &mut Vec<u32>, to: u32, cap: usize) -> bool {
        if links.contains(&to) {
            return false;
        }
        if links.len() < cap {
            links.push(to);
            return true;
        }
        let centre = self.rows.row(from);
        let mut candidates: Vec<Far> = links
            .iter()
            .chain([&to])
            .map(|&s| Far(self.rows.distance(centre, s), s))
            .collect();
        candidates.sort_unstable();
        *links = select(self.rows, &candidates, cap);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vectors::codes::tests::{clumped, scattered};

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
            let found = graph.search(rows, query, ef, 10, None);
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
    fn a_built_graph_finds_the_exact_neighbours_by_floats_and_by_codes() {
        let data = clumped(3000, 24);
        let spread = scattered(3000, 24);
        let codes = Codes::fit(&spread, 24).expect("scattered rows are resolved");
        for (data, codes) in [(&data, None), (&spread, None), (&spread, Some(&codes))] {
            let rows = Rows {
                data,
                dims: 24,
                codes,
            };
            let all: Vec<u32> = (0..3000).collect();
            let graph = Graph::build(rows, &all, 8, 100, &|| {});
            let r = recall(&graph, rows, 0..100, 64);
            assert!(r >= 0.95, "recall@10 {r} (codes: {})", codes.is_some());
        }
    }

    /// Every node with links is some other node's link on layer 0, for graphs of several sizes
    /// and link counts (before the repair, one build in a dozen on 300 papers left one out).
    #[test]
    fn every_linked_node_has_a_way_in() {
        for (n, m) in [(300, 16), (2000, 4), (3000, 8)] {
            let data = clumped(n, 16);
            let rows = Rows {
                data: &data,
                dims: 16,
                codes: None,
            };
            let all: Vec<u32> = (0..n as u32).collect();
            let graph = Graph::build(rows, &all, m, 64, &|| {});
            let mut incoming = vec![0; n];
            for slot in 0..n as u32 {
                graph
                    .base_links(slot)
                    .iter()
                    .for_each(|&l| incoming[l as usize] += 1);
            }
            let orphans = (0..n as u32)
                .filter(|&s| incoming[s as usize] == 0 && !graph.base_links(s).is_empty())
                .count();
            assert_eq!(orphans, 0, "{n} nodes, m {m}");
        }
    }

    #[test]
    fn an_extended_graph_is_as_good_and_bytes_round_trip() {
        let data = clumped(3000, 24);
        let rows = Rows {
            data: &data,
            dims: 24,
            codes: None,
        };
        let first: Vec<u32> = (0..2500).collect();
        let part = Rows {
            data: &data[..2500 * 24],
            dims: 24,
            codes: None,
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
            codes: None,
        };
        let all: Vec<u32> = (0..2000).collect();
        let graph = Graph::build(rows, &all, 8, 64, &|| {});
        let odd = |s: u32| s % 2 == 1;
        let found = graph.search(rows, rows.row(4), 32, 32, Some(&odd));
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
            codes: None,
        };
        let all: Vec<u32> = (0..200).collect();
        let bytes = Graph::build(rows, &all, 4, 32, &|| {}).to_bytes();
        runner()
            .run(&mutation(), |damage| {
                if let Ok(graph) = Graph::from_bytes(&apply(&bytes, &damage), 200) {
                    let _ = graph.search(rows, rows.row(7), 16, 10, None);
                }
                Ok(())
            })
            .expect("no damage panics the graph reader");
    }
}
