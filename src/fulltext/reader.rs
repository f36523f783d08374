//! The read side: a committed generation's Tantivy index opened on a read-only directory, and its
//! queries (BM25, more-like-this, filters, papers by id or number).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, Occur, PhraseQuery, Query, RangeQuery,
    TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{DocAddress, Index, IndexReader, ReloadPolicy, Searcher, TantivyDocument, Term};

use super::errors::{index_of, short_reason, tantivy_error};
use super::schema::{Fields, schema};
use crate::analyze;
use crate::error::{Error, Result};
use crate::paper::strip_version;
use crate::paper::{Paper, PaperNumber};
use crate::query::{Filters, SearchQuery};

/// Files of the Tantivy index in `dir` whose own checksums (in each file's footer) do not
/// match their content.
pub(crate) fn damaged_files(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let index = open_index(dir)?;
    let mut damaged: Vec<_> = index
        .validate_checksum()
        .map_err(|e| tantivy_error(dir, e))?
        .into_iter()
        .map(|p| dir.join(p))
        .collect();
    damaged.sort();
    Ok(damaged)
}

pub(super) fn open_index(dir: &Path) -> Result<Index> {
    let directory = ReadOnlyDirectory::open(dir)?;
    Index::open(directory).map_err(|e| tantivy_error(dir, e))
}

/// A committed generation's Tantivy directory, opened for reading only: its files never change
/// once committed, so Tantivy's meta lock (a file it would create, and which fails on a
/// read-only index) is not needed; every write is refused.
#[derive(Debug, Clone)]
struct ReadOnlyDirectory {
    inner: tantivy::directory::MmapDirectory,
}

impl ReadOnlyDirectory {
    fn open(dir: &Path) -> Result<Self> {
        let inner = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| Error::damaged(index_of(dir), dir, short_reason(&e.to_string())))?;
        Ok(ReadOnlyDirectory { inner })
    }

    fn refused() -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "a committed generation is read-only",
        )
    }
}

impl tantivy::Directory for ReadOnlyDirectory {
    fn get_file_handle(
        &self,
        path: &Path,
    ) -> std::result::Result<
        std::sync::Arc<dyn tantivy::directory::FileHandle>,
        tantivy::directory::error::OpenReadError,
    > {
        self.inner.get_file_handle(path)
    }

    fn delete(
        &self,
        path: &Path,
    ) -> std::result::Result<(), tantivy::directory::error::DeleteError> {
        Err(tantivy::directory::error::DeleteError::IoError {
            io_error: std::sync::Arc::new(Self::refused()),
            filepath: path.to_path_buf(),
        })
    }

    fn exists(
        &self,
        path: &Path,
    ) -> std::result::Result<bool, tantivy::directory::error::OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(
        &self,
        path: &Path,
    ) -> std::result::Result<tantivy::directory::WritePtr, tantivy::directory::error::OpenWriteError>
    {
        Err(tantivy::directory::error::OpenWriteError::wrap_io_error(
            Self::refused(),
            path.to_path_buf(),
        ))
    }

    fn atomic_read(
        &self,
        path: &Path,
    ) -> std::result::Result<Vec<u8>, tantivy::directory::error::OpenReadError> {
        self.inner.atomic_read(path)
    }

    fn atomic_write(&self, _: &Path, _: &[u8]) -> std::io::Result<()> {
        Err(Self::refused())
    }

    fn sync_directory(&self) -> std::io::Result<()> {
        Ok(())
    }

    fn acquire_lock(
        &self,
        _: &tantivy::directory::Lock,
    ) -> std::result::Result<tantivy::directory::DirectoryLock, tantivy::directory::error::LockError>
    {
        Ok(tantivy::directory::DirectoryLock::from(Box::new(())))
    }

    fn watch(
        &self,
        _: tantivy::directory::WatchCallback,
    ) -> tantivy::Result<tantivy::directory::WatchHandle> {
        Ok(tantivy::directory::WatchHandle::empty())
    }
}

/// One ranked result of the full-text side.
/// One BM25 hit.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The paper.
    pub number: PaperNumber,
    /// Its BM25 score.
    pub score: f32,
    /// Where Tantivy keeps it (to load the stored paper without a lookup).
    pub address: DocAddress,
}

