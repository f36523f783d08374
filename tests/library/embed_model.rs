//! The shipped embedding models: they load, tokenize exactly like the packages they come from,
//! e5 gives the package's own vectors, and a paper's Chinese and English text lie close together.

use std::path::Path;

use paperscope::embed::{Embedder, ModelKind, dot};

fn model() -> Embedder {
    Embedder::shipped().expect("shipped model loads")
}

#[test]
fn token_ids_match_the_source_package() {
    let embedder = model();
    let check =
        std::fs::read_to_string(model_dir().join("tokenizer_check.json")).expect("check file");
    let cases: serde_json::Value = serde_json::from_str(&check).expect("json");
    let cases = cases.as_array().expect("array");
    assert!(cases.len() >= 8);
    for case in cases {
        let text = case["text"].as_str().expect("text");
        let want: Vec<u32> = case["ids"]
            .as_array()
            .expect("ids")
            .iter()
            .filter_map(|v| v.as_u64().map(|x| x as u32))
            .collect();
        assert_eq!(embedder.token_ids(text), want, "{text:?}");
    }
}

#[test]
fn vectors_are_unit_length_and_deterministic() {
    let embedder = model();
    let a = embedder.embed_query("retrieval-augmented generation");
    assert_eq!(a.len(), embedder.dims());
    assert!((dot(&a, &a) - 1.0).abs() < 1e-4);
    assert_eq!(a, embedder.embed_query("retrieval-augmented generation"));
    assert!(embedder.embed_query("").iter().all(|&x| x == 0.0));
}

#[test]
fn a_papers_chinese_and_english_texts_are_closer_than_an_unrelated_paper() {
    let embedder = model();
    // ERBench (2403.05266): its Chinese summary, its English title, and an unrelated paper.
    let zh = embedder.embed_query("ERBench是一个基于实体关系的大型语言模型幻觉基准，通过自动转换任何关系数据库并构建可自动验证的问题");
    let en = embedder.embed_query("ERBench: An Entity-Relationship based Automatically Verifiable Hallucination Benchmark for Large Language Models");
    let other = embedder
        .embed_query("Minimum wage and manufacturing labor share: Evidence from North Macedonia");
    assert!(
        dot(&zh, &en) > dot(&zh, &other) + 0.1,
        "{} vs {}",
        dot(&zh, &en),
        dot(&zh, &other)
    );
    let zh_finance = embedder.embed_query("最低工资与制造业劳动份额");
    assert!(dot(&zh_finance, &other) > dot(&zh_finance, &en));
}

#[test]
fn missing_or_corrupt_model_files_are_named() {
    let tmp = tempfile::tempdir().expect("tmp");
    let err = Embedder::load(tmp.path())
        .err()
        .expect("no files")
        .to_string();
    assert!(err.contains("tokenizer.json"), "{err}");
    std::fs::copy(
        model_dir().join("tokenizer.json"),
        tmp.path().join("tokenizer.json"),
    )
    .expect("copy");
    let err = Embedder::load(tmp.path())
        .err()
        .expect("no weights")
        .to_string();
    assert!(err.contains("model.safetensors"), "{err}");
    std::fs::write(tmp.path().join("model.safetensors"), b"garbage").expect("write");
    let err = Embedder::load(tmp.path())
        .err()
        .expect("corrupt weights")
        .to_string();
    assert!(err.contains("model.safetensors"), "{err}");
    std::fs::write(tmp.path().join("tokenizer.json"), b"{").expect("write");
    let err = Embedder::load(tmp.path())
        .err()
        .expect("corrupt tokenizer")
        .to_string();
    assert!(err.contains("tokenizer.json"), "{err}");
}

#[test]
fn committed_files_match_their_recorded_checksums() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/model/README.md"))
            .expect("model README");
    for name in [
        "tokenizer.json",
        "model.safetensors",
        "e5/model.safetensors",
    ] {
        let bytes = std::fs::read(model_dir().join(name)).expect("model file");
        let digest = paperscope::embed::sha256_hex(&bytes);
        assert!(
            readme.contains(&format!("{digest}  {name}")),
            "{name}: {digest} not recorded in data/model/README.md"
        );
    }
}

/// The model's source files in the repository (the binary carries a copy of them).
fn model_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/model")
}

#[test]
fn the_built_in_model_is_the_one_in_data_model() {
    let built_in = Embedder::shipped().expect("built-in model");
    let from_files = Embedder::load(&model_dir()).expect("model files");
    assert_eq!(built_in.checksum(), from_files.checksum());
    assert_eq!(built_in.model_id(), from_files.model_id());
    let text = "检索增强生成 retrieval augmented generation";
    assert_eq!(built_in.embed_query(text), from_files.embed_query(text));
}

fn e5() -> Embedder {
    Embedder::shipped_kind(ModelKind::E5Small).expect("shipped e5 loads")
}

fn e5_fixture() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/e5_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

fn numbers<T>(value: &serde_json::Value, as_t: impl Fn(f64) -> T) -> Vec<T> {
    value
        .as_array()
        .expect("array")
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .map(as_t)
        .collect()
}

