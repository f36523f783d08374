//! The library in process (no binary): the write path and the `Engine` on small indexes of
//! real digests, the way the CLI and the server use them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

use paperscope::paper::PaperNumber;
use paperscope::progress::Quiet;
use paperscope::query::Filters;
use paperscope::search::{Mode, TopicLevel};
use paperscope::store::WriteLock;
use paperscope::topics::{TopicModel, TopicParams};
use paperscope::update::{self, Update, UpdateOptions};
use paperscope::vectors::views::Script;
use paperscope::{Engine, Error, ModelSource, Needs, RelatedRequest, SearchRequest, Store};

/// The sample digests whose names start with one of `prefixes` (a month: `2024-03`).
fn digests(prefixes: &[&str]) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("data/digests")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            prefixes.iter().any(|m| name.starts_with(m))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no digests for {prefixes:?}");
    files
}

fn index_into(dir: &Path, months: &[&str]) -> Update {
    let embedder = ModelSource::default().load().expect("shipped model");
    update::index_files(
        dir,
        &digests(months),
        &embedder,
        UpdateOptions::default(),
        &Quiet,
    )
    .expect("index builds")
    .update
}

/// One index of March 2024 (789 papers) shared by the read-only tests of this binary.
fn march_2024() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tmp");
        index_into(dir.path(), &["2024-03"]);
        dir
    })
    .path()
}

fn engine(needs: Needs) -> Engine {
    Engine::open(march_2024(), &ModelSource::default(), needs).expect("index opens")
}

fn mentions(result: &paperscope::search::SearchResult, words: &[&str]) -> bool {
    let text = format!(
        "{} {} {}",
        result.title_en, result.title_zh, result.summary_zh
    )
    .to_lowercase();
    words.iter().any(|w| text.contains(w))
}

/// Every file under `dir` with its size and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("readable") {
            let entry = entry.expect("entry");
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                files.insert(entry.path(), (meta.len(), meta.modified().expect("mtime")));
            }
        }
    }
    files
}

#[test]
fn hybrid_search_finds_hallucination_papers_with_the_why_of_each() {
    let engine = engine(Needs::WordsAndMeaning);
    let query = "hallucination benchmark";
    let response = engine
        .search(&SearchRequest::new(query).limit(5))
        .expect("search");
    assert_eq!(response.mode, Mode::Hybrid);
    assert!(response.warnings.is_empty(), "{:?}", response.warnings);
    assert_eq!(response.results.len(), 5);
    for r in &response.results[..3] {
        assert!(
            mentions(r, &["hallucinat", "幻觉"]),
            "off topic: {}",
            r.title_en
        );
        assert!(
            r.why.bm25_rank.is_some() && r.why.cosine.is_some(),
            "{:?}",
            r.why
        );
    }
}

#[test]
fn hybrid_without_vectors_answers_with_bm25_and_says_so() {
    let engine = engine(Needs::Words);
    let query = "幻觉";
    let response = engine
        .search(&SearchRequest::new(query).limit(3))
        .expect("search");
    assert_eq!(response.mode, Mode::Bm25);
    assert_eq!(response.warnings.len(), 1, "{:?}", response.warnings);
    let vector = engine.search(&SearchRequest::new(query).mode(Mode::Vector).limit(3));
    assert!(
        matches!(vector, Err(Error::InvalidParameter { ref parameter, .. }) if parameter == "mode")
    );
}

#[test]
fn related_papers_never_include_the_seed() {
    let engine = engine(Needs::Meaning);
    let query = "hallucination";
    let top = engine
        .search(&SearchRequest::new(query).mode(Mode::Bm25).limit(1))
        .expect("search");
    let seed = top.results[0].arxiv_id.as_str();
    let response = engine
        .related(&RelatedRequest::ids([seed]).limit(10))
        .expect("related");
    assert_eq!(response.results.len(), 10);
    assert!(response.results.iter().all(|r| r.arxiv_id != seed));
    assert!(
        response
            .results
            .iter()
            .filter(|r| mentions(r, &["hallucinat", "幻觉", "factual", "事实"]))
            .count()
            >= 3,
        "{:?}",
        response
            .results
            .iter()
            .map(|r| &r.title_en)
            .collect::<Vec<_>>()
    );
}

