//! The write side: a new full-text index of papers, built in parts on every core, and papers
//! added to (or replaced in) a writable copy of a committed one.

use std::ops::Range;
use std::path::Path;

use rayon::prelude::*;
use tantivy::indexer::LogMergePolicy;
use tantivy::schema::Schema;
use tantivy::{Index, IndexWriter, TantivyDocument, Term};

use super::errors::{index_of, short_reason, tantivy_error};
use super::reader::open_index;
use super::schema::{Fields, combined_texts, schema};
use crate::analyze;
use crate::error::{Error, Result};
use crate::paper::{Paper, PaperNumber};
use crate::query::category_terms;

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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::fulltext::reader::{TextIndex, damaged_files};
    use crate::query::{Filters, SearchQuery};
    use tantivy::DocAddress;

    pub(in crate::fulltext) fn sample_papers(count: usize) -> Vec<Paper> {
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
