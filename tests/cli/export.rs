//! `export`: every paper with its own vector, the load files of each engine, incremental exports,
//! and one-line errors. The engines themselves load the export in tests/roundtrip/run.sh (a
//! virtualenv from PyPI, minutes: not part of the test run).

use std::collections::HashSet;
use std::path::Path;

use serde_json::Value;

use crate::support::*;

fn export(index: &str, args: &[&str]) -> Value {
    let mut all = vec!["--json", "--index", index, "export"];
    all.extend_from_slice(args);
    run_json(&all)
}

fn json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("export file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON document per line"))
        .collect()
}

fn json_file(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("export file")).expect("JSON")
}

fn floats(value: &Value) -> Vec<f32> {
    value
        .as_array()
        .expect("a vector")
        .iter()
        .map(|x| x.as_f64().expect("a number") as f32)
        .collect()
}

/// Exact top 10 by inner product over the exported vectors of `field`, as a loader's engine
/// would answer.
fn exact_top10(papers: &[Value], field: &str, query: &[f32]) -> Vec<String> {
    let mut scored: Vec<(f32, &str)> = papers
        .iter()
        .map(|p| {
            let v = floats(&p[field]);
            let score = v.iter().zip(query).map(|(a, b)| a * b).sum();
            (score, p["arxiv_id"].as_str().expect("id"))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored
        .iter()
        .take(10)
        .map(|(_, id)| id.to_string())
        .collect()
}

#[test]
fn jsonl_holds_every_paper_and_its_vector_and_answers_as_paperscope() {
    let out = tempfile::tempdir().expect("temp dir");
    let dir = out.path().to_string_lossy().into_owned();
    let queries = repo().join("tests/queries.tsv");
    let report = export(
        shared_index(),
        &[
            "--format",
            "jsonl",
            "--out",
            &dir,
            "--queries",
            &queries.to_string_lossy(),
        ],
    );
    let count = paper_count(shared_index());
    assert_eq!(report["papers"].as_u64(), Some(count));
    let described = json_file(&out.path().join("export.json"));
    let dims = described["vectors"]["dims"].as_u64().expect("dims") as usize;
    assert_eq!(described["vectors"]["metric"], "cosine");
    let papers = json_lines(&out.path().join("papers.jsonl"));
    assert_eq!(papers.len() as u64, count);
    let distinct: HashSet<&str> = papers
        .iter()
        .filter_map(|p| p["arxiv_id"].as_str())
        .collect();
    assert_eq!(distinct.len(), papers.len(), "one line per paper");
    for paper in papers.iter().step_by(997) {
        let vector = floats(&paper["vector"]);
        assert_eq!(vector.len(), dims);
        let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "unit vectors: {norm}");
        let id = paper["arxiv_id"].as_str().expect("id");
        let shown = show(id);
        for field in [
            "title_en",
            "title_zh",
            "summary_zh",
            "abstract_en",
            "abstract_zh",
        ] {
            assert_eq!(paper[field], shown[field], "{id} {field}");
        }
    }
    // The exported query vectors over the exported vectors of each query's field (the view of
    // its script) answer as the vector search without its feedback stage, English and Chinese
    // queries alike.
    assert_eq!(described["views"]["fields"][1], "vector_han");
    let exported_queries = json_lines(&out.path().join("queries.jsonl"));
    assert!(exported_queries.len() >= 20);
    let fields: HashSet<&str> = exported_queries
        .iter()
        .filter_map(|q| q["field"].as_str())
        .collect();
    assert_eq!(fields, HashSet::from(["vector_latin", "vector_han"]));
    for query in exported_queries.iter().step_by(exported_queries.len() / 20) {
        let text = query["query"].as_str().expect("query text");
        let field = query["field"].as_str().expect("the field it searches");
        assert_eq!(floats(&papers[0][field]).len(), dims);
        // The export holds the first stage: the meaning feedback a question gets is left out.
        let ours = ids(&search(&[
            "--mode",
            "vector",
            "--no-feedback",
            "-n",
            "10",
            "--",
            text,
        ]));
        let theirs = exact_top10(&papers, field, &floats(&query["vector"]));
        let shared = ours.iter().filter(|id| theirs.contains(id)).count();
        assert!(shared >= 9, "{text}: {ours:?} vs {theirs:?}");
    }
}

#[test]
fn each_engine_gets_its_schema_and_one_record_per_paper() {
    let (_tmp, index) = small_index();
    let count = paper_count(&index) as usize;
    let out = tempfile::tempdir().expect("temp dir");
    let dir = |name: &str| out.path().join(name).to_string_lossy().into_owned();
    for format in ["qdrant", "milvus", "opensearch"] {
        export(&index, &["--format", format, "--out", &dir(format)]);
    }
    let qdrant = out.path().join("qdrant");
    let collection = json_file(&qdrant.join("collection.json"));
    // Named vectors: the paper's (cosine) and its views per query script (inner product).
    let vectors = &collection["create"]["vectors"];
    let dims = vectors["vector"]["size"].as_u64().expect("size") as usize;
    assert_eq!(vectors["vector"]["distance"], "Cosine");
    assert_eq!(vectors["vector_latin"]["distance"], "Dot");
    assert_eq!(vectors["vector_han"]["size"].as_u64(), Some(dims as u64));
    let points = json_lines(&qdrant.join("points.jsonl"));
    assert_eq!(points.len(), count);
    for field in ["vector", "vector_latin", "vector_han"] {
        assert_eq!(floats(&points[0]["vector"][field]).len(), dims, "{field}");
    }
    assert!(points[0]["payload"]["arxiv_id"].is_string());

    let milvus = out.path().join("milvus");
    let schema = json_file(&milvus.join("schema.json"));
    let text = schema["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["name"] == "text")
        .expect("a text field");
    assert_eq!(text["analyzer_params"]["tokenizer"], "jieba");
    assert_eq!(schema["functions"][0]["type"], "BM25");
    let vector_fields: Vec<&str> = schema["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter(|f| f["data_type"] == "FLOAT_VECTOR")
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(vector_fields, ["vector", "vector_latin", "vector_han"]);
    let rows = json_lines(&milvus.join("rows.jsonl"));
    assert_eq!(rows.len(), count);
    assert_eq!(floats(&rows[0]["vector_han"]).len(), dims);
    assert!(
        rows.iter()
            .all(|r| r["text"].as_str().is_some_and(|t| !t.is_empty()))
    );

    let opensearch = out.path().join("opensearch");
    let mapping = json_file(&opensearch.join("index.json"));
    let properties = &mapping["mappings"]["properties"];
    assert_eq!(
        properties["vector"]["dimension"].as_u64(),
        Some(dims as u64)
    );
    assert_eq!(
        properties["vector_latin"]["method"]["space_type"],
        "innerproduct"
    );
    assert_eq!(properties["abstract_en"]["analyzer"], "english");
    assert_eq!(properties["abstract_zh"]["analyzer"], "smartcn");
    let pipeline = json_file(&opensearch.join("search_pipeline.json"));
    let weights = floats(
        &pipeline["phase_results_processors"][0]["normalization-processor"]["combination"]["parameters"]
            ["weights"],
    );
    assert!(
        (weights.iter().sum::<f32>() - 1.0).abs() < 1e-6,
        "{weights:?}"
    );
    // Weights as a person writes them (0.65 / 0.35), not an f32 widened to f64 (0.6499999761...).
    for file in [
        opensearch.join("search_pipeline.json"),
        out.path().join("opensearch/export.json"),
    ] {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            text.contains("0.35") && !text.contains("99999") && !text.contains("00000001"),
            "{}: {text}",
            file.display()
        );
    }
    let bulk = json_lines(&opensearch.join("bulk.ndjson"));
    assert_eq!(
        bulk.len(),
        2 * count,
        "an action line and a document per paper"
    );
}

#[test]
fn since_generation_exports_only_what_changed_after_it() {
    let (_tmp, index) = small_index();
    let out = tempfile::tempdir().expect("temp dir");
    let dir = out.path().to_string_lossy().into_owned();
    let first = export(&index, &["--format", "jsonl", "--out", &dir]);
    let generation = first["generation"].as_u64().expect("generation");
    let before: HashSet<String> = json_lines(&out.path().join("papers.jsonl"))
        .iter()
        .filter_map(|p| p["arxiv_id"].as_str().map(String::from))
        .collect();

    let since_first = generation.to_string();
    let incremental = [
        "--format",
        "jsonl",
        "--out",
        &dir,
        "--since-generation",
        &since_first,
    ];
    let nothing = export(&index, &incremental);
    assert_eq!(nothing["papers"].as_u64(), Some(0));

    let written = index_one_more(&index);
    let changed =
        written["added"].as_u64().expect("added") + written["updated"].as_u64().expect("updated");
    assert!(written["added"].as_u64() > Some(0));
    let since = export(&index, &incremental);
    assert_eq!(since["papers"].as_u64(), Some(changed));
    let exported = json_lines(&out.path().join("papers.jsonl"));
    assert_eq!(exported.len() as u64, changed);
    let new_ids = exported
        .iter()
        .filter(|p| !before.contains(p["arxiv_id"].as_str().expect("id")))
        .count() as u64;
    assert_eq!(new_ids, written["added"].as_u64().expect("added"));
    assert!(
        exported
            .iter()
            .all(|p| p["changed_in"].as_u64() > Some(generation))
    );
}

/// `paperscope --index INDEX export ARGS...`.
fn export_run(index: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--index", index, "export"];
    all.extend_from_slice(args);
    run(&all)
}

#[test]
fn bad_arguments_are_one_line_errors() {
    let (_tmp, index) = small_index();
    let out = tempfile::tempdir().expect("temp dir");
    let dir = out.path().to_string_lossy().into_owned();

    let output = export_run(&index, &["--format", "parquet", "--out", &dir]);
    assert_fails_naming(&output, "parquet");
    assert_eq!(output.status.code(), Some(2));

    let since = [
        "--format",
        "jsonl",
        "--out",
        &dir,
        "--since-generation",
        "99",
    ];
    assert_fails_naming(&export_run(&index, &since), "--since-generation");

    let file = out.path().join("a-file");
    std::fs::write(&file, "x").expect("write");
    let file = file.to_string_lossy();
    let output = export_run(&index, &["--format", "qdrant", "--out", &file]);
    assert_fails_naming(&output, "not a directory");

    let bad = out.path().join("queries.tsv");
    std::fs::write(&bad, "q1\thallucination\nno tab here\n").expect("write");
    let bad = bad.to_string_lossy();
    let output = export_run(
        &index,
        &["--format", "jsonl", "--out", &dir, "--queries", &bad],
    );
    assert_fails_naming(&output, "queries.tsv:2");

    let missing = out.path().join("no-index").to_string_lossy().into_owned();
    let output = export_run(&missing, &["--format", "jsonl", "--out", &dir]);
    assert_fails_naming(&output, "no-index");
}