#[test]
fn papers_are_found_by_id_with_or_without_version() {
    let engine = engine(Needs::Words);
    let first = engine.papers().expect("papers").remove(0);
    assert_eq!(engine.paper(&first.arxiv_id).expect("known"), first);
    assert_eq!(engine.paper(&first.versioned_id()).expect("known"), first);
    assert!(matches!(
        engine.paper("9999.99999"),
        Err(Error::UnknownId { .. })
    ));
}

#[test]
fn topics_are_fitted_at_index_time_and_cover_every_paper() {
    let engine = engine(Needs::Meaning);
    let papers = engine.papers().expect("papers");
    let model = engine.topics(TopicLevel::Fine).expect("topics");
    assert!(model.topics.len() >= 2);
    assert_eq!(model.assignments.len(), papers.len());
    let coarse = engine.topics(TopicLevel::Coarse).expect("coarse topics");
    assert!(coarse.topics.len() < model.topics.len());
    let first = model.topics[0].id;
    let (topic, members) = engine.topic(&model, first, 5).expect("topic");
    assert_eq!(topic.id, first);
    let assigned: HashSet<&str> = model
        .assignments
        .iter()
        .filter(|a| a.nearest == first)
        .map(|a| a.arxiv_id.as_str())
        .collect();
    assert!(
        members
            .iter()
            .all(|p| assigned.contains(p.arxiv_id.as_str()))
    );
    assert!(matches!(
        engine.topic(&model, 9999, 5),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn reading_never_writes_the_index_directory() {
    let dir = march_2024();
    let engine = engine(Needs::Meaning);
    let before = snapshot(dir);
    let query = "retrieval augmented generation";
    for mode in [Mode::Bm25, Mode::Vector, Mode::Hybrid] {
        engine
            .search(&SearchRequest::new(query).mode(mode).limit(10))
            .expect("search");
    }
    engine.topics(TopicLevel::Coarse).expect("topics");
    engine
        .related(&RelatedRequest::text("retrieval for question answering").limit(5))
        .expect("related");
    drop(engine);
    assert_eq!(before, snapshot(dir), "a read changed the index directory");
}

/// Which new topic holds most of each old topic's papers, and what share of them.
fn successors(old: &TopicModel, new: &TopicModel) -> HashMap<usize, (usize, f64)> {
    let new_of: HashMap<&str, usize> = new
        .assignments
        .iter()
        .map(|a| (a.arxiv_id.as_str(), a.nearest))
        .collect();
    let mut counts: HashMap<usize, HashMap<usize, usize>> = HashMap::new();
    for a in &old.assignments {
        if let Some(&n) = new_of.get(a.arxiv_id.as_str()) {
            *counts.entry(a.nearest).or_default().entry(n).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|(old_id, to)| {
            let total: usize = to.values().sum();
            let (&best, &n) = to
                .iter()
                .max_by_key(|&(id, n)| (*n, std::cmp::Reverse(*id)))
                .expect("one");
            (old_id, (best, n as f64 / total as f64))
        })
        .collect()
}

#[test]
fn a_refit_with_one_more_month_keeps_the_ids_and_labels_of_continuing_topics() {
    let dir = tempfile::tempdir().expect("tmp");
    index_into(dir.path(), &["2024-02", "2024-03"]);
    let added = index_into(dir.path(), &["2024-04"]);
    assert!(matches!(added, Update::Written { added, .. } if added > 0));
    let store = Store::open(dir.path()).expect("opens");
    let before = store
        .topics()
        .expect("readable")
        .expect("fitted at index time");
    let generation = store.manifest.generation;
    drop(store);
    let embedder = ModelSource::default().load().expect("model");
    let refit =
        update::refit_topics(dir.path(), &embedder, TopicParams::default(), &Quiet).expect("refit");
    assert_eq!(refit.generation, generation + 1);
    let after = Store::open(dir.path())
        .expect("opens")
        .topics()
        .expect("ok")
        .expect("topics");
    let mut continuing = 0;
    for (old_id, (new_id, share)) in successors(&before, &after) {
        if share < 0.8 {
            continue;
        }
        continuing += 1;
        assert_eq!(
            old_id, new_id,
            "topic {old_id} continued as {new_id} ({share:.2} of its papers)"
        );
        let old = before.topics.iter().find(|t| t.id == old_id).expect("old");
        let new = after.topics.iter().find(|t| t.id == new_id).expect("new");
        let words = |labels: &[String], n: usize| -> HashSet<String> {
            labels[..n.min(labels.len())]
                .iter()
                .flat_map(|l| l.split(' ').map(str::to_string).collect::<Vec<_>>())
                .collect()
        };
        let shared = words(&old.label_en, 5)
            .intersection(&words(&new.label_en, 8))
            .count();
        assert!(
            shared >= 3,
            "labels drifted: {:?} -> {:?}",
            &old.label_en[..5],
            &new.label_en[..8]
        );
    }
    assert!(
        continuing >= before.topics.len() / 2,
        "only {continuing} of {} topics continued",
        before.topics.len()
    );
    assert_eq!(
        refit.kept_ids,
        after
            .topics
            .iter()
            .filter(|t| before.topics.iter().any(|o| o.id == t.id))
            .count()
    );
}

#[test]
fn a_second_writer_gets_the_locked_error_for_every_kind_of_write() {
    let dir = tempfile::tempdir().expect("tmp");
    index_into(dir.path(), &["2024-05"]);
    let _held = WriteLock::acquire(dir.path()).expect("first writer");
    let before = snapshot(dir.path());
    let embedder = ModelSource::default().load().expect("model");
    let refit = update::refit_topics(dir.path(), &embedder, TopicParams::default(), &Quiet);
    assert!(
        matches!(refit, Err(Error::IndexLocked { .. })),
        "{:?}",
        refit.err()
    );
    let index = update::index_files(
        dir.path(),
        &digests(&["2024-04"]),
        &embedder,
        UpdateOptions::default(),
        &Quiet,
    );
    assert!(
        matches!(index, Err(Error::IndexLocked { .. })),
        "{:?}",
        index.err()
    );
    assert_eq!(
        before,
        snapshot(dir.path()),
        "a refused writer changed the index"
    );
}

#[test]
fn a_huge_limit_asks_for_every_paper_and_allocates_nothing_more() {
    let engine = engine(Needs::Meaning);
    let papers = engine.store().manifest.paper_count;
    let query = "language model";
    for mode in [Mode::Bm25, Mode::Vector, Mode::Hybrid] {
        let response = engine
            .search(&SearchRequest::new(query).mode(mode).limit(usize::MAX))
            .expect("a huge limit is not an error");
        assert!(response.results.len() <= papers, "{mode}");
    }
    let related = engine
        .related(&RelatedRequest::text("language model").limit(usize::MAX))
        .expect("related with a huge limit");
    assert!(related.results.len() <= papers);
}

#[test]
fn a_version_the_index_does_not_hold_is_an_error_not_another_version() {
    let engine = engine(Needs::Words);
    let paper = engine
        .papers()
        .expect("papers")
        .into_iter()
        .find(|p| p.version.is_some())
        .expect("a versioned paper");
    let held = paper.version.expect("version");
    let asked = format!("{}v{}", paper.arxiv_id, held + 7);
    match engine.paper(&asked) {
        Err(Error::UnknownVersion {
            asked: a, held: h, ..
        }) => assert_eq!((a, h), (held + 7, held)),
        other => panic!("expected UnknownVersion, got {other:?}"),
    }
}

#[test]
fn related_to_a_text_without_words_is_refused_like_a_search() {
    let engine = engine(Needs::Meaning);
    let related = engine.related(&RelatedRequest::text("!!! ...").limit(5));
    assert!(
        matches!(related, Err(Error::InvalidParameter { ref parameter, .. }) if parameter == "text"),
        "{:?}",
        related.err()
    );
}

/// A search that used everything it was asked to: no error, no fallback, no warning.
fn clean_hybrid(engine: &Engine, query: &str) -> Result<(), String> {
    let response = engine
        .search(&SearchRequest::new(query).limit(10))
        .map_err(|e| e.to_string())?;
    if response.mode != Mode::Hybrid || !response.warnings.is_empty() {
        return Err(format!(
            "fell back: {:?} {:?}",
            response.mode, response.warnings
        ));
    }
    if response.results.is_empty() {
        return Err("no results".into());
    }
    Ok(())
}

#[test]
fn searches_never_fail_while_the_index_is_rebuilt() {
    let dir = tempfile::tempdir().expect("tmp");
    index_into(dir.path(), &["2024-05", "2024-04"]);
    let embedder = std::sync::Arc::new(ModelSource::default().load().expect("model"));
    let live = paperscope::search::LiveEngine::open(
        dir.path(),
        &ModelSource::default(),
        Needs::WordsAndMeaning,
    )
    .expect("live engine");
    let first_generation = live.generation();
    let writing = std::sync::atomic::AtomicBool::new(true);
    let query = "retrieval augmented generation";
    let (searches, failures) = std::thread::scope(|scope| {
        scope.spawn(|| {
            for _ in 0..3 {
                let options = UpdateOptions {
                    rebuild: true,
                    ..UpdateOptions::default()
                };
                update::update(dir.path(), Vec::new(), &embedder, options, &Quiet)
                    .expect("rebuild");
            }
            writing.store(false, std::sync::atomic::Ordering::SeqCst);
        });
        let mut failures = Vec::new();
        let mut searches = 0;
        while searches < 200 || writing.load(std::sync::atomic::Ordering::SeqCst) {
            // A new reader each time, as a CLI process would be, and the long-lived one.
            let fresh = Engine::open_with(dir.path(), embedder.clone(), Needs::WordsAndMeaning)
                .map_err(|e| e.to_string())
                .and_then(|engine| clean_hybrid(&engine, query));
            let long_lived = clean_hybrid(&live.current(), query);
            failures.extend(fresh.err());
            failures.extend(long_lived.err());
            searches += 2;
        }
        (searches, failures)
    });
    assert!(
        failures.is_empty(),
        "{} of {searches} searches failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert_eq!(
        live.generation(),
        first_generation + 3,
        "the long-lived reader follows the writes"
    );
}

#[test]
fn an_unknown_category_is_an_error_naming_it() {
    let engine = engine(Needs::Words);
    let query = "retrieval";
    let filters = Filters::new(&["cs.IR,cs.XYZ".into()], None, None).expect("filters");
    match engine.search(
        &SearchRequest::new(query)
            .mode(Mode::Bm25)
            .limit(5)
            .filters(filters.clone()),
    ) {
        Err(Error::InvalidParameter { parameter, reason }) => {
            assert_eq!(parameter, "category");
            assert!(
                reason.contains("cs.xyz") && !reason.contains("cs.ir"),
                "{reason}"
            );
        }
        other => panic!("expected an error naming the category, got {other:?}"),
    }
    let known = Filters::new(&["cs.IR".into()], None, None).expect("filters");
    assert!(
        engine
            .search(
                &SearchRequest::new(query)
                    .mode(Mode::Bm25)
                    .limit(5)
                    .filters(known.clone())
            )
            .is_ok()
    );
}

#[test]
fn a_misspelled_query_is_answered_for_its_correction_and_says_so() {
    let engine = engine(Needs::WordsAndMeaning);
    let typo = "halucination";
    let response = engine
        .search(&SearchRequest::new(typo).limit(5))
        .expect("search");
    assert_eq!(response.corrected_from.as_deref(), Some("halucination"));
    assert_eq!(response.query, "hallucination");
    assert!(
        response
            .results
            .iter()
            .all(|r| mentions(r, &["hallucinat", "幻觉"]))
    );
    let partly = "retreival augmented generation";
    let response = engine
        .search(&SearchRequest::new(partly).mode(Mode::Bm25).limit(5))
        .expect("search");
    assert_eq!(
        response.corrected_from, None,
        "some words matched: answer as typed"
    );
    assert_eq!(
        response.did_you_mean.as_deref(),
        Some("retrieval augmented generation")
    );
}

#[test]
fn hybrid_returns_only_papers_with_evidence_and_counts_them_truly() {
    let engine = engine(Needs::WordsAndMeaning);
    let query = "hallucination";
    let response = engine
        .search(&SearchRequest::new(query).limit(1000))
        .expect("search");
    assert!(
        response.results.iter().all(|r| r.score > 0.0),
        "a result with no evidence"
    );
    assert_eq!(response.results.len(), response.total.min(1000));
    assert!(
        response.total < engine.store().manifest.paper_count / 2,
        "{}",
        response.total
    );
}

#[test]
fn the_fusion_used_is_reported() {
    let engine = engine(Needs::WordsAndMeaning);
    let query = "retrieval";
    let default = engine
        .search(&SearchRequest::new(query).limit(3))
        .expect("search");
    // The index is e5's (the default model): its fusion is a fixed weight.
    assert_eq!(default.fusion.as_deref(), Some("convex 0.35"));
    let rrf = engine
        .search(&SearchRequest::new(query).limit(3).rrf())
        .expect("search");
    assert_eq!(rrf.fusion.as_deref(), Some("rrf"));
    let bm25 = engine
        .search(&SearchRequest::new(query).mode(Mode::Bm25).limit(3))
        .expect("search");
    assert_eq!(bm25.fusion, None);
}

#[test]
fn highlights_mark_the_words_that_ranked_not_stop_words() {
    let engine = engine(Needs::Words);
    for (query, stop) in [
        (
            "how to detect hallucination in a model",
            ["how", "to", "in", "a"].as_slice(),
        ),
        ("如何 检测 的 幻觉", ["如何", "的"].as_slice()),
    ] {
        let response = engine
            .search(&SearchRequest::new(query).mode(Mode::Bm25).limit(5))
            .expect("search");
        let marked: Vec<String> = response
            .results
            .iter()
            .flat_map(|r| {
                r.highlights
                    .iter()
                    .map(|&(a, b)| r.snippet[a..b].to_lowercase())
            })
            .collect();
        assert!(!marked.is_empty(), "nothing highlighted for {}", query);
        for word in stop {
            assert!(
                !marked.iter().any(|m| m == word),
                "`{word}` highlighted: {marked:?}"
            );
        }
    }
}

#[test]
fn a_quoted_phrase_must_occur_as_a_phrase() {
    let engine = engine(Needs::Words);
    let text_of = |id: &str| {
        let p = engine.paper(id).expect("paper");
        format!("{} {} {}", p.title_en, p.abstract_en, p.summary_zh).to_lowercase()
    };
    let words = |q: &str| -> Vec<String> {
        let query = q;
        engine
            .search(&SearchRequest::new(query).mode(Mode::Bm25).limit(30))
            .expect("search")
            .results
            .into_iter()
            .map(|r| r.arxiv_id)
            .collect()
    };
    let phrase = words("\"graph learning\"");
    assert!(!phrase.is_empty());
    for id in &phrase {
        assert!(text_of(id).contains("graph learn"), "{id} lacks the phrase");
    }
    // The same words unquoted also find papers where they stand apart: the quotes matter.
    let loose = words("graph learning");
    assert!(
        loose.iter().any(|id| !text_of(id).contains("graph learn")),
        "the unquoted query found only phrase matches; the test would not notice a broken phrase"
    );
}

#[test]
fn damage_anywhere_in_the_text_index_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("tmp");
    index_into(dir.path(), &["2024-05"]);
    let generation = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("gen-"))
        })
        .expect("a generation");
    // The largest file: postings or stored papers, past the small files checked cheaply.
    let largest = std::fs::read_dir(generation.join("text"))
        .expect("text dir")
        .map(|e| e.expect("entry").path())
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .expect("a file");
    let mut bytes = std::fs::read(&largest).expect("read");
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 64] {
        *b ^= 0x5a;
    }
    std::fs::write(&largest, &bytes).expect("damage");
    let name = largest
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    match Engine::open(dir.path(), &ModelSource::default(), Needs::Words) {
        Err(error) => assert!(error.to_string().contains(&name), "{error}"),
        Ok(_) => panic!("a damaged {name} opened without an error"),
    }
}