/// A generation's Tantivy index, opened for reading.
pub struct TextIndex {
    dir: std::path::PathBuf,
    reader: IndexReader,
    pub(super) fields: Fields,
    pub(super) english: TextAnalyzer,
    pub(super) chinese: TextAnalyzer,
    pub(super) mixed: TextAnalyzer,
}

impl TextIndex {
    /// Opens the Tantivy index in `dir` for reading (it takes no lock and writes nothing, so a
    /// read-only index opens too).
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        let index = open_index(dir)?;
        analyze::register(&index);
        let (_, fields) = schema();
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| tantivy_error(dir, e))?;
        Ok(TextIndex {
            dir: dir.to_path_buf(),
            reader,
            fields,
            english: analyze::english_analyzer(),
            chinese: analyze::chinese_analyzer(),
            mixed: analyze::mixed_analyzer(),
        })
    }

    /// Documents in the index (one per paper).
    pub(crate) fn num_docs(&self) -> usize {
        usize::try_from(self.reader.searcher().num_docs()).unwrap_or(usize::MAX)
    }

    pub(crate) fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    /// BM25 over the combined field; returns the top `limit` hits and the number of matches.
    pub(crate) fn search(
        &self,
        query: &SearchQuery,
        filters: &Filters,
        limit: usize,
    ) -> Result<(Vec<Hit>, usize)> {
        let tantivy_query = self.to_tantivy(query, filters);
        let searcher = self.searcher();
        let (top, total) = searcher.search(
            &tantivy_query,
            &(TopDocs::with_limit(limit.max(1)).order_by_score(), Count),
        )?;
        let hits = top
            .into_iter()
            .map(|(score, address)| {
                Ok(Hit {
                    number: self.number_of(&searcher, address)?,
                    score,
                    address,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((hits, total))
    }

    pub(super) fn number_of(
        &self,
        searcher: &Searcher,
        address: DocAddress,
    ) -> Result<PaperNumber> {
        let column = searcher
            .segment_reader(address.segment_ord)
            .fast_fields()
            .u64("number")?;
        let number = column
            .first(address.doc_id)
            .ok_or_else(|| self.corrupt(format!("document {address:?} has no paper number")))?;
        Ok(PaperNumber(number as u32))
    }

    fn to_tantivy(&self, query: &SearchQuery, filters: &Filters) -> BooleanQuery {
        let all = self.fields.all;
        let mut mixed = self.mixed.clone();
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let words: Vec<(Occur, Box<dyn Query>)> = analyze::query_terms(&mut mixed, &query.text)
            .into_iter()
            .map(|t| (Occur::Should, term_query(all, &t)))
            .collect();
        if !words.is_empty() {
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(words))));
        }
        clauses.extend(self.phrase_clauses(query));
        if let Some(filter) = self.filter_query(filters) {
            clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(filter, 0.0))));
        }
        BooleanQuery::new(clauses)
    }

    /// The more-like-this query of `texts`: their most distinctive terms (term frequency x idf,
    /// in 2..=max(N/5, 2) papers, at least two bytes long), each boosted by its score relative to
    /// the best. This is what tantivy's `MoreLikeThisQuery` does, with one difference: terms of
    /// equal score are taken in term order, where tantivy takes them in HashMap order, which
    /// made `related` answer differently from run to run.
    fn distinctive_terms(&self, searcher: &Searcher, texts: &[String]) -> Result<BooleanQuery> {
        // tantivy kept one more than its `max_query_terms` (40); related precision was measured
        // with 41, so 41 it stays.
        const TERMS: usize = 41;
        let mut mixed = self.mixed.clone();
        let mut frequency: BTreeMap<String, usize> = BTreeMap::new();
        for text in texts {
            for term in analyze::terms(&mut mixed, text) {
                // Two bytes, as tantivy counted: a single Han character (three bytes) counts.
                if term.len() >= 2 {
                    *frequency.entry(term).or_default() += 1;
                }
            }
        }
        let papers = searcher.num_docs();
        let max_df = (papers / 5).max(2);
        let mut scored: Vec<(f32, String)> = Vec::new();
        for (term, tf) in frequency {
            let df = searcher.doc_freq(&Term::from_field_text(self.fields.all, &term))?;
            if (2..=max_df).contains(&df) {
                let idf = (1.0 + (papers as f32 - df as f32 + 0.5) / (df as f32 + 0.5)).ln();
                scored.push((tf as f32 * idf, term));
            }
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        scored.truncate(TERMS);
        let best = scored.first().map_or(1.0, |&(score, _)| score);
        let clauses = scored
            .into_iter()
            .map(|(score, term)| {
                let query = TermQuery::new(
                    Term::from_field_text(self.fields.all, &term),
                    IndexRecordOption::Basic,
                );
                let boosted: Box<dyn Query> =
                    Box::new(BoostQuery::new(Box::new(query), score / best));
                (Occur::Should, boosted)
            })
            .collect();
        Ok(BooleanQuery::new(clauses))
    }

    /// BM25 more-like-this: papers sharing the distinctive terms of `texts` (see
    /// [`Self::distinctive_terms`]), within the filters, without `exclude`.
    pub(crate) fn more_like_this(
        &self,
        texts: &[String],
        filters: &Filters,
        exclude: &[PaperNumber],
        limit: usize,
    ) -> Result<Vec<Hit>> {
        let searcher = self.searcher();
        let mlt = self.distinctive_terms(&searcher, texts)?;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(mlt))];
        if let Some(filter) = self.filter_query(filters) {
            clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(filter, 0.0))));
        }
        for &number in exclude {
            let term = Term::from_field_u64(self.fields.number, u64::from(number));
            clauses.push((
                Occur::MustNot,
                Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
            ));
        }
        let top = searcher.search(
            &BooleanQuery::new(clauses),
            &TopDocs::with_limit(limit.max(1)).order_by_score(),
        )?;
        top.into_iter()
            .map(|(score, address)| {
                Ok(Hit {
                    number: self.number_of(&searcher, address)?,
                    score,
                    address,
                })
            })
            .collect()
    }

    /// Papers (by number) that pass the filters and the query's phrases and exclusions: what a
    /// meaning-based side may return. `None` when nothing restricts.
    pub(crate) fn allowed(
        &self,
        query: &SearchQuery,
        filters: &Filters,
    ) -> Result<Option<Vec<bool>>> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(AllQuery))];
        clauses.extend(self.phrase_clauses(query));
        if let Some(filter) = self.filter_query(filters) {
            clauses.push((Occur::Must, filter));
        }
        if clauses.len() == 1 {
            return Ok(None);
        }
        let searcher = self.searcher();
        let docs = searcher.search(&BooleanQuery::new(clauses), &DocSetCollector)?;
        let mut allowed = vec![false; searcher.num_docs() as usize];
        for address in docs {
            let number = self.number_of(&searcher, address)?;
            if let Some(slot) = allowed.get_mut(number.index()) {
                *slot = true;
            }
        }
        Ok(Some(allowed))
    }

    /// The paper number of an arXiv id (with or without version).
    pub(crate) fn number_by_id(&self, arxiv_id: &str) -> Result<PaperNumber> {
        let searcher = self.searcher();
        let query = TermQuery::new(
            Term::from_field_text(self.fields.arxiv_id, strip_version(arxiv_id)),
            IndexRecordOption::Basic,
        );
        let top = searcher.search(&query, &TopDocs::with_limit(1).order_by_score())?;
        let (_, address) = top.first().copied().ok_or_else(|| Error::UnknownId {
            id: arxiv_id.to_string(),
        })?;
        self.number_of(&searcher, address)
    }

    pub(crate) fn paper_by_number(&self, number: PaperNumber) -> Result<Paper> {
        let searcher = self.searcher();
        let query = TermQuery::new(
            Term::from_field_u64(self.fields.number, u64::from(number)),
            IndexRecordOption::Basic,
        );
        let top = searcher.search(&query, &TopDocs::with_limit(1).order_by_score())?;
        let (_, address) = top
            .first()
            .copied()
            .ok_or_else(|| self.corrupt(format!("no paper number {number}")))?;
        self.paper_at(&searcher, address)
    }

    /// Quoted phrases (required) and excluded words or phrases (forbidden) over the combined field.
    fn phrase_clauses(&self, query: &SearchQuery) -> Vec<(Occur, Box<dyn Query>)> {
        let mut mixed = self.mixed.clone();
        let mut clauses = Vec::new();
        for (occur, texts) in [
            (Occur::Must, &query.phrases),
            (Occur::MustNot, &query.excluded),
        ] {
            for text in texts {
                if let Some(q) = phrase_query(self.fields.all, &analyze::terms(&mut mixed, text)) {
                    clauses.push((occur, q));
                }
            }
        }
        clauses
    }

    /// The filters alone, as a query matching every allowed paper (None when nothing is filtered).
    pub(crate) fn filter_query(&self, filters: &Filters) -> Option<Box<dyn Query>> {
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if !filters.categories.is_empty() {
            let any: Vec<(Occur, Box<dyn Query>)> = filters
                .categories
                .iter()
                .map(|c| {
                    let q: Box<dyn Query> = Box::new(TermQuery::new(
                        Term::from_field_text(self.fields.category, c),
                        IndexRecordOption::Basic,
                    ));
                    (Occur::Should, q)
                })
                .collect();
            must.push((Occur::Must, Box::new(BooleanQuery::new(any))));
        }
        if filters.since.is_some() || filters.until.is_some() {
            let bound = |m: Option<u32>| match m {
                Some(m) => Bound::Included(Term::from_field_u64(self.fields.month, u64::from(m))),
                None => Bound::Unbounded,
            };
            let range = RangeQuery::new(bound(filters.since), bound(filters.until));
            must.push((Occur::Must, Box::new(range)));
        }
        (!must.is_empty()).then(|| Box::new(BooleanQuery::new(must)) as Box<dyn Query>)
    }

    /// Categories of `filters` that no indexed paper has (a typo gives an error, not an empty
    /// answer that looks like "nothing matches").
    pub(crate) fn unknown_categories(&self, filters: &Filters) -> Result<Vec<String>> {
        let searcher = self.searcher();
        let mut unknown = Vec::new();
        for category in &filters.categories {
            let term = Term::from_field_text(self.fields.category, category);
            if searcher.doc_freq(&term)? == 0 {
                unknown.push(category.clone());
            }
        }
        Ok(unknown)
    }

    pub(crate) fn paper_at(&self, searcher: &Searcher, address: DocAddress) -> Result<Paper> {
        let store = || {
            let segment = searcher.segment_reader(address.segment_ord).segment_id();
            self.dir.join(format!("{}.store", segment.uuid_string()))
        };
        let damaged = |reason: String| Error::damaged(index_of(&self.dir), store(), reason);
        let doc: TantivyDocument = searcher
            .doc(address)
            .map_err(|e| damaged(short_reason(&e.to_string())))?;
        let json = doc
            .get_first(self.fields.paper)
            .and_then(|v| v.as_str())
            .ok_or_else(|| damaged(format!("document {address:?} has no stored paper")))?;
        serde_json::from_str(json).map_err(|e| damaged(format!("stored paper is unreadable ({e})")))
    }

    fn corrupt(&self, reason: String) -> Error {
        Error::damaged(index_of(&self.dir), &self.dir, reason)
    }

    /// The paper with this arXiv id (a version suffix is ignored), if indexed.
    pub fn paper_by_id(&self, arxiv_id: &str) -> Result<Option<Paper>> {
        let id = strip_version(arxiv_id);
        let searcher = self.searcher();
        let query = TermQuery::new(
            Term::from_field_text(self.fields.arxiv_id, id),
            IndexRecordOption::Basic,
        );
        let top = searcher.search(&query, &TopDocs::with_limit(1).order_by_score())?;
        top.first()
            .map(|&(_, address)| self.paper_at(&searcher, address))
            .transpose()
    }

    /// Every paper, in paper-number order.
    pub(crate) fn all_papers(&self) -> Result<Vec<Paper>> {
        let searcher = self.searcher();
        let mut numbered = Vec::new();
        for (segment_ord, segment) in searcher.segment_readers().iter().enumerate() {
            for doc_id in segment.doc_ids_alive() {
                let address = DocAddress::new(segment_ord as u32, doc_id);
                numbered.push((
                    self.number_of(&searcher, address)?,
                    self.paper_at(&searcher, address)?,
                ));
            }
        }
        numbered.sort_by_key(|(n, _)| *n);
        Ok(numbered.into_iter().map(|(_, p)| p).collect())
    }
}

fn term_query(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::WithFreqs,
    ))
}

fn phrase_query(field: Field, terms: &[String]) -> Option<Box<dyn Query>> {
    match terms {
        [] => None,
        [one] => Some(term_query(field, one)),
        many => Some(Box::new(PhraseQuery::new(
            many.iter()
                .map(|t| Term::from_field_text(field, t))
                .collect(),
        ))),
    }
}
