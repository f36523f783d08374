//! The Tantivy index: schema, building, BM25 queries over the combined bilingual field, filters
//! and snippets.
//!
//! Ranking runs over one field holding all of a paper's text (titles twice), because a sum of
//! per-field BM25 scores lets short fields' length normalisation dominate (measured: nDCG@10 0.64
//! vs 0.835). Phrases, exclusions, more-like-this and the snippets' term weights use that field
//! too: the per-language fields of the schema are left empty (see [`schema`]).

use std::collections::BTreeMap;
use std::ops::{Bound, Range};
use std::path::Path;

use rayon::prelude::*;
use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::indexer::LogMergePolicy;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, Occur, PhraseQuery, Query, RangeQuery,
    TermQuery,
};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term,
};

use crate::analyze::{self, CHINESE, ENGLISH, MIXED};
use crate::error::{Error, Result};
use crate::paper::strip_version;
use crate::paper::{Paper, PaperNumber};
use crate::query::{Filters, SearchQuery, category_terms};
use crate::text::{is_cjk, truncate_chars};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    pub number: Field,
    pub arxiv_id: Field,
    pub abstract_en: Field,
    pub abstract_zh: Field,
    pub all: Field,
    pub category: Field,
    pub month: Field,
    pub paper: Field,
}

fn text_field(tokenizer: &str) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    )
}

/// The schema. `title_en` .. `abstract_zh` hold nothing since nothing queried them (indexing
/// them was ~40% of the stage's CPU); they stay declared so that field numbers, and so indexes
/// written before (where they hold text), keep working with this code and the other way round.
pub(crate) fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let number = b.add_u64_field("number", INDEXED | FAST | STORED);
    let arxiv_id = b.add_text_field("arxiv_id", STRING | STORED);
    for (name, analyzer) in [
        ("title_en", ENGLISH),
        ("title_zh", CHINESE),
        ("summary_zh", CHINESE),
    ] {
        b.add_text_field(name, text_field(analyzer));
    }
    let fields = Fields {
        number,
        arxiv_id,
        abstract_en: b.add_text_field("abstract_en", text_field(ENGLISH)),
        abstract_zh: b.add_text_field("abstract_zh", text_field(CHINESE)),
        all: b.add_text_field("all", text_field(MIXED)),
        category: b.add_text_field("category", STRING),
        month: b.add_u64_field("month", INDEXED | FAST),
        paper: b.add_text_field("paper", STORED),
    };
    (b.build(), fields)
}

/// A Tantivy error about the index in `dir` (a generation's `text/`), as one short line naming
/// the file it is about where Tantivy's message names one (else the directory). Tantivy's
/// messages can hold debug dumps and whole files (`meta.json`): only the first sentence is kept.
fn tantivy_error(dir: &Path, e: tantivy::TantivyError) -> Error {
    let message = e.to_string();
    let file = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| message.contains(name.as_str()))
        .max_by_key(String::len);
    let path = file.map_or_else(|| dir.to_path_buf(), |name| dir.join(name));
    Error::damaged(index_of(dir), path, short_reason(&message))
}

/// The index directory of a generation's text directory (`index/gen-N/text`).
fn index_of(text_dir: &Path) -> &Path {
    text_dir.parent().and_then(Path::parent).unwrap_or(text_dir)
}

/// The first line of `message`, without what Tantivy appends after it (a file's content, a
/// debug dump), at most 160 characters.
fn short_reason(message: &str) -> String {
    let first = message.lines().next().unwrap_or_default();
    let cut = [" Content:", ". Content", "{", " Error(", " Os {"]
        .iter()
        .filter_map(|marker| first.find(marker))
        .min()
        .unwrap_or(first.len());
    let reason = first[..cut].trim_end_matches([' ', '.', ':', '(']).trim();
    truncate_chars(if reason.is_empty() { first } else { reason }, 160)
}

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