#[test]
fn related_answers_the_same_every_time() {
    let engine = engine(Needs::Meaning);
    let seeds: Vec<String> = engine
        .papers()
        .expect("papers")
        .into_iter()
        .step_by(37)
        .take(20)
        .map(|p| p.arxiv_id)
        .collect();
    let related = |id: &String| -> Vec<String> {
        engine
            .related(&RelatedRequest::ids([id]).limit(10))
            .expect("related")
            .results
            .into_iter()
            .map(|r| r.arxiv_id)
            .collect()
    };
    for seed in &seeds {
        let first = related(seed);
        for _ in 0..3 {
            assert_eq!(
                related(seed),
                first,
                "related to {seed} changed between calls"
            );
        }
    }
}

/// The BM25 top 10 of `text` as (arXiv id, score).
fn bm25_top(dir: &Path, text: &str) -> Vec<(String, f32)> {
    let engine = Engine::open_with_words(dir).expect("opens");
    let query = text;
    engine
        .search(&SearchRequest::new(query).mode(Mode::Bm25).limit(10))
        .expect("answers")
        .results
        .into_iter()
        .map(|r| (r.arxiv_id, r.score))
        .collect()
}

/// The live generation's Tantivy files, by name, with their inode.
fn text_files(dir: &Path) -> BTreeMap<String, u64> {
    use std::os::unix::fs::MetadataExt;
    let generation = &Store::open(dir).expect("opens").manifest.generation_dir;
    std::fs::read_dir(dir.join(generation).join("text"))
        .expect("text dir")
        .map(|e| e.expect("entry"))
        .map(|e| {
            let inode = e.metadata().expect("metadata").ino();
            (e.file_name().to_string_lossy().into_owned(), inode)
        })
        .collect()
}

