//! Parsing (MB/s), indexing (papers/s), embedding (texts/s, 1 and 2 threads) and query latency
//! on the sample digests of `data/`; e5: passages/s at 128 tokens, query time, cold load, and the
//! `tokenizers` crate's build time for e5's vocabulary (the alternative its tokenizer replaces).
//! `cargo bench --bench pipeline -- e5` runs the e5 part alone.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use paperscope::Engine;
use paperscope::digest::{self, parse_str};
use paperscope::embed::{Embedder, ModelKind, Recipe};
use paperscope::fulltext;
use paperscope::progress::Quiet;
use paperscope::query::Filters;
use paperscope::search::Meaning;
use paperscope::search::{Mode, SearchRequest};
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
            |b| b.iter(|| pool.install(|| embedder.embed_passages(&abstracts, |_| {}))),
        );
        group.throughput(Throughput::Elements(papers.len() as u64));
        group.bench_function(
            format!("1000 papers (one text + titles), {threads} thread(s)"),
            |b| {
                b.iter(|| {
                    pool.install(|| {
                        embedder.paper_vectors(&papers, Recipe::OneTextPlusTitles, |_| {})
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
    let views = store.script_views().expect("views load");
    let embedder = std::sync::Arc::new(embedder);
    let engine = Engine::new(
        store,
        Some(Meaning {
            embedder,
            vectors,
            views,
        }),
    );
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
        for mode in [Mode::Bm25, Mode::Vector, Mode::Hybrid] {
            let request = SearchRequest::new(query)
                .mode(mode)
                .filters(filters.clone());
            group.bench_function(format!("{mode} {name}"), |b| {
                b.iter(|| engine.rank(&request).expect("search runs"))
            });
        }
    }
    let request = SearchRequest::new("hallucination benchmark")
        .mode(Mode::Bm25)
        .filters(filters.clone());
    group.bench_function("bm25 english, with records and snippets", |b| {
        b.iter(|| engine.search(&request).expect("search runs"))
    });
    group.finish();
}

/// The fixture's passages: real English and Chinese texts of data/, each 128 tokens with the prefix.
fn e5_passages() -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/e5_reference.json");
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    fixture["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter(|c| c["kind"] == "passage")
        .filter_map(|c| c["text"].as_str().map(str::to_string))
        .collect()
}

fn e5(c: &mut Criterion) {
    let texts = e5_passages();
    let embedder = Embedder::shipped_kind(ModelKind::E5Small).expect("e5 loads");
    let mut group = c.benchmark_group("e5");
    group.sample_size(10);
    group.throughput(Throughput::Elements(texts.len() as u64));
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        group.bench_function(
            format!(
                "{} passages of 128 tokens, {threads} thread(s)",
                texts.len()
            ),
            |b| b.iter(|| pool.install(|| embedder.embed_passages(&texts, |_| {}))),
        );
    }
    group.throughput(Throughput::Elements(1));
    // A number makes every query new: the embedder answers a repeated query from its cache.
    let mut asked = 0u64;
    group.bench_function("query (\"hallucination benchmark N\", never cached)", |b| {
        b.iter(|| {
            asked += 1;
            embedder.embed_query(&format!("hallucination benchmark {asked}"))
        })
    });
    group.bench_function("cold: load the built-in model + embed one query", |b| {
        b.iter(|| {
            Embedder::shipped_kind(ModelKind::E5Small)
                .expect("e5 loads")
                .embed_query("hallucination benchmark")
        })
    });
    group.bench_function(
        "tokenizers crate: build a Unigram of the pruned vocabulary",
        |b| {
            let vocab = e5_vocabulary();
            b.iter(|| {
                tokenizers::models::unigram::Unigram::from(vocab.clone(), Some(3), false)
                    .expect("unigram builds")
            })
        },
    );
    group.finish();
}

/// (piece, score) of the pruned e5 vocabulary, read from the model file.
fn e5_vocabulary() -> Vec<(String, f64)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/model/e5/model.safetensors");
    let bytes = std::fs::read(path).expect("e5 model");
    let tensors = safetensors::SafeTensors::deserialize(&bytes).expect("safetensors");
    let u32s = |name: &str| -> Vec<u32> {
        let t = tensors.tensor(name).expect("tensor");
        t.data()
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let offsets = u32s("tok.offsets");
    let scores: Vec<f32> = u32s("tok.scores").into_iter().map(f32::from_bits).collect();
    let pieces = tensors.tensor("tok.pieces").expect("pieces");
    offsets
        .windows(2)
        .zip(scores)
        .map(|(w, s)| {
            let piece = &pieces.data()[w[0] as usize..w[1] as usize];
            (String::from_utf8_lossy(piece).into_owned(), f64::from(s))
        })
        .collect()
}

criterion_group!(benches, parsing, indexing, embedding, querying, e5);
criterion_main!(benches);