fn open_index(dir: &Path) -> Result<Index> {
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

/// Memory of the one indexing thread that adds papers to an existing index; past it the
/// thread writes a segment out.
const WRITER_MEMORY: usize = 256_000_000;
/// A segment is merged again once this share of its documents is deleted (papers updated).
const DELETED_SHARE_BEFORE_MERGE: f32 = 0.3;
/// Papers in one part of a new index at most: a part's writer holds its whole part in memory.
const PART_PAPERS: usize = 25_000;
/// Fewer papers than this are indexed as one part: the merge would cost more than a second
/// thread saves.
const MIN_PAPERS_TO_SPLIT: usize = 1_000;
/// Memory a part's writer starts with (its term table is sized from it; it grows past it).
const PART_MEMORY: usize = 64_000_000;

/// Writes a new Tantivy index of `papers` into the empty directory `dir`; paper `i` gets number `i`.
///
/// The papers are cut into consecutive parts, each analysed and indexed into one segment by
/// one thread, and the parts are merged in order into one segment. Documents then sit in
/// paper-number order, so BM25 ties (which Tantivy breaks by document address) go to the lower
/// paper number, and the index is the one a single writer would make, whatever the threads do.
pub fn build(dir: &Path, papers: &[Paper], on_paper: impl Fn() + Sync) -> Result<()> {
    let numbered: Vec<(PaperNumber, &Paper)> = papers
        .iter()
        .enumerate()
        .map(|(i, paper)| (PaperNumber::from_index(i), paper))
        .collect();
    let parts = parts(papers.len(), rayon::current_num_threads());
    build_in_parts(dir, &numbered, &parts, &on_paper)
}

/// Consecutive ranges of paper indices, one per part: a multiple of `threads` parts (so that
/// no thread idles at the end), none over [`PART_PAPERS`].
fn parts(papers: usize, threads: usize) -> Vec<Range<usize>> {
    let count = if papers < MIN_PAPERS_TO_SPLIT {
        1
    } else {
        let threads = threads.max(1);
        threads * papers.div_ceil(threads * PART_PAPERS)
    };
    let size = papers.div_ceil(count).max(1);
    (0..papers)
        .step_by(size)
        .map(|start| start..(start + size).min(papers))
        .collect()
}

/// A new index of the numbered `papers` in `dir`, in the parts given: each part is built in
/// `dir/part-N` on a thread of its own, then the parts are merged, in order, into `dir`.
fn build_in_parts(
    dir: &Path,
    papers: &[(PaperNumber, &Paper)],
    parts: &[Range<usize>],
    on_paper: &(impl Fn() + Sync),
) -> Result<()> {
    let (schema, f) = schema();
    match parts {
        [] => {
            Index::create_in_dir(dir, schema).map_err(|e| tantivy_error(dir, e))?;
            return Ok(());
        }
        [all] => {
            build_part(dir, &schema, &f, &papers[all.clone()], on_paper)?;
            return Ok(());
        }
        _ => {}
    }
    let part_dir = |i: usize| dir.join(format!("part-{i}"));
    let indices = parts
        .par_iter()
        .enumerate()
        .map(|(i, range)| {
            let part = part_dir(i);
            std::fs::create_dir(&part).map_err(|e| Error::write(&part, e))?;
            build_part(&part, &schema, &f, &papers[range.clone()], on_paper)
        })
        .collect::<Result<Vec<Index>>>()?;
    tantivy::indexer::merge_indices(&indices, writable_directory(dir)?)
        .map_err(|e| tantivy_error(dir, e))?;
    drop(indices);
    for i in 0..parts.len() {
        std::fs::remove_dir_all(part_dir(i)).map_err(|e| Error::write(part_dir(i), e))?;
    }
    Ok(())
}

/// One part as a one-segment index in `dir`: `papers` analysed and indexed on this thread, in
/// order.
fn build_part(
    dir: &Path,
    schema: &Schema,
    f: &Fields,
    papers: &[(PaperNumber, &Paper)],
    on_paper: &(impl Fn() + Sync),
) -> Result<Index> {
    let mut writer = Index::builder()
        .schema(schema.clone())
        .tokenizers(analyze::tokenizers())
        .single_segment_index_writer(writable_directory(dir)?, PART_MEMORY)
        .map_err(|e| tantivy_error(dir, e))?;
    for &(number, paper) in papers {
        writer.add_document(document(f, number, paper)?)?;
        on_paper();
    }
    writer.finalize().map_err(|e| tantivy_error(dir, e))
}

fn writable_directory(dir: &Path) -> Result<tantivy::directory::MmapDirectory> {
    tantivy::directory::MmapDirectory::open(dir)
        .map_err(|e| Error::damaged(index_of(dir), dir, short_reason(&e.to_string())))
}

/// Adds `papers` to the Tantivy index in `dir`, a writable copy (hard links) of a committed
/// generation's, after deleting the documents of `replaced`. The segments already there are
/// kept as they are (only deletions are added to them), so adding a few papers to a large
/// index costs the few papers, not the index.
///
/// Many papers (enough for [`parts`] to cut them) are indexed as a new index is, in parts on
/// every core merged in order into one segment, which then joins the index; fewer go to one
/// writer thread, which costs no merge.
pub fn extend(
    dir: &Path,
    replaced: &[PaperNumber],
    papers: &[(PaperNumber, &Paper)],
    on_paper: impl Fn() + Sync,
) -> Result<()> {
    let parts = parts(papers.len(), rayon::current_num_threads());
    extend_in_parts(dir, replaced, papers, &parts, &on_paper)
}

/// [`extend`] with the parts given (one part: the writer thread).
fn extend_in_parts(
    dir: &Path,
    replaced: &[PaperNumber],
    papers: &[(PaperNumber, &Paper)],
    parts: &[Range<usize>],
    on_paper: &(impl Fn() + Sync),
) -> Result<()> {
    let (schema, f) = schema();
    let index = Index::open(writable_directory(dir)?).map_err(|e| tantivy_error(dir, e))?;
    let mut writer = open_writer(&index)?;
    for &number in replaced {
        writer.delete_term(Term::from_field_u64(f.number, u64::from(number)));
    }
    // An index written with another schema or other settings (older code) takes no segment
    // built with these.
    let same_kind = index.schema() == schema && *index.settings() == Default::default();
    if parts.len() > 1 && same_kind {
        let segment = build_beside(dir, &index, papers, parts, on_paper)?;
        if !replaced.is_empty() {
            // A segment added whole has no operation stamps to tell its documents from the
            // deleted ones: the deletions are applied first, else they would take the new
            // documents of the same papers too.
            writer.commit()?;
        }
        writer.add_segment(segment)?;
    } else {
        add_papers(&writer, &f, papers, on_paper)?;
    }
    writer.commit()?;
    writer.wait_merging_threads()?;
    Ok(())
}

/// Builds `papers` as a new one-segment index in `dir/added`, then moves its segment's files
/// into `index` (in `dir`) and returns the segment, for the writer to add. The files go
/// through the index's directory, which records them as its own: its checksum check covers
/// them, and its garbage collection removes them once a merge replaces the segment.
fn build_beside(
    dir: &Path,
    index: &Index,
    papers: &[(PaperNumber, &Paper)],
    parts: &[Range<usize>],
    on_paper: &(impl Fn() + Sync),
) -> Result<tantivy::SegmentMeta> {
    let added = dir.join("added");
    std::fs::create_dir(&added).map_err(|e| Error::write(&added, e))?;
    build_in_parts(&added, papers, parts, on_paper)?;
    let built = open_index(&added)?
        .searchable_segment_metas()
        .map_err(|e| tantivy_error(&added, e))?;
    let [segment] = built.as_slice() else {
        return Err(Error::damaged(
            index_of(dir),
            &added,
            format!("{} segments built, one expected", built.len()),
        ));
    };
    // Made before its files are written, so that no garbage collection can take them.
    let meta = index.new_segment_meta(segment.id(), segment.max_doc());
    use tantivy::Directory as _;
    let prefix = format!("{}.", segment.id().uuid_string());
    for entry in std::fs::read_dir(&added).map_err(|e| Error::io(&added, e))? {
        let name = entry.map_err(|e| Error::io(&added, e))?.file_name();
        if !name.to_string_lossy().starts_with(&prefix) {
            continue;
        }
        let from = added.join(&name);
        let bytes = std::fs::read(&from).map_err(|e| Error::io(&from, e))?;
        index
            .directory()
            .atomic_write(Path::new(&name), &bytes)
            .map_err(|e| Error::write(dir.join(&name), e))?;
    }
    std::fs::remove_dir_all(&added).map_err(|e| Error::write(&added, e))?;
    Ok(meta)
}

/// One indexing thread, which analyses as it indexes: the papers added go into segments in
/// their order, so the same papers give the same index.
fn open_writer(index: &Index) -> Result<IndexWriter> {
    analyze::register(index);
    let writer = index.writer_with_num_threads::<TantivyDocument>(1, WRITER_MEMORY)?;
    let mut policy = LogMergePolicy::default();
    policy.set_del_docs_ratio_before_merge(DELETED_SHARE_BEFORE_MERGE);
    writer.set_merge_policy(Box::new(policy));
    Ok(writer)
}

/// Hands `papers` to the writer, which analyses them on its thread.
fn add_papers(
    writer: &IndexWriter,
    f: &Fields,
    papers: &[(PaperNumber, &Paper)],
    on_paper: &impl Fn(),
) -> Result<()> {
    for &(number, paper) in papers {
        writer.add_document(document(f, number, paper)?)?;
        on_paper();
    }
    Ok(())
}

/// A paper's document: its texts as they are, in the combined field (the writer analyses them),
/// its number, id, categories, month and the whole paper as stored JSON.
fn document(f: &Fields, number: PaperNumber, p: &Paper) -> Result<TantivyDocument> {
    let mut doc = TantivyDocument::default();
    doc.add_u64(f.number, u64::from(number));
    doc.add_text(f.arxiv_id, &p.arxiv_id);
    for text in combined_texts(p) {
        doc.add_text(f.all, text);
    }
    for category in category_terms(p) {
        doc.add_text(f.category, &category);
    }
    if let Some((year, month)) = p.year_month() {
        doc.add_u64(f.month, u64::from(year * 100 + month));
    }
    let json = serde_json::to_string(p).map_err(|e| Error::IndexCorrupt {
        path: p.source_file.clone().into(),
        reason: format!("cannot serialise paper {}: {e}", p.arxiv_id),
    })?;
    doc.add_text(f.paper, json);
    Ok(doc)
}

/// The values of the combined ranking field: titles twice (they say what the paper is about in
/// few words), then summary and abstracts. Separate values keep phrases from spanning two of them.
pub(crate) fn combined_texts(p: &Paper) -> Vec<&str> {
    let mut texts = vec![
        p.title_en.as_str(),
        p.title_en.as_str(),
        p.title_zh.as_str(),
        p.title_zh.as_str(),
        p.summary_zh.as_str(),
    ];
    texts.extend(p.summary_en.as_deref());
    texts.extend([p.abstract_zh.as_str(), p.abstract_en.as_str()]);
    texts.retain(|t| !t.is_empty());
    texts
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
    fields: Fields,
    english: TextAnalyzer,
    chinese: TextAnalyzer,
    mixed: TextAnalyzer,
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

    fn number_of(&self, searcher: &Searcher, address: DocAddress) -> Result<PaperNumber> {
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

    /// A spelling correction of `text` from the index's own vocabulary: each Latin word of four
    /// letters or more that matches no paper is replaced by the word one edit away (a letter
    /// dropped, swapped, changed or added) that most papers contain. `None` when every word
    /// matches or nothing close does. (Edits are generated rather than looked up with a
    /// Levenshtein automaton because the dictionary holds stems: the candidate must be a word a
    /// user can read, and its stem must be indexed.)
    pub(crate) fn suggest(&self, text: &str) -> Option<String> {
        let searcher = self.searcher();
        let mut english = self.english.clone();
        let frequency = |word: &str, english: &mut TextAnalyzer| -> u64 {
            analyze::terms(english, word)
                .iter()
                .map(|t| {
                    searcher
                        .doc_freq(&Term::from_field_text(self.fields.all, t))
                        .unwrap_or(0)
                })
                .min()
                .unwrap_or(0)
        };
        let mut changed = false;
        let words: Vec<String> = text
            .split_whitespace()
            .map(|word| {
                let lower = word.to_lowercase();
                let latin = lower.chars().all(|c| c.is_ascii_alphabetic());
                if !latin || lower.len() < 4 || frequency(&lower, &mut english) > 0 {
                    return word.to_string();
                }
                let best = one_edit_away(&lower)
                    .into_iter()
                    .map(|candidate| (frequency(&candidate, &mut english), candidate))
                    .filter(|(df, _)| *df > 0)
                    .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
                match best {
                    Some((_, candidate)) => {
                        changed = true;
                        candidate
                    }
                    None => word.to_string(),
                }
            })
            .collect();
        changed.then(|| words.join(" "))
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

/// Every lowercase ASCII word one edit from `word`: a letter deleted, two neighbours swapped,
/// a letter replaced, a letter inserted.
fn one_edit_away(word: &str) -> Vec<String> {
    let letters: Vec<char> = word.chars().collect();
    let alphabet = 'a'..='z';
    let mut out = Vec::new();
    for i in 0..letters.len() {
        let mut deleted = letters.clone();
        deleted.remove(i);
        out.push(deleted.iter().collect());
        if i + 1 < letters.len() {
            let mut swapped = letters.clone();
            swapped.swap(i, i + 1);
            out.push(swapped.iter().collect());
        }
        for c in alphabet.clone() {
            let mut replaced = letters.clone();
            replaced[i] = c;
            out.push(replaced.iter().collect());
        }
    }
    for i in 0..=letters.len() {
        for c in alphabet.clone() {
            let mut inserted = letters.clone();
            inserted.insert(i, c);
            out.push(inserted.iter().collect());
        }
    }
    out.sort();
    out.dedup();
    out.retain(|w| w != word);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_include_the_missing_letter() {
        let edits = one_edit_away("halucination");
        assert!(edits.contains(&"hallucination".to_string()));
        assert!(edits.contains(&"ahlucination".to_string()));
        assert!(!edits.contains(&"halucination".to_string()));
    }

    fn sample_papers(count: usize) -> Vec<Paper> {
        let digests = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digests");
        let found = crate::digest::find_digests(&[digests]);
        let mut papers = crate::digest::load(&found.files, || {})
            .expect("data/digests loads")
            .papers;
        papers.truncate(count);
        papers
    }

    fn judged_queries() -> Vec<String> {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/queries.tsv");
        let text = std::fs::read_to_string(file).expect("tests/queries.tsv reads");
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split('\t').nth(1))
            .map(str::to_string)
            .collect()
    }

    /// `papers` numbered from `first`.
    fn numbered(papers: &[Paper], first: usize) -> Vec<(PaperNumber, &Paper)> {
        papers
            .iter()
            .enumerate()
            .map(|(i, p)| (PaperNumber::from_index(first + i), p))
            .collect()
    }

    /// (paper, score bits) of the top hits, and how many matched.
    fn ranking(index: &TextIndex, query: &str) -> (Vec<(PaperNumber, u32)>, usize) {
        let query = SearchQuery::parse(query).expect("query parses");
        let (hits, total) = index
            .search(&query, &Filters::default(), 100)
            .expect("search runs");
        let ranked = hits.iter().map(|h| (h.number, h.score.to_bits())).collect();
        (ranked, total)
    }

    #[test]
    fn parts_merged_in_order_rank_exactly_as_one_part() {
        let mut papers = sample_papers(3000);
        // A copy of paper 10 under another id, in the last part: every query that finds one
        // finds both with one score, and the lower number must come first.
        let mut twin = papers[10].clone();
        twin.arxiv_id = "2999.99999".to_string();
        papers.push(twin);
        let whole = tempfile::tempdir().expect("temporary directory");
        let split = tempfile::tempdir().expect("temporary directory");
        let numbered = numbered(&papers, 0);
        build_in_parts(
            whole.path(),
            &numbered,
            &parts(papers.len(), 1)[..1],
            &|| {},
        )
        .expect("one part builds");
        let three = parts(papers.len(), 3);
        assert_eq!(three.len(), 3, "{three:?}");
        build_in_parts(split.path(), &numbered, &three, &|| {}).expect("three parts build");
        let (whole, split) = (
            TextIndex::open(whole.path()).expect("opens"),
            TextIndex::open(split.path()).expect("opens"),
        );
        let searcher = split.searcher();
        assert_eq!(searcher.segment_readers().len(), 1);
        for doc in 0..papers.len() as u32 {
            let number = split.number_of(&searcher, DocAddress::new(0, doc));
            assert_eq!(number.expect("numbered").index(), doc as usize);
        }
        for query in judged_queries() {
            assert_eq!(ranking(&whole, &query), ranking(&split, &query), "{query}");
        }
        let title = papers[10]
            .title_en
            .replace(|c: char| !c.is_alphanumeric(), " ");
        let (tied, _) = ranking(&split, &title);
        let at = |n: usize| tied.iter().position(|&(p, _)| p.index() == n);
        let (original, copy) = (at(10).expect("found"), at(papers.len() - 1).expect("found"));
        assert_eq!(tied[original].1, tied[copy].1, "a tie");
        assert_eq!(copy, original + 1, "{tied:?}");
    }

    /// Every match of `query` as (score bits, paper), best first and ties by paper: the same
    /// for two indexes of the same papers, however their segments are cut or ordered.
    fn every_match(index: &TextIndex, query: &str) -> Vec<(u32, PaperNumber)> {
        let query = SearchQuery::parse(query).expect("query parses");
        let (hits, _) = index
            .search(&query, &Filters::default(), index.num_docs())
            .expect("search runs");
        let mut matched: Vec<(u32, PaperNumber)> =
            hits.iter().map(|h| (h.score.to_bits(), h.number)).collect();
        matched.sort_by(|a, b| {
            f32::from_bits(b.0)
                .total_cmp(&f32::from_bits(a.0))
                .then(a.1.cmp(&b.1))
        });
        matched
    }

    fn segment_ids(dir: &Path) -> Vec<tantivy::index::SegmentId> {
        let index = open_index(dir).expect("opens");
        let metas = index.searchable_segment_metas().expect("segments");
        metas.iter().map(|m| m.id()).collect()
    }

    #[test]
    fn a_large_addition_built_in_parts_joins_the_index_as_one_writer_would_add_it() {
        let papers = sample_papers(3000);
        let (old, new) = papers.split_at(1500);
        // Two old papers rewritten: their old documents go, the new ones come with the addition.
        let mut changed = vec![old[3].clone(), old[7].clone()];
        changed[0].title_en = new[100].title_en.clone();
        changed[1].abstract_en = new[200].abstract_en.clone();
        let replaced = [PaperNumber::from_index(3), PaperNumber::from_index(7)];
        let mut added: Vec<(PaperNumber, &Paper)> =
            replaced.iter().copied().zip(&changed).collect();
        added.extend(numbered(new, old.len()));
        let (one, split) = (
            tempfile::tempdir().expect("temporary directory"),
            tempfile::tempdir().expect("temporary directory"),
        );
        for dir in [one.path(), split.path()] {
            build(dir, old, || {}).expect("builds");
        }
        let before = segment_ids(split.path());
        let two = parts(added.len(), 2);
        assert_eq!(two.len(), 2, "{two:?}");
        extend_in_parts(
            one.path(),
            &replaced,
            &added,
            &parts(added.len(), 1),
            &|| {},
        )
        .expect("one writer adds");
        extend_in_parts(split.path(), &replaced, &added, &two, &|| {}).expect("parts add");
        let after = segment_ids(split.path());
        assert_eq!(after.len(), before.len() + 1, "one segment joins");
        assert!(
            before.iter().all(|id| after.contains(id)),
            "old segments kept"
        );
        assert!(!split.path().join("added").exists());
        // The new segment's files are the index's own: checked, and collected once merged away.
        let index = open_index(split.path()).expect("opens");
        let managed = index.directory().list_managed_files();
        for entry in std::fs::read_dir(split.path()).expect("lists") {
            let name = entry.expect("entry").file_name();
            if name.to_string_lossy().contains(".store") {
                assert!(managed.contains(Path::new(&name)), "{name:?}");
            }
        }
        assert_eq!(
            damaged_files(split.path()).expect("checks"),
            Vec::<std::path::PathBuf>::new()
        );
        let (one, split) = (
            TextIndex::open(one.path()).expect("opens"),
            TextIndex::open(split.path()).expect("opens"),
        );
        assert_eq!(split.num_docs(), papers.len());
        for (number, paper) in &added[..2] {
            assert_eq!(&split.paper_by_number(*number).expect("stored"), *paper);
        }
        for query in judged_queries() {
            assert_eq!(
                every_match(&one, &query),
                every_match(&split, &query),
                "{query}"
            );
        }
    }

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

    #[test]
    fn parts_cover_every_paper_in_order_in_a_multiple_of_the_threads() {
        for (papers, threads) in [
            (0, 2),
            (999, 2),
            (1_000, 2),
            (30_000, 2),
            (100_001, 2),
            (7, 1),
        ] {
            let ranges = parts(papers, threads);
            let covered: Vec<usize> = ranges.iter().flat_map(|r| r.clone()).collect();
            assert_eq!(covered, (0..papers).collect::<Vec<_>>());
            assert!(ranges.iter().all(|r| r.len() <= PART_PAPERS));
            if papers >= MIN_PAPERS_TO_SPLIT {
                assert_eq!(ranges.len() % threads, 0, "{papers} papers: {ranges:?}");
            }
        }
    }
}