#[test]
fn a_new_month_keeps_the_indexed_segments_and_ranks_as_a_rebuild_does() {
    let grown = tempfile::tempdir().expect("tmp");
    index_into(grown.path(), &["2024-02"]);
    let before = text_files(grown.path());
    index_into(grown.path(), &["2024-03"]);
    let after = text_files(grown.path());
    let kept: Vec<&String> = before
        .iter()
        .filter(|&(name, inode)| name.ends_with(".store") && after.get(name) == Some(inode))
        .map(|(name, _)| name)
        .collect();
    assert!(!kept.is_empty(), "no segment kept: {before:?} -> {after:?}");
    let whole = tempfile::tempdir().expect("tmp");
    index_into(whole.path(), &["2024-02", "2024-03"]);
    let papers = |dir: &Path| Store::open(dir).expect("opens").papers().expect("papers");
    assert_eq!(papers(grown.path()), papers(whole.path()));
    for text in [
        "hallucination benchmark",
        "幻觉 基准",
        "retrieval augmented generation",
    ] {
        let (a, b) = (bm25_top(grown.path(), text), bm25_top(whole.path(), text));
        // Equal scores may come in another order: segments differ, so do document addresses.
        let ids = |top: &[(String, f32)]| {
            top.iter()
                .map(|(id, _)| id.clone())
                .collect::<BTreeSet<_>>()
        };
        assert_eq!(ids(&a), ids(&b), "{text}");
        // Papers of February updated by March digests leave deleted documents, which count
        // in BM25's statistics until their segment is merged: scores move a little.
        for ((_, x), (_, y)) in a.iter().zip(&b) {
            assert!((x - y).abs() < 0.02 * y, "{text}: {x} vs {y}");
        }
    }
    assert!(paperscope::store::check(grown.path()).healthy);
    let views = |dir: &Path| {
        Store::open(dir)
            .expect("opens")
            .script_views()
            .expect("views")
    };
    assert_eq!(
        views(grown.path()),
        views(whole.path()),
        "views per query script"
    );
}

