//! Parsing (MB/s), indexing (papers/s), embedding (texts/s, 1 and 2 threads) and query latency
//! on the sample digests of `data/`.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use paperscope::Engine;
use paperscope::digest::{self, parse_str};
use paperscope::embed::{Embedder, Recipe};
use paperscope::fulltext;
use paperscope::progress::Quiet;
use paperscope::query::{Filters, SearchQuery};
use paperscope::search::Meaning;
use paperscope::search::Mode;
use paperscope::store::Store;
use paperscope::update::{self, UpdateOptions};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/digests")
}

fn digests() -> Vec<(String, String)> {
    let files = digest::digest_files(&[data_dir()]).expect("data/digests lists");
    files
        .iter()
        .map(|f| {
            (
                f.display().to_string(),
                std::fs::read_to_string(f).expect("sample digest reads"),
            )
        })
        .collect()
}

fn all_papers() -> Vec<paperscope::Paper> {
    let files = digest::digest_files(&[data_dir()]).expect("data/digests lists");
    digest::load(&files, || {})
        .expect("sample digests load")
        .papers
}

fn embedder() -> Embedder {
    Embedder::shipped().expect("shipped model loads")
}

fn parsing(c: &mut Criterion) {
    let files = digests();
    let bytes: usize = files.iter().map(|(_, t)| t.len()).sum();
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(10);
    group.bench_function("all digests", |b| {
        b.iter(|| {
            files
                .iter()
                .map(|(name, text)| parse_str(text, name, None).papers.len())
                .sum::<usize>()
        })
    });
    group.finish();
}

fn indexing(c: &mut Criterion) {
    let papers: Vec<_> = all_papers().into_iter().take(2000).collect();
    let mut group = c.benchmark_group("index");
    group.throughput(Throughput::Elements(papers.len() as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("2000 papers, text index", |b| {
        b.iter(|| {
            let dir = tempfile::tempdir().expect("tmp");
            fulltext::build(dir.path(), &papers, || {}).expect("index builds")
        })
    });
    group.finish();
}

fn embedding(c: &mut Criterion) {
    let papers: Vec<_> = all_papers().into_iter().take(1000).collect();
    let abstracts: Vec<String> = papers.iter().map(|p| p.abstract_en.clone()).collect();
    let embedder = embedder();
    let mut group = c.benchmark_group("embed");
    group.sample_size(10);
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        group.throughput(Throughput::Elements(abstracts.len() as u64));
        group.bench_function(
            format!("1000 English abstracts, {threads} thread(s)"),
            |b| b.iter(|| pool.install(|| embedder.embed_batch(&abstracts, || {}))),
        );
        group.throughput(Throughput::Elements(papers.len() as u64));
        group.bench_function(
            format!("1000 papers (one text + titles), {threads} thread(s)"),
            |b| {
                b.iter(|| {
                    pool.install(|| {
                        embedder.paper_vectors(&papers, Recipe::OneTextPlusTitles, || {})
                    })
                })
            },
        );
    }
    group.finish();
}

fn querying(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tmp");
    let embedder = embedder();
    update::update(
        dir.path(),
        all_papers(),
        &embedder,
        UpdateOptions::default(),
        &Quiet,
    )
    .expect("index builds");
    let store = Store::open(dir.path()).expect("index opens");
    let vectors = store.vectors(&embedder).expect("vectors load");
    let embedder = std::sync::Arc::new(embedder);
    let engine = Engine::new(store, Some(Meaning { embedder, vectors }));
    let filters = Filters::default();
    let mut group = c.benchmark_group("query (8,320 papers)");
    for (name, query) in [
        ("english", "hallucination benchmark"),
        ("chinese", "幻觉 基准"),
        (
            "question",
            "how can a language model forget private training data",
        ),
    ] {
        let query = SearchQuery::parse(query).expect("valid query");
        for mode in [Mode::Bm25, Mode::Vector, Mode::Hybrid] {
            group.bench_function(format!("{mode} {name}"), |b| {
                b.iter(|| {
                    engine
                        .rank(&query, &filters, 10, mode)
                        .expect("search runs")
                })
            });
        }
    }
    let query = SearchQuery::parse("hallucination benchmark").expect("valid query");
    group.bench_function("bm25 english, with records and snippets", |b| {
        b.iter(|| {
            engine
                .search(&query, &filters, 10, Mode::Bm25)
                .expect("search runs")
        })
    });
    group.finish();
}

criterion_group!(benches, parsing, indexing, embedding, querying);
criterion_main!(benches);
