//! Crash safety: `index` killed with SIGKILL at 20 moments while it adds a digest. After each
//! kill the index answers exactly as before the run or as after a complete run — never an
//! error, never a mixture of the two.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::*;

/// What the index answers: the paper count, BM25 top ids for two queries, and whether a hybrid
/// search used both sides.
fn answers(index: &str) -> serde_json::Value {
    let stats = run_json(&["--json", "--index", index, "stats"]);
    let words = |q: &str| {
        ids(&run_json(&[
            "--json", "--index", index, "search", "--mode", "bm25", "-n", "5", q,
        ]))
    };
    serde_json::json!({
        "papers": stats["papers"],
        "language": words("language model"),
        "graph": words("graph neural network"),
    })
}

fn assert_hybrid_is_whole(index: &str) {
    let response = run_json(&["--json", "--index", index, "search", "-n", "3", "retrieval"]);
    assert_eq!(response["mode"], "hybrid", "{response}");
    assert!(response.get("warnings").is_none(), "{response}");
}

fn index_to_completion(index: &str, file: &Path) -> Duration {
    let started = Instant::now();
    let output = run(&["index", "--index", index, &file.to_string_lossy()]);
    assert!(output.status.success(), "{}", stderr(&output));
    started.elapsed()
}

#[test]
fn index_killed_at_any_moment_leaves_the_old_or_the_new_index() {
    let tmp = tempfile::tempdir().expect("tmp");
    let index = tmp.path().join("index").to_string_lossy().into_owned();
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .expect("data")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().contains("/2023-03-"))
        .collect();
    files.sort();
    assert!(files.len() >= 22, "{} files", files.len());
    let full_run = index_to_completion(&index, &files[0]);
    let mut previous = answers(&index);
    let (mut old_state, mut new_state) = (0, 0);
    for round in 0..20 {
        let input = &files[round + 1];
        // Spread the kills over the whole run, from its start to just past its end.
        let delay = full_run.mul_f64(0.05 + 1.1 * round as f64 / 20.0);
        let mut child = paperscope()
            .args(["index", "--index", &index, &input.to_string_lossy()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("index starts");
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let after_kill = answers(&index);
        assert_hybrid_is_whole(&index);
        index_to_completion(&index, input);
        let complete = answers(&index);
        if after_kill == previous {
            old_state += 1;
        } else {
            assert_eq!(
                after_kill, complete,
                "round {round} (killed after {delay:?}): neither the old nor the new index"
            );
            new_state += 1;
        }
        previous = complete;
    }
    assert!(
        old_state > 0,
        "no kill landed before the commit: the test proves nothing"
    );
    eprintln!("{old_state} kills left the old index, {new_state} the new one");
    // The last complete write cleaned up what the killed ones left behind.
    let left: Vec<String> = std::fs::read_dir(&index)
        .expect("index dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp") || name.starts_with("gen-"))
        .collect();
    assert!(
        left.iter().all(|n| !n.ends_with(".tmp")) && left.len() <= 2,
        "leftovers after a complete write: {left:?}"
    );
}

/// The size of the files in `dir` (0 when it does not exist).
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// `(kept, total)` from "interrupted: 1,210 of 1,942 texts kept; ...".
fn kept_of(stderr: &str) -> (usize, usize) {
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("interrupted: "))
        .unwrap_or_else(|| panic!("no `interrupted:` line in {stderr}"));
    let number = |s: &str| s.replace(',', "").parse::<usize>().expect("a count");
    let (kept, rest) = line.split_once(" of ").expect("`N of M`");
    let total = rest.split_whitespace().next().expect("a total");
    (number(kept), number(total))
}

/// What a kill or a stop left: the papers (all of them once the words are committed), the
/// papers with vectors, and the BM25 answers.
struct Left {
    papers: u64,
    with_vectors: u64,
    words: serde_json::Value,
}

fn left(index: &str) -> Option<Left> {
    if !Path::new(index).join("manifest.json").exists() {
        return None;
    }
    let stats = run_json(&["--json", "--index", index, "stats"]);
    let count = |key: &str| {
        stats[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key}: {stats}"))
    };
    Some(Left {
        papers: count("papers"),
        with_vectors: count("papers_with_vectors"),
        words: answers(index),
    })
}