#[test]
fn a_query_is_scored_by_the_view_of_its_own_script() {
    let engine = engine(Needs::Meaning);
    let meaning = engine.meaning().expect("vectors load");
    let views = meaning
        .views
        .as_ref()
        .expect("an index embedded side by side keeps views per query script");
    assert_eq!(views.len(), engine.store().manifest.paper_count);
    for (text, script) in [
        ("hallucination benchmark", Script::Latin),
        ("幻觉 基准", Script::Han),
    ] {
        let parsed = paperscope::query::SearchQuery::parse(text).expect("query");
        let query_vector = engine.query_vector(&parsed).expect("embeds");
        let score = |i: usize| {
            views
                .score(&query_vector, script, PaperNumber::from_index(i))
                .expect("every paper has views")
        };
        // The engine rescores its vectors' nearest papers; this scores every paper.
        let mut exact: Vec<(usize, f32)> = (0..views.len()).map(|i| (i, score(i))).collect();
        exact.sort_by(|a, b| b.1.total_cmp(&a.1));
        let ranked = engine
            .rank(&SearchRequest::new(text).mode(Mode::Vector).limit(10))
            .expect("vector search")
            .ranked;
        let got: Vec<(usize, f32)> = ranked.iter().map(|r| (r.number.index(), r.score)).collect();
        assert_eq!(got, exact[..10].to_vec(), "{text}");
    }
}

