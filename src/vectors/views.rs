//! What a query in each script sees of a paper. A paper's vector (for related papers, topics
//! and the map) is the mean direction of its English and Chinese sides; a query is closer in
//! meaning to the side in its own language, so a paper embedded side by side also keeps one
//! *view* per query script: the mean of that side's vector and the paper's vector. A Latin-script
//! query then scores `(cos(q, English side) + cos(q, paper)) / 2`, a query with Han characters
//! the same with the Chinese side. Measured (examples/recipe.rs, BENCHMARKS.md): vector-only
//! nDCG@10 0.587 -> 0.646 (tuned), 0.580 -> 0.628 (held-out), 0.148 -> 0.151 (paraphrase); the
//! side alone does better on ordinary queries but worse on Chinese paraphrases.
//!
//! The views are rescored candidates, not an index of their own: the paper vectors' nearest
//! (search's fusion depth, 100) give the same top 10 as an exact search of the views did on
//! every judged query.

use std::path::Path;

use half::f16;

use crate::embed::dot;
use crate::error::{Error, Result};
use crate::paper::PaperNumber;

/// The file of a generation's vector directory that holds the views.
pub const VIEWS_FILE: &str = "views.f16";
const MAGIC: &[u8; 8] = b"PSVIEWS1";
const HEADER: usize = 16;

/// The script a query is written in, as far as choosing a view goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// No Han character (English, or any Latin-script text).
    Latin,
    /// At least one Han character (Chinese, possibly with English terms in it).
    Han,
}

impl Script {
    /// Both scripts, Latin first.
    pub const ALL: [Script; 2] = [Script::Latin, Script::Han];

    /// The name of this script's view where it is exported (a field of papers.jsonl, a named
    /// vector of a Qdrant point, a vector field of Milvus and OpenSearch).
    pub fn field(self) -> &'static str {
        match self {
            Script::Latin => "vector_latin",
            Script::Han => "vector_han",
        }
    }

    /// The script of `query`: a single Han character makes it Chinese, since Chinese queries
    /// often carry English terms ("LoRA 微调") and the Chinese side has them too.
    pub fn of(query: &str) -> Script {
        if query.chars().any(crate::text::is_han) {
            Script::Han
        } else {
            Script::Latin
        }
    }
}

/// Every paper's two views, by paper number, f16 (a query's rescoring reads ~100 of them).
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptViews {
    dims: usize,
    latin: Vec<f16>,
    han: Vec<f16>,
}

impl ScriptViews {
    /// No views yet, for vectors of `dims` dimensions.
    pub fn new(dims: usize) -> Self {
        ScriptViews {
            dims,
            latin: Vec::new(),
            han: Vec::new(),
        }
    }

    /// The Latin and Han views of a paper with side vectors `english`, `chinese` and vector
    /// `paper` (all unit vectors): each the mean of a side and the paper's vector.
    pub fn views_of(english: &[f32], chinese: &[f32], paper: &[f32]) -> [Vec<f32>; 2] {
        let half_sum = |side: &[f32]| side.iter().zip(paper).map(|(s, p)| (s + p) / 2.0).collect();
        [half_sum(english), half_sum(chinese)]
    }

    /// Sets the views of `paper` (`[latin, han]`), growing the table with zero views as needed.
    pub fn set(&mut self, paper: PaperNumber, views: &[Vec<f32>; 2]) {
        let start = paper.index() * self.dims;
        let end = start + self.dims;
        for (table, view) in [&mut self.latin, &mut self.han].into_iter().zip(views) {
            if table.len() < end {
                table.resize(end, f16::ZERO);
            }
            for (slot, &x) in table[start..end].iter_mut().zip(view) {
                *slot = f16::from_f32(x);
            }
        }
    }

    /// Grows the table to `papers` papers with zero views (papers whose vectors are not made
    /// yet: nothing finds them by meaning, so their views are never read).
    pub fn pad_to(&mut self, papers: usize) {
        let end = papers * self.dims;
        for table in [&mut self.latin, &mut self.han] {
            if table.len() < end {
                table.resize(end, f16::ZERO);
            }
        }
    }

    /// Papers with views.
    pub fn len(&self) -> usize {
        self.latin.len() / self.dims.max(1)
    }

    /// Whether no paper has views.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Dimensions of each view.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The view of `paper` for queries in `script` (not a unit vector: score it by inner
    /// product).
    pub fn view(&self, script: Script, paper: PaperNumber) -> Option<Vec<f32>> {
        let table = match script {
            Script::Latin => &self.latin,
            Script::Han => &self.han,
        };
        let start = paper.index().checked_mul(self.dims)?;
        let view = table.get(start..start.checked_add(self.dims)?)?;
        Some(view.iter().map(|x| x.to_f32()).collect())
    }

    /// How close `paper` is to `query` (a unit vector in `script`): the mean of two cosines.
    pub fn score(&self, query: &[f32], script: Script, paper: PaperNumber) -> Option<f32> {
        Some(dot(query, &self.view(script, paper)?))
    }

    /// `candidates` scored by their views instead, best first; a candidate without views keeps
    /// its score.
    pub fn rescore(
        &self,
        query: &[f32],
        script: Script,
        candidates: &[(PaperNumber, f32)],
    ) -> Vec<(PaperNumber, f32)> {
        let mut scored: Vec<(PaperNumber, f32)> = candidates
            .iter()
            .map(|&(paper, score)| (paper, self.score(query, script, paper).unwrap_or(score)))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored
    }

