//! Word vectors of whole papers for `related`: one sparse TF-IDF row per paper over the terms the
//! topics are built from (`topics::doc_terms`: English stems and stem bigrams, titles twice,
//! Chinese jieba words), sublinear tf, L2-normalised, with an inverted list per term so the
//! cosine of one paper (or a reading list, or a text) with every paper costs a pass over the
//! postings of its own terms only.
//!
//! Why words at all, beside e5: for one paper's neighbours the paper-to-paper e5 cosine is the
//! weakest signal measured (issue 24: precision@10 0.229 against 0.306 for an English TF-IDF
//! with bigrams); the bigrams carry the specific problem and method ("speculative decoding",
//! "membership inference") that a researcher follows up.

use rustc_hash::FxHashMap;

use super::{DocTerms, doc_terms};
use crate::paper::{Paper, PaperNumber};

/// Which terms make the word vectors, and how they are weighted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WordParams {
    /// Fewest papers a term must be in.
    pub min_df: u32,
    /// Largest share of the papers a term may be in (common words carry no neighbourhood).
    pub max_df: f32,
    /// Whether the Chinese words count (the English side alone is the reference).
    pub chinese: bool,
}

impl Default for WordParams {
    /// Chosen on the tune half of tests/related_judged.tsv with examples/sweep_related.rs.
    fn default() -> Self {
        WordParams {
            min_df: 2,
            max_df: 0.1,
            chinese: true,
        }
    }
}

/// The sparse TF-IDF rows of every paper, by paper number, and their inverted lists.
#[derive(Debug, PartialEq)]
pub struct WordVectors {
    /// The terms and weights these vectors were built with.
    params: WordParams,
    /// Paper index -> (column, weight), columns ascending, L2-normalised.
    rows: Vec<Vec<(u32, f32)>>,
    /// Column -> (paper index, weight).
    postings: Vec<Vec<(u32, f32)>>,
    /// Column -> inverse document frequency.
    idf: Vec<f32>,
    /// Term -> column, for a text's terms.
    column_of: FxHashMap<String, u32>,
    /// Column -> how the term is shown (English in its commonest surface form).
    shown: Vec<String>,
    /// Column -> whether the term is a Chinese word.
    chinese: Vec<bool>,
}

/// The shared terms of two rows that weigh most in their cosine, English and Chinese apart.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SharedTerms {
    /// English terms (stems shown as words, bigrams included), heaviest first.
    pub en: Vec<String>,
    /// Chinese words, heaviest first.
    pub zh: Vec<String>,
}

fn is_chinese(term: &str) -> bool {
    term.chars().next().is_some_and(crate::text::is_cjk)
}

impl WordVectors {
    /// The word vectors of `papers` (in paper-number order).
    pub fn build(papers: &[Paper], params: WordParams) -> WordVectors {
        let (docs, vocabulary) = doc_terms(papers);
        let n = docs.len();
        let mut df = vec![0u32; vocabulary.len()];
        let mut last = vec![u32::MAX; vocabulary.len()];
        for (d, doc) in docs.iter().enumerate() {
            for &t in terms_of(doc, params.chinese) {
                if last[t as usize] != d as u32 {
                    last[t as usize] = d as u32;
                    df[t as usize] += 1;
                }
            }
        }
        let max_df = ((params.max_df * n as f32).floor() as u32).max(params.min_df);
        let kept: Vec<u32> = (0..vocabulary.len() as u32)
            .filter(|&t| (params.min_df..=max_df).contains(&df[t as usize]))
            .collect();
        let mut column = vec![u32::MAX; vocabulary.len()];
        for (c, &t) in kept.iter().enumerate() {
            column[t as usize] = c as u32;
        }
        let idf: Vec<f32> = kept
            .iter()
            .map(|&t| (n as f32 / df[t as usize] as f32).ln() + 1.0)
            .collect();
        let rows: Vec<Vec<(u32, f32)>> = docs
            .iter()
            .map(|d| {
                weighted(
                    terms_of(d, params.chinese).map(|&t| column[t as usize]),
                    &idf,
                )
            })
            .collect();
        let mut postings: Vec<Vec<(u32, f32)>> = vec![Vec::new(); kept.len()];
        for (p, row) in rows.iter().enumerate() {
            for &(c, w) in row {
                postings[c as usize].push((p as u32, w));
            }
        }
        let shown_forms = vocabulary.shown_forms(papers, &kept);
        let shown: Vec<String> = kept
            .iter()
            .map(|&t| shown_forms.of(t).to_string())
            .collect();
        let column_of = kept
            .iter()
            .enumerate()
            .map(|(c, &t)| (vocabulary.term(t).to_string(), c as u32))
            .collect();
        let chinese = kept
            .iter()
            .map(|&t| is_chinese(vocabulary.term(t)))
            .collect();
        WordVectors {
            params,
            rows,
            postings,
            idf,
            column_of,
            shown,
            chinese,
        }
    }

