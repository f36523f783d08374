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
