//! The shipped embedding model: it loads, tokenizes exactly like the package it was distilled
//! from, and puts a paper's Chinese and English text close together.

use std::path::Path;

use paperscope::embed::{Embedder, dot};

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
    let a = embedder.embed("retrieval-augmented generation");
    assert_eq!(a.len(), embedder.dims());
    assert!((dot(&a, &a) - 1.0).abs() < 1e-4);
    assert_eq!(a, embedder.embed("retrieval-augmented generation"));
    assert!(embedder.embed("").iter().all(|&x| x == 0.0));
}

#[test]
fn a_papers_chinese_and_english_texts_are_closer_than_an_unrelated_paper() {
    let embedder = model();
    // ERBench (2403.05266): its Chinese summary, its English title, and an unrelated paper.
    let zh = embedder.embed("ERBench是一个基于实体关系的大型语言模型幻觉基准，通过自动转换任何关系数据库并构建可自动验证的问题");
    let en = embedder.embed("ERBench: An Entity-Relationship based Automatically Verifiable Hallucination Benchmark for Large Language Models");
    let other =
        embedder.embed("Minimum wage and manufacturing labor share: Evidence from North Macedonia");
    assert!(
        dot(&zh, &en) > dot(&zh, &other) + 0.1,
        "{} vs {}",
        dot(&zh, &en),
        dot(&zh, &other)
    );
    let zh_finance = embedder.embed("最低工资与制造业劳动份额");
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
    for name in ["tokenizer.json", "model.safetensors"] {
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
    assert_eq!(built_in.embed(text), from_files.embed(text));
}