    /// The terms and weights these vectors were built with.
    pub fn params(&self) -> WordParams {
        self.params
    }

    /// Papers held.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no paper is held.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The row of `paper` (empty for a paper past the end).
    pub fn row(&self, paper: PaperNumber) -> &[(u32, f32)] {
        self.rows.get(paper.index()).map_or(&[], Vec::as_slice)
    }

    /// The normalised sum of the rows of `papers`: a reading list as one vector.
    pub fn centroid(&self, papers: &[PaperNumber]) -> Vec<(u32, f32)> {
        let mut sum: FxHashMap<u32, f32> = FxHashMap::default();
        for &p in papers {
            for &(c, w) in self.row(p) {
                *sum.entry(c).or_default() += w;
            }
        }
        let mut row: Vec<(u32, f32)> = sum.into_iter().collect();
        row.sort_unstable_by_key(|&(c, _)| c);
        normalise(&mut row);
        row
    }

    /// The row of a text (an abstract, a paragraph in English or Chinese), weighted as a
    /// paper's row is: its terms unknown to the collection carry nothing.
    pub fn text_row(&self, text: &str) -> Vec<(u32, f32)> {
        let paper = Paper {
            abstract_en: text.to_string(),
            summary_zh: text.to_string(),
            ..Paper::default()
        };
        let one = [paper];
        let (docs, vocabulary) = doc_terms(&one);
        let Some(doc) = docs.first() else {
            return Vec::new();
        };
        let columns = doc.en.iter().chain(&doc.zh).map(|&t| {
            self.column_of
                .get(vocabulary.term(t))
                .copied()
                .unwrap_or(u32::MAX)
        });
        weighted(columns, &self.idf)
    }

    /// The cosine of `query` (a normalised row) with every paper, by paper index.
    pub fn cosines(&self, query: &[(u32, f32)]) -> Vec<f32> {
        let mut scores = vec![0.0f32; self.rows.len()];
        for &(c, w) in query {
            for &(p, pw) in self.postings.get(c as usize).map_or(&[][..], Vec::as_slice) {
                scores[p as usize] += w * pw;
            }
        }
        scores
    }

    /// The terms `query` and `paper` share, heaviest in their cosine first, at most `max` per
    /// language.
    pub fn shared(&self, query: &[(u32, f32)], paper: PaperNumber, max: usize) -> SharedTerms {
        let row = self.row(paper);
        let mut both: Vec<(u32, f32)> = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < query.len() && j < row.len() {
            match query[i].0.cmp(&row[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    both.push((query[i].0, query[i].1 * row[j].1));
                    i += 1;
                    j += 1;
                }
            }
        }
        both.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        // Terms carrying a small share of the cosine are the filler two abstracts happen to
        // share ("remains", "仍然"): a reason names only terms near the heaviest one's weight.
        let heaviest = both.first().map_or(0.0, |&(_, w)| w);
        let mut shared = SharedTerms::default();
        for (c, weight) in both {
            if weight < heaviest * SHARED_SHARE {
                break;
            }
            let (list, term) = if self.chinese[c as usize] {
                (&mut shared.zh, &self.shown[c as usize])
            } else {
                (&mut shared.en, &self.shown[c as usize])
            };
            // A bigram's words are already said by the bigram: "speculative decoding", then
            // not "decoding" again; a bigram after one of its words takes that word's place.
            // "decoding speculative" says nothing "speculative decoding" has not said.
            let same_words = |s: &String| {
                let mut a: Vec<&str> = s.split(' ').collect();
                let mut b: Vec<&str> = term.split(' ').collect();
                a.sort_unstable();
                b.sort_unstable();
                a == b
            };
            if list
                .iter()
                .any(|s: &String| s.split(' ').any(|w| w == term) || same_words(s))
            {
                continue;
            }
            let word_of_term = |s: &str| !s.contains(' ') && term.split(' ').any(|w| w == s);
            if let Some(at) = list.iter().position(|s| word_of_term(s)) {
                list[at] = term.clone();
                let mut i = 0;
                list.retain(|s| {
                    let keep = i == at || !word_of_term(s);
                    i += 1;
                    keep
                });
                continue;
            }
            if list.len() < max {
                list.push(term.clone());
            }
        }
        shared
    }
}

/// The least part of the heaviest shared term's weight in the cosine that a term shown as a
/// reason must carry.
const SHARED_SHARE: f32 = 0.15;