#[test]
fn e5_gives_the_packages_token_ids_and_vectors() {
    let embedder = e5();
    let fixture = e5_fixture();
    let cases = fixture["cases"].as_array().expect("cases");
    assert!(cases.len() >= 50, "{} cases", cases.len());
    let mut cosines = Vec::new();
    for case in cases {
        let text = case["text"].as_str().expect("text");
        let query = case["kind"] == "query";
        let prefix = if query { "query: " } else { "passage: " };
        let mut ids = vec![0];
        ids.extend(embedder.token_ids(&format!("{prefix}{text}")));
        ids.push(2);
        assert_eq!(ids, numbers(&case["ids"], |x| x as u32), "{text:?}");
        let want: Vec<f32> = numbers(&case["vector"], |x| x as f32);
        let got = if query {
            embedder.embed_query(text)
        } else {
            embedder.embed_passage(text)
        };
        let cosine = dot(&got, &want) / dot(&want, &want).sqrt();
        assert!(cosine >= 0.99, "cosine {cosine} for {text:?}");
        cosines.push(cosine);
    }
    let mean = cosines.iter().sum::<f32>() / cosines.len() as f32;
    let min = cosines.iter().copied().fold(f32::INFINITY, f32::min);
    eprintln!("e5 against the package: cosine min {min:.5}, mean {mean:.5}");
}

#[test]
fn e5_batches_give_the_vectors_of_single_texts() {
    let embedder = e5();
    let fixture = e5_fixture();
    let texts: Vec<&str> = fixture["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter(|c| c["kind"] == "passage")
        .filter_map(|c| c["text"].as_str())
        .collect();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let batch = embedder.embed_passages(&texts, |n| {
        done.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(done.into_inner(), texts.len());
    for (text, v) in texts.iter().zip(&batch) {
        let single = embedder.embed_passage(text);
        assert!(dot(v, &single) > 0.9999, "{text:?}");
    }
}

/// A short text alone takes the few-row path (8-bit weights, f32 activations, on every core); run
/// in one batch with a long passage it takes the batch path: the f32 GEMM gives the same vector,
/// the integer kernels (8-bit activations too) one within their tolerance (over all of data/'s
/// texts the two batch paths' vectors are >= 0.99985 apart: BENCHMARKS.md).
#[test]
fn e5_short_texts_give_the_same_vector_alone_and_in_a_batch() {
    let embedder = e5();
    let fixture = e5_fixture();
    let cases = fixture["cases"].as_array().expect("cases");
    let long = cases
        .iter()
        .find(|c| c["kind"] == "passage")
        .and_then(|c| c["text"].as_str())
        .expect("a passage");
    let short: Vec<&str> = cases
        .iter()
        .filter(|c| c["kind"] == "query")
        .filter_map(|c| c["text"].as_str())
        .collect();
    assert!(!short.is_empty());
    let floor = match paperscope::embed::passage_kernel() {
        paperscope::embed::PassageKernel::F32 => 0.99999,
        paperscope::embed::PassageKernel::Int8(_) => 0.999,
    };
    for text in short {
        assert!(embedder.token_ids(text).len() < 30, "{text:?} is not short");
        let alone = embedder.embed_passage(text);
        let batch = embedder.embed_passages(&[text, long], |_| {});
        let cosine = dot(&alone, &batch[0]);
        assert!(cosine > floor, "cosine {cosine} for {text:?}");
    }
}

/// Every line of data/digests tokenizes with the pruned vocabulary exactly as with the package's
/// full one (the fixture holds a hash of the package's ids).
#[test]
fn e5_pruned_vocabulary_tokenizes_all_of_data_like_the_package() {
    use sha2::Digest;
    let embedder = e5();
    let fixture = e5_fixture();
    let mut paths: Vec<_> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digests"))
            .expect("data/digests")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .collect();
    paths.sort();
    let lines: Vec<String> = paths
        .iter()
        .flat_map(|p| {
            let text = std::fs::read_to_string(p).expect("digest");
            text.split('\n')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| format!("passage: {l}"))
                .collect::<Vec<_>>()
        })
        .collect();
    let ids: Vec<Vec<u32>> = {
        use rayon::prelude::*;
        lines.par_iter().map(|l| embedder.token_ids(l)).collect()
    };
    let mut sha = sha2::Sha256::new();
    for line in &ids {
        for id in line {
            sha.update(id.to_le_bytes());
        }
        sha.update(u32::MAX.to_le_bytes());
    }
    let digest: String = sha.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let tokens: usize = ids.iter().map(Vec::len).sum();
    assert_eq!(
        lines.len() as u64,
        fixture["data_lines"].as_u64().expect("lines")
    );
    assert_eq!(
        tokens as u64,
        fixture["data_tokens"].as_u64().expect("tokens")
    );
    assert_eq!(digest, fixture["data_ids_sha256"].as_str().expect("sha"));
}

/// The cache of data/'s texts shipped in data/embeddings/ (so a first index of the sample data
/// embeds nothing) holds what the model gives: a sample of papers is embedded again.
#[test]
fn the_shipped_embedding_cache_holds_the_models_vectors() {
    use paperscope::embed::Recipe;
    use paperscope::embed::cache::{EmbeddingCache, cache_file_name, text_key};
    let embedder = e5();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = repo
        .join("data/embeddings")
        .join(cache_file_name(&embedder));
    let cache = EmbeddingCache::open(&path, embedder.cache_key(), embedder.dims()).expect("cache");
    let papers = paperscope::digest::load_with(
        paperscope::digest::find_digests(&[repo.join("data/digests")]),
        paperscope::digest::OnBadFile::Skip,
        || {},
    )
    .expect("digests")
    .papers;
    let recipe = Recipe::for_model(ModelKind::E5Small);
    assert!(cache.len() >= papers.len() * recipe.texts(&papers[0]).len());
    assert_eq!(cache.dropped(), 0, "no damaged record");
    for paper in papers.iter().step_by(papers.len() / 12) {
        for text in recipe.texts(paper) {
            let cached = cache
                .get(&text_key(embedder.cache_key(), &text))
                .unwrap_or_else(|| panic!("{} is not in {}", paper.arxiv_id, path.display()));
            let fresh = embedder.embed_passage(&text);
            let cosine = dot(cached, &fresh);
            assert!(cosine > 0.9999, "{}: cosine {cosine}", paper.arxiv_id);
        }
    }
}
