//! Snippets: the fragment of an abstract that best shows why a paper matched, with the matched
//! words' byte ranges.

use std::collections::BTreeMap;

use tantivy::schema::Field;
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Searcher, Term};

use super::reader::TextIndex;
use crate::analyze;
use crate::paper::Paper;
use crate::query::SearchQuery;
use crate::text::{is_cjk, truncate_chars};

/// A snippet: a fragment of an abstract and the byte ranges in it that matched the query.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Snippet {
    /// The fragment.
    pub text: String,
    /// Byte ranges of `text` that matched.
    pub highlights: Vec<(usize, usize)>,
}

pub(crate) struct Snippets {
    english: SnippetGenerator,
    /// None for a query without Chinese.
    chinese: Option<SnippetGenerator>,
    prefer_chinese: bool,
}

impl Snippets {
    /// The abstract fragment with the most matched terms, the query's language first; the start of
    /// the abstract when nothing matched (a title or summary hit).
    pub fn for_paper(&self, paper: &Paper) -> Snippet {
        let en = self.english.snippet(&paper.abstract_en);
        let zh = self
            .chinese
            .as_ref()
            .map_or_else(tantivy::snippet::Snippet::empty, |chinese| {
                chinese.snippet(&paper.abstract_zh)
            });
        let (first, second) = if self.prefer_chinese {
            (zh, en)
        } else {
            (en, zh)
        };
        let best = if second.highlighted().len() > first.highlighted().len() {
            second
        } else {
            first
        };
        if best.highlighted().is_empty() {
            let fallback = if self.prefer_chinese && !paper.abstract_zh.is_empty() {
                &paper.abstract_zh
            } else {
                &paper.abstract_en
            };
            return Snippet {
                text: truncate_chars(fallback, 160),
                highlights: Vec::new(),
            };
        }
        Snippet {
            text: best.fragment().to_string(),
            highlights: best
                .highlighted()
                .iter()
                .map(|r| (r.start, r.end))
                .collect(),
        }
    }
}

impl TextIndex {
    /// Snippet makers for the English and Chinese abstracts, weighted by the query's terms: a
    /// term weighs 1 / (1 + the papers holding it), rarer terms choosing the fragment shown.
    pub(crate) fn snippets(&self, query: &SearchQuery) -> Snippets {
        let searcher = self.searcher();
        // Highlight what ranked, not the question and function words ranking dropped.
        let text = analyze::strip_query_stop_words(&query.positive_text());
        let make = |analyzer: &TextAnalyzer, field: Field, max_bytes: usize| {
            let terms = analyze::terms(&mut analyzer.clone(), &text);
            let weights: BTreeMap<String, f32> = terms
                .into_iter()
                .map(|t| {
                    let df = self.combined_doc_freq(&searcher, &t);
                    (t, 1.0 / (1.0 + df as f32))
                })
                .collect();
            SnippetGenerator::new(weights, analyzer.clone(), field, max_bytes)
        };
        let has_chinese = text.chars().any(is_cjk);
        Snippets {
            english: make(&self.english, self.fields.abstract_en, 220),
            // A query without Han words has no Chinese words to find; cutting each Chinese
            // abstract for its Latin words would also wait on jieba's dictionary, the longest
            // step of a cold English search (BENCHMARKS.md, "Cold CLI search").
            chinese: has_chinese.then(|| make(&self.chinese, self.fields.abstract_zh, 240)),
            prefer_chinese: has_chinese,
        }
    }

    /// The papers whose combined field holds `term`, a term of the English or Chinese analyzer.
    /// The combined field holds the mixed analyzer's terms: the same for English text and for
    /// Han words; a Latin word the Chinese analyzer kept whole (`models`) is counted as the mixed
    /// analyzer makes it (`model`, its rarest term if several).
    fn combined_doc_freq(&self, searcher: &Searcher, term: &str) -> u64 {
        let df = |t: &str| {
            searcher
                .doc_freq(&Term::from_field_text(self.fields.all, t))
                .unwrap_or(0)
        };
        match df(term) {
            0 => analyze::terms(&mut self.mixed.clone(), term)
                .iter()
                .map(|t| df(t))
                .min()
                .unwrap_or(0),
            found => found,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fulltext::build::build;
    use crate::fulltext::build::tests::sample_papers;

    #[test]
    fn snippet_weights_count_papers_by_the_combined_fields_terms() {
        let papers = sample_papers(1500);
        let dir = tempfile::tempdir().expect("temporary directory");
        build(dir.path(), &papers, || {}).expect("builds");
        let index = TextIndex::open(dir.path()).expect("opens");
        let searcher = index.searcher();
        let in_all = |t: &str| {
            searcher
                .doc_freq(&Term::from_field_text(index.fields.all, t))
                .expect("counts")
        };
        let chinese = analyze::terms(&mut index.chinese.clone(), "大模型（LLMs）的幻觉");
        assert!(chinese.contains(&"llms".to_string()), "{chinese:?}");
        assert_eq!(in_all("llms"), 0, "the combined field holds stems");
        assert!(in_all("llm") > 0);
        assert_eq!(index.combined_doc_freq(&searcher, "llms"), in_all("llm"));
        for term in ["幻觉", "hallucin", "model"] {
            assert!(in_all(term) > 0, "{term}");
            assert_eq!(index.combined_doc_freq(&searcher, term), in_all(term));
        }
    }

    #[test]
    fn only_a_query_with_chinese_cuts_the_chinese_abstracts() {
        let papers = sample_papers(300);
        let dir = tempfile::tempdir().expect("temporary directory");
        build(dir.path(), &papers, || {}).expect("builds");
        let index = TextIndex::open(dir.path()).expect("opens");
        let snippets = |q: &str| index.snippets(&SearchQuery::parse(q).expect("query"));
        let english = snippets("text-to-SQL hallucination");
        assert!(english.chinese.is_none() && !english.prefer_chinese);
        let paper = &papers[0];
        let shown = english.for_paper(paper);
        assert!(paper.abstract_en.contains(shown.text.trim_end_matches('…')));
        let chinese = snippets("幻觉 SQL");
        assert!(chinese.chinese.is_some() && chinese.prefer_chinese);
    }
}