    /// The file's bytes: magic, dims and papers (u32 LE), the Latin views, the Han views.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(HEADER + 4 * self.latin.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(self.dims as u32).to_le_bytes());
        bytes.extend_from_slice(&(self.len() as u32).to_le_bytes());
        for x in self.latin.iter().chain(&self.han) {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
        bytes
    }

    /// Reads the views written by [`ScriptViews::to_bytes`] from `path`'s `bytes`; a damaged
    /// file is an error naming it and what is wrong.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let damaged = |reason: String| Error::IndexCorrupt {
            path: path.to_path_buf(),
            reason,
        };
        if bytes.len() < HEADER || &bytes[..8] != MAGIC {
            return Err(damaged("is not a paperscope views file".into()));
        }
        let word = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let (dims, papers) = (word(8) as usize, word(12) as usize);
        let values = dims.checked_mul(papers).and_then(|n| n.checked_mul(2));
        if values.and_then(|n| n.checked_mul(2)) != Some(bytes.len() - HEADER) {
            return Err(damaged(format!(
                "is {} bytes, not the {papers} papers x {dims} dims x 2 views its header says",
                bytes.len()
            )));
        }
        let mut numbers = bytes[HEADER..]
            .chunks_exact(2)
            .map(|pair| f16::from_le_bytes([pair[0], pair[1]]));
        let latin: Vec<f16> = numbers.by_ref().take(dims * papers).collect();
        let han: Vec<f16> = numbers.collect();
        if latin.iter().chain(&han).any(|x| !x.is_finite()) {
            return Err(damaged("holds a value that is not a finite number".into()));
        }
        Ok(ScriptViews { dims, latin, han })
    }

    /// Writes the views into `dir` (a generation's vector directory), atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        crate::atomic::write_atomically(&dir.join(VIEWS_FILE), &self.to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: usize, dims: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..dims)
            .map(|i| ((seed * 31 + i * 7) % 13) as f32 - 6.0)
            .collect();
        crate::embed::normalize(&mut v);
        v
    }

    fn sample(papers: usize, dims: usize) -> ScriptViews {
        let mut views = ScriptViews::new(dims);
        for p in 0..papers {
            let (en, zh) = (unit(p, dims), unit(p + 100, dims));
            let paper = crate::embed::mean_direction(&[&en, &zh]);
            views.set(
                PaperNumber::from_index(p),
                &ScriptViews::views_of(&en, &zh, &paper),
            );
        }
        views
    }

    #[test]
    fn a_query_is_scored_against_its_own_script_side_and_the_paper() {
        let dims = 16;
        let (en, zh) = (unit(3, dims), unit(7, dims));
        let paper = crate::embed::mean_direction(&[&en, &zh]);
        let mut views = ScriptViews::new(dims);
        views.set(
            PaperNumber::from_index(2),
            &ScriptViews::views_of(&en, &zh, &paper),
        );
        let q = unit(11, dims);
        let want_latin = (dot(&q, &en) + dot(&q, &paper)) / 2.0;
        let want_han = (dot(&q, &zh) + dot(&q, &paper)) / 2.0;
        let number = PaperNumber::from_index(2);
        let got_latin = views.score(&q, Script::Latin, number).expect("has views");
        let got_han = views.score(&q, Script::Han, number).expect("has views");
        assert!(
            (got_latin - want_latin).abs() < 2e-3,
            "{got_latin} {want_latin}"
        );
        assert!((got_han - want_han).abs() < 2e-3, "{got_han} {want_han}");
        assert_eq!(views.len(), 3);
        assert_eq!(
            views.score(&q, Script::Latin, PaperNumber::from_index(3)),
            None
        );
    }

    #[test]
    fn the_script_is_han_once_a_han_character_appears() {
        assert_eq!(Script::of("hallucination benchmark"), Script::Latin);
        assert_eq!(Script::of("LoRA 微调"), Script::Han);
        assert_eq!(Script::of("幻觉"), Script::Han);
        assert_eq!(Script::of(""), Script::Latin);
    }

    #[test]
    fn rescoring_orders_candidates_by_their_views() {
        let views = sample(20, 8);
        let q = unit(5, 8);
        let candidates: Vec<(PaperNumber, f32)> =
            (0..20).map(|i| (PaperNumber::from_index(i), 0.0)).collect();
        let rescored = views.rescore(&q, Script::Han, &candidates);
        assert_eq!(rescored.len(), 20);
        assert!(rescored.windows(2).all(|w| w[0].1 >= w[1].1));
        let best = rescored[0];
        assert_eq!(views.score(&q, Script::Han, best.0), Some(best.1));
    }

    #[test]
    fn bytes_round_trip_and_damage_is_named() {
        let views = sample(5, 8);
        let bytes = views.to_bytes();
        let path = Path::new("gen/vectors/views.f16");
        assert_eq!(ScriptViews::from_bytes(&bytes, path).expect("reads"), views);
        let cases: [(&[u8], &str); 3] = [
            (&bytes[..bytes.len() - 1], "bytes, not the 5 papers"),
            (&bytes[..10], "not a paperscope views file"),
            (b"something else entirely", "not a paperscope views file"),
        ];
        for (damaged, says) in cases {
            let error = ScriptViews::from_bytes(damaged, path).expect_err("damaged");
            let message = error.to_string();
            assert!(message.contains(says), "{message}");
            assert!(message.contains("views.f16"), "{message}");
        }
        let mut nan = bytes.clone();
        let at = HEADER + 2;
        nan[at..at + 2].copy_from_slice(&f16::NAN.to_le_bytes());
        assert!(ScriptViews::from_bytes(&nan, path).is_err());
    }
}