/// The first bytes of a stored word-vector file, with its layout's version.
const MAGIC: &[u8; 8] = b"PSWORDS1";

impl WordVectors {
    /// The vectors as stored in a generation (little-endian): the magic, the parameters, the
    /// paper and column counts, each column's idf, script and term (as matched and as shown),
    /// then each paper's row. The inverted lists are rebuilt on reading.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.params.min_df.to_le_bytes());
        out.extend_from_slice(&self.params.max_df.to_le_bytes());
        out.push(u8::from(self.params.chinese));
        out.extend_from_slice(&(self.rows.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.idf.len() as u32).to_le_bytes());
        let mut terms: Vec<&str> = vec![""; self.idf.len()];
        for (term, &c) in &self.column_of {
            terms[c as usize] = term;
        }
        for (c, term) in terms.iter().enumerate() {
            out.extend_from_slice(&self.idf[c].to_le_bytes());
            out.push(u8::from(self.chinese[c]));
            for text in [*term, self.shown[c].as_str()] {
                out.extend_from_slice(&(text.len() as u32).to_le_bytes());
                out.extend_from_slice(text.as_bytes());
            }
        }
        for row in &self.rows {
            out.extend_from_slice(&(row.len() as u32).to_le_bytes());
            for &(c, w) in row {
                out.extend_from_slice(&c.to_le_bytes());
                out.extend_from_slice(&w.to_le_bytes());
            }
        }
        out
    }

    /// Reads vectors written by [`WordVectors::to_bytes`] for an index of `papers` papers;
    /// the error says what in the bytes is wrong.
    pub fn from_bytes(bytes: &[u8], papers: usize) -> Result<WordVectors, String> {
        let mut input = Reader { bytes, at: 0 };
        if input.take(MAGIC.len())? != MAGIC {
            return Err("not a paperscope word-vector file".into());
        }
        let params = WordParams {
            min_df: input.u32()?,
            max_df: input.f32()?,
            chinese: input.take(1)?[0] != 0,
        };
        let rows_stored = input.u32()? as usize;
        if rows_stored != papers {
            return Err(format!(
                "holds {rows_stored} papers' vectors but the index has {papers} papers"
            ));
        }
        let columns = input.u32()? as usize;
        // Each column takes at least 13 bytes (idf, script, two lengths): a count the bytes
        // cannot hold is damage, not something to allocate for.
        if columns.saturating_mul(13) > bytes.len() - input.at {
            return Err(format!("claims {columns} terms, more than the file holds"));
        }
        let mut vectors = WordVectors {
            params,
            rows: Vec::with_capacity(papers),
            postings: vec![Vec::new(); columns],
            idf: Vec::with_capacity(columns),
            column_of: FxHashMap::default(),
            shown: Vec::with_capacity(columns),
            chinese: Vec::with_capacity(columns),
        };
        for c in 0..columns as u32 {
            vectors.idf.push(input.f32()?);
            vectors.chinese.push(input.take(1)?[0] != 0);
            vectors.column_of.insert(input.text()?, c);
            vectors.shown.push(input.text()?);
        }
        for p in 0..papers as u32 {
            let len = input.u32()? as usize;
            let mut row = Vec::with_capacity(len.min(columns));
            for _ in 0..len {
                let (c, w) = (input.u32()?, input.f32()?);
                let ascending = row.last().is_none_or(|&(before, _)| before < c);
                if c as usize >= columns || !ascending || !w.is_finite() {
                    return Err(format!("the row of paper {p} is not a valid vector"));
                }
                vectors.postings[c as usize].push((p, w));
                row.push((c, w));
            }
            vectors.rows.push(row);
        }
        if input.at != bytes.len() {
            return Err(format!(
                "{} bytes past the last row",
                bytes.len() - input.at
            ));
        }
        Ok(vectors)
    }
}

/// Reads the stored layout, every read checked against the end of the bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| format!("cut short at byte {}", self.at))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn four(&mut self) -> Result<[u8; 4], String> {
        let mut four = [0u8; 4];
        four.copy_from_slice(self.take(4)?);
        Ok(four)
    }

    fn u32(&mut self) -> Result<u32, String> {
        self.four().map(u32::from_le_bytes)
    }

    fn f32(&mut self) -> Result<f32, String> {
        self.four().map(f32::from_le_bytes)
    }

    fn text(&mut self) -> Result<String, String> {
        let at = self.at;
        let len = self.u32()? as usize;
        String::from_utf8(self.take(len)?.to_vec())
            .map_err(|_| format!("a term at byte {at} is not UTF-8"))
    }
}

fn terms_of(doc: &DocTerms, chinese: bool) -> impl Iterator<Item = &u32> {
    let zh: &[u32] = if chinese { &doc.zh } else { &[] };
    doc.en.iter().chain(zh)
}