#[test]
fn an_index_written_without_views_searches_by_paper_vectors_until_the_next_write() {
    let dir = tempfile::tempdir().expect("tmp");
    index_into(dir.path(), &["2024-03-0"]);
    // As paperscope wrote it before it kept views: no file, no record of it.
    let manifest_path = dir.path().join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).expect("manifest"))
            .expect("json");
    let generation = manifest["generation_dir"]
        .as_str()
        .expect("dir")
        .to_string();
    manifest["files"]
        .as_array_mut()
        .expect("files")
        .retain(|f| f["path"] != "vectors/views.f16");
    std::fs::write(&manifest_path, manifest.to_string()).expect("manifest written");
    std::fs::remove_file(dir.path().join(generation).join("vectors/views.f16")).expect("rm");
    let engine = Engine::open(dir.path(), &ModelSource::default(), Needs::Meaning).expect("opens");
    assert!(engine.meaning().is_some_and(|m| m.views.is_none()));
    let query = "language model";
    let ranked = engine
        .rank(&SearchRequest::new(query).mode(Mode::Vector).limit(5))
        .expect("searches by the paper vectors");
    assert_eq!(ranked.ranked.len(), 5);
    drop(engine);
    // The same digests again: nothing new, but the views are made (from the cache).
    let update = index_into(dir.path(), &["2024-03-0"]);
    assert!(
        matches!(
            update,
            Update::Written {
                texts_embedded: 0,
                ..
            }
        ),
        "{update:?}"
    );
    let store = Store::open(dir.path()).expect("opens");
    let views = store.script_views().expect("readable").expect("views made");
    assert_eq!(views.len(), store.manifest.paper_count);
}

