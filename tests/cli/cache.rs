//! The embedding cache: an interrupted `index` resumes without embedding again what it
//! finished, and a cache shipped beside digests (`embeddings/` next to `digests/`) is used.

use std::path::{Path, PathBuf};

use crate::support::*;

/// The first `n` sample digests of `data/digests`, by name.
fn first_digests(n: usize) -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .expect("data/digests")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    names.truncate(n);
    names
}

/// The first `n` sample digests, copied into `dir/digests/` (where no seed lies beside them).
fn copy_digests(dir: &Path, n: usize) -> PathBuf {
    let target = dir.join("digests");
    std::fs::create_dir_all(&target).expect("digests dir");
    for source in &first_digests(n) {
        let name = source.file_name().expect("file name");
        std::fs::copy(source, target.join(name)).expect("copy digest");
    }
    target
}

fn cache_files(index: &str) -> Vec<PathBuf> {
    std::fs::read_dir(Path::new(index).join("cache"))
        .map(|entries| entries.map(|e| e.expect("entry").path()).collect())
        .unwrap_or_default()
}

fn vector_answers(index: &str) -> serde_json::Value {
    let response = run_json(&[
        "--json",
        "--index",
        index,
        "search",
        "--mode",
        "vector",
        "-n",
        "10",
        "graph neural network",
    ]);
    serde_json::json!(
        response["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| (r["arxiv_id"].clone(), r["score"].clone()))
            .collect::<Vec<_>>()
    )
}

#[test]
fn an_interrupted_index_resumes_without_embedding_what_it_finished() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let digests = copy_digests(tmp.path(), 30);
    let digests = digests.to_string_lossy();
    let index = tmp.path().join("index").to_string_lossy().into_owned();
    let stopped = paperscope()
        .env("PAPERSCOPE_FAIL_AT", "embedding")
        .args(["index", "--index", &index, &digests])
        .output()
        .expect("binary runs");
    assert_fails_naming(&stopped, "injected failure at `embedding`");
    // Hundreds of texts to embed: the words were committed first, no vector yet.
    let stats = run_json(&["--json", "--index", &index, "stats"]);
    assert_eq!(stats["papers_with_vectors"], 0, "{stats}");
    assert_eq!(cache_files(&index).len(), 1, "the finished chunk was kept");

    let resumed = run_json(&["--json", "index", "--index", &index, &digests]);
    let cached = resumed["texts_cached"].as_u64().expect("texts_cached");
    let embedded = resumed["texts_embedded"].as_u64().expect("texts_embedded");
    assert!(cached > 0, "{resumed}");
    assert!(embedded > 0, "more than one chunk to embed: {resumed}");
    assert_eq!(
        cached + embedded,
        2 * resumed["papers"].as_u64().unwrap_or(0)
    );

    // The same digests where they lie in data/, beside the seed of data/embeddings: vectors a
    // run that was never interrupted embedded (`tools/seed_cache.sh`), rather than embedding
    // the ~500 texts a second time (half of this test's time). The integer kernels give the
    // seed's vectors bit for bit (AVX2 and AVX-512 alike); the f32 kernel has a seed of its own.
    let clean = tmp.path().join("clean").to_string_lossy().into_owned();
    let mut args = vec![
        "--json".to_owned(),
        "index".into(),
        "--index".into(),
        clean.clone(),
    ];
    args.extend(
        first_digests(30)
            .iter()
            .map(|p| p.to_string_lossy().into_owned()),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let seeded = run_json(&args);
    assert_eq!(seeded["texts_embedded"], 0, "{seeded}");
    assert_eq!(seeded["papers"], resumed["papers"], "{seeded}");
    assert_eq!(vector_answers(&index), vector_answers(&clean));
}

#[test]
fn a_rebuild_embeds_nothing_again() {
    let (_tmp, index) = small_index();
    let [a, b] = [
        digest("2024-03-06_cs.CL_0a55959e.md"),
        digest("2023-05-09_cs.CL_8ae271ac.md"),
    ];
    let rebuilt = run_json(&[
        "--json",
        "index",
        "--index",
        &index,
        "--rebuild",
        &a.to_string_lossy(),
        &b.to_string_lossy(),
    ]);
    assert_eq!(rebuilt["texts_embedded"], 0, "{rebuilt}");
    assert!(
        rebuilt["texts_cached"].as_u64().unwrap_or(0) > 0,
        "{rebuilt}"
    );
}

#[test]
fn a_cache_shipped_beside_the_digests_is_used() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let digests = copy_digests(tmp.path(), 2);
    let digests = digests.to_string_lossy();
    let first = tmp.path().join("first").to_string_lossy().into_owned();
    run_json(&["--json", "index", "--index", &first, &digests]);
    let shipped = tmp.path().join("embeddings");
    std::fs::create_dir_all(&shipped).expect("embeddings dir");
    for file in cache_files(&first) {
        std::fs::copy(&file, shipped.join(file.file_name().expect("name"))).expect("copy");
    }
    let second = tmp.path().join("second").to_string_lossy().into_owned();
    let seeded = run_json(&["--json", "index", "--index", &second, &digests]);
    assert_eq!(seeded["texts_embedded"], 0, "{seeded}");
    assert_eq!(vector_answers(&first), vector_answers(&second));
}

/// An index written with the f32 passage kernel (on a CPU without AVX2, or by paperscope before
/// the integer kernels) is searched with its vectors by a process running the integer kernels,
/// and takes new papers from it: the kernel is part of the cache's key (a cache never mixes the
/// two kernels' vectors), not of the index's model. Each kernel finds data/'s texts in its own
/// seed in data/embeddings/.
#[test]
fn an_index_of_the_f32_kernel_is_searched_and_extended_by_the_integer_kernels() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let index = tmp.path().join("index").to_string_lossy().into_owned();
    let first = paperscope()
        .env("PAPERSCOPE_KERNEL", "f32")
        .args(["--json", "index", "--index", &index])
        .arg(digest("2024-03-06_cs.CL_0a55959e.md"))
        .output()
        .expect("index runs");
    assert!(first.status.success(), "{}", stderr(&first));
    let first: serde_json::Value = serde_json::from_slice(&first.stdout).expect("json");
    assert_eq!(first["texts_embedded"], 0, "{first}");
    let second = digest("2023-05-09_cs.CL_8ae271ac.md");
    let added = run_json(&[
        "--json",
        "index",
        "--index",
        &index,
        &second.to_string_lossy(),
    ]);
    assert_eq!(added["texts_embedded"], 0, "{added}");
    assert!(
        added["papers"].as_u64() > first["papers"].as_u64(),
        "{added}"
    );
    let found = run_json(&[
        "--json",
        "--index",
        &index,
        "search",
        "retrieval augmented generation",
    ]);
    assert_eq!(found["mode"], "hybrid", "{found}");
    assert!(found.get("warnings").is_none(), "{found}");
    assert!(!ids(&found).is_empty(), "{found}");
}
