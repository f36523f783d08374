//! Parsing (MB/s), indexing (papers/s) and BM25 query latency on the sample digests of `data/`.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use paperscope::digest::{self, parse_str};
use paperscope::query::{Filters, SearchQuery};
use paperscope::store::{self, Store};

fn digests() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/digests");
    let files = digest::digest_files(&[dir]).expect("data/digests lists");
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).expect("sample digest reads");
            (f.display().to_string(), text)
        })
        .collect()
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

fn all_papers() -> Vec<paperscope::Paper> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/digests");
    let files = digest::digest_files(&[dir]).expect("data/digests lists");
    digest::load(&files, || {})
        .expect("sample digests load")
        .papers
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
            store::update(dir.path(), papers.clone(), |_| {}).expect("index builds")
        })
    });
    group.finish();
}

fn querying(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tmp");
    store::update(dir.path(), all_papers(), |_| {}).expect("index builds");
    let store = Store::open(dir.path()).expect("index opens");
    let filters = Filters::default();
    let mut group = c.benchmark_group("bm25 query (8,320 papers)");
    for (name, query) in [
        ("english", "hallucination benchmark"),
        ("chinese", "幻觉 基准"),
        (
            "question",
            "how can a language model forget private training data",
        ),
    ] {
        let query = SearchQuery::parse(query).expect("valid query");
        group.bench_function(name, |b| {
            b.iter(|| {
                store
                    .text
                    .search(&query, &filters, 10)
                    .expect("search runs")
            })
        });
    }
    let query = SearchQuery::parse("hallucination benchmark").expect("valid query");
    group.bench_function("english, with snippets and records", |b| {
        b.iter(|| paperscope::search::search(&store, &query, &filters, 10).expect("search runs"))
    });
    group.finish();
}

criterion_group!(benches, parsing, indexing, querying);
criterion_main!(benches);