/// The L2-normalised row of the columns `columns` (`u32::MAX`: not a column), sublinear tf.
fn weighted(columns: impl Iterator<Item = u32>, idf: &[f32]) -> Vec<(u32, f32)> {
    let mut columns: Vec<u32> = columns.filter(|&c| c != u32::MAX).collect();
    columns.sort_unstable();
    let mut row: Vec<(u32, f32)> = columns
        .chunk_by(|a, b| a == b)
        .map(|run| {
            (
                run[0],
                (1.0 + (run.len() as f32).ln()) * idf[run[0] as usize],
            )
        })
        .collect();
    normalise(&mut row);
    row
}

fn normalise(row: &mut [(u32, f32)]) {
    let norm = row.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
    if norm > 0.0 {
        row.iter_mut().for_each(|(_, w)| *w /= norm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paper(title: &str, abstract_en: &str, summary_zh: &str) -> Paper {
        Paper {
            title_en: title.into(),
            abstract_en: abstract_en.into(),
            summary_zh: summary_zh.into(),
            ..Paper::default()
        }
    }

    #[test]
    fn a_paper_is_closest_to_the_one_sharing_its_bigrams() {
        let papers = vec![
            paper(
                "Speculative decoding drafts",
                "speculative decoding with a draft model",
                "推测解码",
            ),
            paper(
                "Speculative decoding trees",
                "speculative decoding with token trees",
                "推测解码",
            ),
            paper(
                "Membership inference",
                "membership inference attacks on language",
                "成员推断",
            ),
            paper(
                "Membership inference audits",
                "membership inference for audits",
                "成员推断",
            ),
        ];
        let vectors = WordVectors::build(
            &papers,
            WordParams {
                min_df: 2,
                max_df: 0.5,
                chinese: true,
            },
        );
        let query = vectors.row(PaperNumber::from_index(0)).to_vec();
        let cosines = vectors.cosines(&query);
        assert!(
            cosines[1] > 0.5 && cosines[2] == 0.0 && cosines[3] == 0.0,
            "{cosines:?}"
        );
        let shared = vectors.shared(&query, PaperNumber::from_index(1), 3);
        assert_eq!(
            shared.en.first().map(String::as_str),
            Some("speculative decoding")
        );
        // jieba cuts 推测解码 into its two words; both are shared.
        assert!(shared.zh.contains(&"解码".to_string()), "{shared:?}");
        let text = vectors.text_row("membership inference");
        assert!(vectors.cosines(&text)[3] > 0.5);
    }

    #[test]
    fn stored_vectors_read_back_the_same_and_damage_is_an_error() {
        let papers: Vec<Paper> = (0..6)
            .map(|i| {
                let topic = ["speculative decoding", "membership inference"][i % 2];
                paper(
                    topic,
                    &format!("{topic} study {i} 推测解码"),
                    "成员推断 研究",
                )
            })
            .collect();
        let params = WordParams {
            min_df: 2,
            max_df: 0.9,
            chinese: true,
        };
        let vectors = WordVectors::build(&papers, params);
        let bytes = vectors.to_bytes();
        assert_eq!(WordVectors::from_bytes(&bytes, 6).as_ref(), Ok(&vectors));
        let fewer = WordVectors::from_bytes(&bytes, 5).unwrap_err();
        assert!(fewer.contains("6 papers"), "{fewer}");
        for cut in [0, 7, 20, bytes.len() - 1] {
            assert!(
                WordVectors::from_bytes(&bytes[..cut], 6).is_err(),
                "cut at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(WordVectors::from_bytes(&longer, 6).is_err());
    }

    #[test]
    fn damaged_bytes_never_panic_the_reader_or_a_query() {
        use crate::fuzzing::{apply, mutation, runner};
        let papers: Vec<Paper> = (0..8)
            .map(|i| {
                paper(
                    "graph retrieval",
                    &format!("graph retrieval {i} 检索"),
                    "图 检索",
                )
            })
            .collect();
        let bytes = WordVectors::build(
            &papers,
            WordParams {
                min_df: 1,
                max_df: 1.0,
                chinese: true,
            },
        )
        .to_bytes();
        runner()
            .run(&mutation(), |damage| {
                if let Ok(words) = WordVectors::from_bytes(&apply(&bytes, &damage), 8) {
                    let row = words.centroid(&[PaperNumber::from_index(3)]);
                    let _ = words.cosines(&row);
                    let _ = words.shared(&row, PaperNumber::from_index(5), 4);
                    let _ = words.text_row("graph retrieval 检索");
                }
                Ok(())
            })
            .expect("no damage panics the word-vector reader");
    }
}