#[test]
fn damaged_views_are_named_and_a_rebuild_makes_them_again() {
    let dir = tempfile::tempdir().expect("tmp");
    index_into(dir.path(), &["2024-03-0"]);
    let store = Store::open(dir.path()).expect("opens");
    let papers = store.manifest.paper_count;
    let path = dir
        .path()
        .join(&store.manifest.generation_dir)
        .join("vectors/views.f16");
    let mut bytes = std::fs::read(&path).expect("views written");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&path, &bytes).expect("damage");
    let error = store
        .script_views()
        .expect_err("damage is found")
        .to_string();
    assert!(
        error.contains("views.f16") && error.contains("checksum"),
        "{error}"
    );
    let engine = Engine::open(dir.path(), &ModelSource::default(), Needs::WordsAndMeaning)
        .expect("opens for words");
    assert!(
        engine
            .meaning_error()
            .is_some_and(|e| e.contains("views.f16")),
        "{:?}",
        engine.meaning_error()
    );
    drop(engine);
    // A write fails on them as on damaged vectors, naming the file; a rebuild makes them again.
    let embedder = ModelSource::default().load().expect("model");
    let files = digests(&["2024-03-0"]);
    let refused = update::index_files(
        dir.path(),
        &files,
        &embedder,
        UpdateOptions::default(),
        &Quiet,
    );
    assert!(
        matches!(&refused, Err(Error::IndexDamaged { path, .. }) if path.ends_with("views.f16")),
        "{refused:?}"
    );
    let rebuild = UpdateOptions {
        rebuild: true,
        ..UpdateOptions::default()
    };
    let rebuilt = update::index_files(dir.path(), &files, &embedder, rebuild, &Quiet)
        .expect("a rebuild repairs the index")
        .update;
    assert!(
        matches!(
            rebuilt,
            Update::Written {
                texts_embedded: 0,
                ..
            }
        ),
        "{rebuilt:?}"
    );
    let views = Store::open(dir.path())
        .expect("opens")
        .script_views()
        .expect("views readable")
        .expect("views made again");
    assert_eq!(views.len(), papers);
    assert!(paperscope::store::check(dir.path()).healthy);
}

