//! Vector search, the model check and the vector-index failure paths, through the binary.

use std::path::Path;

use crate::support::*;

#[test]
fn a_chinese_question_finds_english_hallucination_papers_by_meaning() {
    let response = search(&["--mode", "vector", "如何检测大语言模型的幻觉"]);
    assert_eq!(response["mode"], "vector");
    let results = response["results"].as_array().expect("results");
    let about = results[..5]
        .iter()
        .filter(|r| {
            r["title_en"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase()
                .contains("hallucinat")
        })
        .count();
    assert!(
        about >= 3,
        "only {about} of the top 5 are about hallucination: {results:?}"
    );
}

#[test]
fn vector_search_respects_filters() {
    let response = search(&[
        "--mode",
        "vector",
        "-n",
        "20",
        "--category",
        "q-fin",
        "--since",
        "2024",
        "stock prediction",
    ]);
    let results = response["results"].as_array().expect("results");
    assert_eq!(results.len(), 20);
    for r in results {
        let id = r["arxiv_id"].as_str().expect("id");
        assert!(&id[..2] >= "24", "{id} before 2024");
        let shown = show(id);
        assert!(
            format!("{} {}", shown["category"], shown["listings"]).contains("q-fin"),
            "{id}"
        );
    }
}

#[test]
fn crosslingual_known_item_test_beats_the_reference() {
    // Every 16th paper's texts as queries (all 8,320 stay documents): e5 embeds ~60 queries/s.
    let report = run_json(&[
        "--json",
        "--index",
        shared_index(),
        "eval",
        "crosslingual",
        "--stride",
        "16",
    ]);
    let r = &report["zh_summary_to_en"];
    assert_eq!(report["papers"], 8320);
    assert_eq!(r["queries"], 520);
    // e5 with every 4th paper as a query: R@1 0.632, R@10 0.825 (the static model: 0.55, 0.78).
    assert!(r["r1"].as_f64().unwrap_or(0.0) >= 0.55, "{r}");
    assert!(r["r10"].as_f64().unwrap_or(0.0) >= 0.78, "{r}");
    let no_latin = &report["zh_summary_no_latin_to_en"];
    assert!(no_latin["r1"].as_f64().unwrap_or(0.0) >= 0.33, "{no_latin}");
    assert!(
        no_latin["r10"].as_f64().unwrap_or(0.0) >= 0.58,
        "{no_latin}"
    );
}

#[test]
fn hnsw_recall_at_the_default_ef_is_at_least_098() {
    let report = run_json(&[
        "--json",
        "--index",
        shared_index(),
        "eval",
        "ann",
        "--stride",
        "16",
    ]);
    let default_ef = paperscope::vectors::DEFAULT_EF_SEARCH;
    let at_default = report["curve"]
        .as_array()
        .expect("curve")
        .iter()
        .find(|p| p["ef"] == default_ef)
        .and_then(|p| p["recall10"].as_f64())
        .unwrap_or(0.0);
    assert!(
        at_default >= 0.98,
        "recall@10 at the default ef={default_ef}, with query texts: {at_default}"
    );
}

/// A model with another id and tiny vectors, in the layout `Embedder::load` reads.
fn other_model(dir: &Path) {
    std::fs::copy(
        repo().join("data/model/tokenizer.json"),
        dir.join("tokenizer.json"),
    )
    .expect("copy tokenizer");
    let vocab = 128_000usize;
    let dims = 4usize;
    let values: Vec<u8> = (0..vocab * dims).map(|i| (i % 7) as u8).collect();
    let scales: Vec<u8> = (0..vocab).flat_map(|_| 0.1f32.to_le_bytes()).collect();
    let tensors = vec![
        (
            "embeddings",
            safetensors::tensor::TensorView::new(
                safetensors::Dtype::I8,
                vec![vocab, dims],
                &values,
            )
            .expect("view"),
        ),
        (
            "scales",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![vocab], &scales)
                .expect("view"),
        ),
    ];
    let metadata =
        std::collections::HashMap::from([("model_id".to_string(), "test-other-model".to_string())]);
    safetensors::tensor::serialize_to_file(tensors, Some(metadata), &dir.join("model.safetensors"))
        .expect("write model");
}

