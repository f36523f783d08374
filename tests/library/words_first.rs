//! Words first: a new index with texts to embed is committed with its words (searchable, with
//! topics, at once), then its vectors; finished in the same run or later, it is the index
//! built in one go. The static model keeps it quick: its cache starts empty, so every text is
//! embedded.

use std::path::{Path, PathBuf};

use paperscope::embed::{Embedder, ModelKind};
use paperscope::progress::Quiet;
use paperscope::search::Mode;
use paperscope::update::{self, Update, UpdateOptions};
use paperscope::{Engine, ModelSource, Needs, SearchRequest, Store};

fn model() -> ModelSource {
    ModelSource::Shipped(ModelKind::Static)
}

fn two_digests() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digests");
    [
        "2024-03-06_cs.CL_0a55959e.md",
        "2023-08-31_cs.AI_dde2c3e0.md",
    ]
    .iter()
    .map(|name| dir.join(name))
    .collect()
}

fn index(dir: &Path, embedder: &Embedder, options: UpdateOptions) -> Update {
    update::index_files(dir, &two_digests(), embedder, options, &Quiet)
        .expect("index builds")
        .update
}

/// The topic model as JSON without its fitting time.
fn topics_of(dir: &Path) -> (serde_json::Value, serde_json::Value) {
    let store = Store::open(dir).expect("opens");
    let json = |model: Option<paperscope::topics::TopicModel>| {
        let mut value = serde_json::to_value(model.expect("topics")).expect("JSON");
        value["seconds"] = serde_json::Value::Null;
        value
    };
    (
        json(store.topics().expect("topics")),
        json(store.coarse_topics().expect("coarse")),
    )
}

fn ranking(dir: &Path, query: &str, mode: Mode) -> Vec<(String, u32)> {
    let engine = Engine::open(dir, &model(), Needs::WordsAndMeaning).expect("opens");
    let response = engine
        .search(&SearchRequest::new(query).mode(mode).limit(20))
        .expect("searches");
    response
        .results
        .iter()
        .map(|r| (r.arxiv_id.clone(), r.score.to_bits()))
        .collect()
}

#[test]
fn words_come_first_and_the_finished_index_is_the_one_built_in_one_go() {
    let embedder = model().load().expect("model");
    let one_go = tempfile::tempdir().expect("tmp");
    index(
        one_go.path(),
        &embedder,
        UpdateOptions {
            words_first_above: Some(usize::MAX),
            ..UpdateOptions::default()
        },
    );
    assert!(
        Store::open(one_go.path())
            .expect("opens")
            .manifest
            .vectors_complete()
    );

    // Deferred: the words (and topics) are committed, no vector is made yet.
    let later = tempfile::tempdir().expect("tmp");
    let deferred = UpdateOptions {
        words_first_above: Some(0),
        defer_embedding: true,
        ..UpdateOptions::default()
    };
    index(later.path(), &embedder, deferred.clone());
    let store = Store::open(later.path()).expect("opens");
    let papers = store.manifest.paper_count;
    assert!(papers > 200, "{papers} papers");
    assert_eq!(store.manifest.papers_with_vectors(), 0);
    assert!(store.topics().expect("topics").is_some());
    drop(store);
    let engine = Engine::open(later.path(), &model(), Needs::WordsAndMeaning).expect("opens");
    let hybrid = engine
        .search(&SearchRequest::new("large language model agents"))
        .expect("hybrid");
    assert!(!hybrid.results.is_empty());
    assert!(
        hybrid.warnings.iter().any(
            |w| w.contains(&format!("meaning covers 0 of {papers} papers"))
                && w.contains("found by their words only")
        ),
        "{:?}",
        hybrid.warnings
    );
    let vector = engine
        .search(&SearchRequest::new("large language model agents").mode(Mode::Vector))
        .expect("vector");
    assert!(vector.results.is_empty());
    assert!(
        vector
            .warnings
            .iter()
            .any(|w| w.contains("cannot be found by meaning yet")),
        "{:?}",
        vector.warnings
    );
    let coarse = engine.topics(paperscope::search::TopicLevel::Coarse);
    assert!(
        coarse.is_err_and(|e| e.to_string().contains("has 0 of")),
        "coarse topics of an index being embedded"
    );
    drop(engine);
    // A refit would fit topics on missing vectors: refused, naming why.
    let refit = update::refit_topics(later.path(), &embedder, Default::default(), &Quiet);
    assert!(
        refit.is_err_and(|e| e
            .to_string()
            .contains("a topic refit needs every paper's vector")),
        "a refit of an index being embedded"
    );

    // Finished later (as a server does), then nothing is left to finish.
    let finished =
        update::finish_embedding(later.path(), &embedder, &deferred, &Quiet).expect("finishes");
    assert!(matches!(finished, Update::Written { texts_embedded, .. } if texts_embedded > 0));
    assert!(matches!(
        update::finish_embedding(later.path(), &embedder, &deferred, &Quiet).expect("again"),
        Update::Unchanged { .. }
    ));

    // In the same run: words first, then every vector, said in the update.
    let same_run = tempfile::tempdir().expect("tmp");
    let done = index(
        same_run.path(),
        &embedder,
        UpdateOptions {
            words_first_above: Some(0),
            ..UpdateOptions::default()
        },
    );
    let Update::Written {
        generation,
        words_first: Some((first, _)),
        ..
    } = done
    else {
        panic!("no words-first generation in {done:?}");
    };
    assert!(first < generation, "{first} then {generation}");

    for dir in [later.path(), same_run.path()] {
        let store = Store::open(dir).expect("opens");
        assert!(store.manifest.vectors_complete());
        let (ours, theirs) = (
            store.vectors(&embedder).expect("vectors"),
            Store::open(one_go.path())
                .expect("opens")
                .vectors(&embedder)
                .expect("vectors"),
        );
        for i in 0..store.manifest.paper_count {
            let n = paperscope::PaperNumber::from_index(i);
            assert_eq!(ours.vector_of(n), theirs.vector_of(n), "paper {i}");
        }
        assert_eq!(topics_of(dir), topics_of(one_go.path()));
        for mode in [Mode::Hybrid, Mode::Vector, Mode::Bm25] {
            for query in [
                "retrieval augmented generation",
                "幻觉",
                "reinforcement learning agents",
            ] {
                assert_eq!(
                    ranking(dir, query, mode),
                    ranking(one_go.path(), query, mode),
                    "{query} ({mode:?})"
                );
            }
        }
    }
}