/// A new index of ~490 texts, none cached, stopped while it embeds: by Ctrl-C (SIGINT) and
/// SIGTERM, which sync what was embedded, commit it, say how much was kept and how to go on,
/// and exit 130; then by SIGKILL at moments spread over the embedding. After every stop the
/// words are searchable (every paper, the same BM25 answers as the finished index), hybrid
/// search says how much meaning covers, coverage never shrinks, and the next run completes
/// the index without embedding again what was kept.
#[test]
fn a_new_index_stopped_while_embedding_answers_by_words_and_the_next_run_completes_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    // Digests with no shipped cache beside them, and an empty shared cache: all is embedded.
    let digests = tmp.path().join("digests");
    std::fs::create_dir(&digests).expect("digests dir");
    // ~490 texts, all embedded once over the runs (the test's cost): each interrupted run is
    // signalled at its first sync (3 s, or 256 texts on a machine embedding over ~85 texts/s)
    // and keeps that and the step in flight; the kills that follow land wherever the
    // embedding is, and the last run embeds what is left. Fewer texts (~100) can all be
    // embedded within 3 s, signalled too late; under 256 the words would not come first.
    for name in [
        "2023-08-31_cs.AI_dde2c3e0.md",
        "2023-04-20_cs.LG_dd1c3020.md",
    ] {
        std::fs::copy(digest(name), digests.join(name)).expect("copy");
    }
    let index = tmp.path().join("index");
    let index_arg = index.to_string_lossy().into_owned();
    let cache = index.join("cache");
    let start = || {
        paperscope()
            .env("PAPERSCOPE_CACHE", tmp.path().join("shared"))
            .args(["index", "--index", &index_arg])
            .arg(&digests)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("index starts")
    };
    let mut seen: Vec<Left> = Vec::new();
    let mut first_total = None;
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let synced = dir_bytes(&cache);
        let mut child = start();
        // Signalled once its first vectors of this run are synced.
        while dir_bytes(&cache) == synced {
            if child.try_wait().expect("child").is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if child.try_wait().expect("child").is_some() {
            eprintln!("the run finished before it could be interrupted");
            return;
        }
        // SAFETY: signals our own child, still running (not yet waited for).
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        let output = child.wait_with_output().expect("index ends");
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(130), "{err}");
        assert!(
            err.contains("texts kept; run `paperscope index` again to continue"),
            "{err}"
        );
        let (kept, total) = kept_of(&err);
        assert!(kept > 0 && kept < total, "{kept} of {total}");
        first_total.get_or_insert((kept, total));
        let now = left(&index_arg).expect("the words were committed before the embedding");
        assert!(
            now.with_vectors < now.papers,
            "stopped with every vector made"
        );
        let hybrid = run_json(&["--json", "--index", &index_arg, "search", "retrieval"]);
        let warnings = hybrid["warnings"].to_string();
        assert!(warnings.contains("meaning covers"), "{hybrid}");
        seen.push(now);
    }
    // SIGKILL anywhere: during the start, the embedding, a commit of vectors.
    for delay in [0.2, 1.5, 3.0, 5.0, 8.0] {
        let mut child = start();
        std::thread::sleep(Duration::from_secs_f64(delay));
        let _ = child.kill();
        let _ = child.wait();
        seen.push(left(&index_arg).expect("the index stays"));
    }
    let output = paperscope()
        .env("PAPERSCOPE_CACHE", tmp.path().join("shared"))
        .args(["--json", "index", "--index", &index_arg])
        .arg(&digests)
        .output()
        .expect("index runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let done: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let end = left(&index_arg).expect("complete");
    assert_eq!(end.with_vectors, end.papers, "{done}");
    assert_hybrid_is_whole(&index_arg);
    for (round, now) in seen.iter().enumerate() {
        assert_eq!(now.papers, end.papers, "round {round}");
        assert_eq!(now.words, end.words, "round {round}: other BM25 answers");
    }
    assert!(
        seen.windows(2)
            .all(|w| w[0].with_vectors <= w[1].with_vectors),
        "coverage shrank: {:?}",
        seen.iter().map(|l| l.with_vectors).collect::<Vec<_>>()
    );
    // What the first stop kept was not embedded again. A fast machine may finish the embedding
    // in the runs that were killed (each resumes from the synced cache): the last run then
    // finds the index complete and changes nothing.
    let (kept, total) = first_total.expect("stopped");
    let embedded = match done["changed"].as_bool() {
        Some(false) => 0,
        _ => done["texts_embedded"].as_u64().expect("texts_embedded") as usize,
    };
    assert!(
        embedded <= total - kept,
        "{embedded} embedded, {kept} of {total} kept before"
    );
}