#[test]
fn an_updated_paper_is_found_by_its_new_text_only() {
    let dir = tempfile::tempdir().expect("tmp");
    index_into(dir.path(), &["2024-03-0"]);
    let store = Store::open(dir.path()).expect("opens");
    let count = store.manifest.paper_count;
    let mut paper = store.papers().expect("papers").swap_remove(3);
    drop(store);
    let old_title = paper.title_en.clone();
    paper.version = Some(paper.version.unwrap_or(1) + 1);
    paper.title_en = "Quokka-style lattice fermentation of sparse gradients".into();
    let file = dir.path().join("2024-03-31_cs.CL_update.md");
    std::fs::write(&file, paperscope::digest::render::render(&[paper.clone()])).expect("write");
    let embedder = ModelSource::default().load().expect("model");
    let report = update::index_files(
        dir.path(),
        &[file],
        &embedder,
        UpdateOptions::default(),
        &Quiet,
    )
    .expect("update");
    assert!(matches!(
        report.update,
        Update::Written {
            updated: 1,
            added: 0,
            ..
        }
    ));
    assert_eq!(
        Store::open(dir.path()).expect("opens").manifest.paper_count,
        count
    );
    let found = bm25_top(dir.path(), "quokka fermentation");
    assert_eq!(
        found.first().map(|(id, _)| id.as_str()),
        Some(paper.arxiv_id.as_str())
    );
    assert_eq!(
        found.iter().filter(|(id, _)| *id == paper.arxiv_id).count(),
        1
    );
    let phrase = format!("\"{}\"", old_title.replace('"', " "));
    assert!(
        bm25_top(dir.path(), &phrase)
            .iter()
            .all(|(id, _)| *id != paper.arxiv_id),
        "the old title still finds {}",
        paper.arxiv_id
    );
    assert!(paperscope::store::check(dir.path()).healthy);
}