#[test]
fn an_index_built_with_another_model_is_refused_until_rebuilt() {
    let (tmp, index) = small_index();
    let model = tmp.path().join("other-model");
    std::fs::create_dir(&model).expect("mkdir");
    other_model(&model);
    let model = model.to_string_lossy().into_owned();
    let output = run(&[
        "--index", &index, "--model", &model, "search", "--mode", "vector", "anything",
    ]);
    assert_fails_naming(&output, "test-other-model");
    assert!(stderr(&output).contains("re-index"), "{}", stderr(&output));
    let more = digest("2024-04-03_cs.IR_59fc0cb9.md");
    let output = run(&[
        "--index",
        &index,
        "--model",
        &model,
        "index",
        &more.to_string_lossy(),
    ]);
    assert_fails_naming(&output, "test-other-model");
    let summary = run_json(&[
        "--json",
        "--index",
        &index,
        "--model",
        &model,
        "index",
        "--rebuild",
        &more.to_string_lossy(),
    ]);
    assert_eq!(summary["embedded"], summary["papers"]);
    let response = run_json(&[
        "--json", "--index", &index, "--model", &model, "search", "--mode", "vector", "anything",
    ]);
    assert!(!ids(&response).is_empty());
}

#[test]
fn corrupt_vectors_are_a_clear_error_and_bm25_still_answers() {
    let (_tmp, index) = small_index();
    let vectors = Path::new(&index).join("gen-000001/vectors/vectors.f32");
    let mut bytes = std::fs::read(&vectors).expect("vectors file");
    bytes[100] ^= 0x55;
    std::fs::write(&vectors, bytes).expect("corrupt it");
    let output = run(&[
        "--index",
        &index,
        "search",
        "--mode",
        "vector",
        "unlearning",
    ]);
    assert_fails_naming(&output, "vectors.f32");
    let response = run_json(&[
        "--json",
        "--index",
        &index,
        "search",
        "--mode",
        "bm25",
        "unlearning",
    ]);
    assert!(!ids(&response).is_empty());
}

#[test]
fn updating_embeds_only_new_and_changed_papers() {
    let (_tmp, index) = small_index();
    let before = paper_count(&index);
    let summary = index_one_more(&index);
    let after = summary["papers"].as_u64().unwrap_or(0);
    assert!(summary["embedded"].as_u64().unwrap_or(0) >= after - before);
    assert!(
        summary["embedded"].as_u64().unwrap_or(u64::MAX) < after,
        "{summary}"
    );
    let response = run_json(&[
        "--json",
        "--index",
        &index,
        "search",
        "--mode",
        "vector",
        "-n",
        "3",
        "recommendation",
    ]);
    assert_eq!(ids(&response).len(), 3);
}

#[test]
fn related_finds_papers_judged_relevant_to_the_same_need() {
    let report = run_json(&[
        "--json",
        "--index",
        shared_index(),
        "eval",
        "related",
        "--queries",
        "tests/queries.tsv",
        "--queries",
        "tests/queries_heldout.tsv",
        "--queries",
        "tests/queries_e5.tsv",
        "--sets",
        "tests/related_judged.tsv",
        "--sets",
        "tests/related_judged_e5.tsv",
        "--sets",
        "tests/related_judged_e5b.tsv",
    ]);
    let precision = |file: &str, ranking: &str| {
        report
            .as_array()
            .expect("one report per file")
            .iter()
            .find(|r| r["file"] == file)
            .and_then(|r| r[ranking]["precision10"].as_f64())
            .unwrap_or(0.0)
    };
    // Words and meaning fused by z-scores: 0.507, 0.584, 0.555, 0.693, 0.633, 0.842; the
    // previous ranking (BM25 more-like-this and vectors): 0.426, 0.521, 0.496, 0.660, 0.608, 0.808.
    assert!(precision("tests/queries.tsv", "report") >= 0.48, "{report}");
    assert!(
        precision("tests/queries_heldout.tsv", "report") >= 0.55,
        "{report}"
    );
    for file in [
        "tests/queries_e5.tsv",
        "tests/related_judged.tsv",
        "tests/related_judged_e5.tsv",
        "tests/related_judged_e5b.tsv",
    ] {
        let (new, previous) = (precision(file, "report"), precision(file, "today"));
        assert!(
            new >= previous && new > 0.5,
            "{file}: {new} < {previous}: {report}"
        );
    }
}
