//! `serve --watch DIR`: a digest copied into the watched folder (slowly, in chunks) is served
//! by the running server without a restart: the live engine switches to the generation the
//! watcher writes. The real binary, on a small index of its own.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{digest, get, paperscope, run_ok};

/// Only a guard against a hang, never a measurement.
const PATIENCE: Duration = Duration::from_secs(300);

/// Starts `serve --json ...` and waits for the address it prints: the child and its URL.
fn serve(mut command: std::process::Command) -> (std::process::Child, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let ready: Value = serde_json::from_str(&lines.next().expect("a line").expect("read"))
        .expect("the first line is JSON");
    let url = ready["url"]
        .as_str()
        .expect("url")
        .trim_end_matches('/')
        .to_owned();
    // The rest of stdout (watch events) is read to the end, so the server never writes into a
    // closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, url)
}

#[test]
fn a_digest_dropped_into_the_watched_folder_is_served() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let index = tmp.path().join("index").to_string_lossy().into_owned();
    let first = digest("2024-03-06_cs.CL_0a55959e.md");
    run_ok(&["index", "--index", &index, &first.to_string_lossy()]);
    let inbox = tmp.path().join("inbox");
    std::fs::create_dir_all(&inbox).expect("inbox");
    let mut command = paperscope();
    command
        .args([
            "--json",
            "--index",
            &index,
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--watch",
        ])
        .arg(&inbox);
    let (mut child, url) = serve(command);
    let before = get(&format!("{url}/api/health")).json();

    let source = digest("2024-04-03_cs.IR_59fc0cb9.md");
    let bytes = std::fs::read(&source).expect("sample digest");
    let mut file = std::fs::File::create(inbox.join("2024-04-03_cs.IR_59fc0cb9.md")).expect("copy");
    for chunk in bytes.chunks(bytes.len() / 3 + 1) {
        file.write_all(chunk).expect("chunk");
        file.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(file);
    let deadline = Instant::now() + PATIENCE;
    let after = loop {
        let health = get(&format!("{url}/api/health")).json();
        if health["generation"] != before["generation"] {
            break health;
        }
        assert!(
            Instant::now() < deadline,
            "no new generation served: {health}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let id: String = text
        .split("arxiv.org/abs/")
        .nth(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect()
        })
        .expect("an arXiv link in the sample");
    let paper = get(&format!("{url}/api/papers/{id}"));
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        after["papers"].as_u64() > before["papers"].as_u64(),
        "{before} -> {after}"
    );
    assert_eq!(paper.status, 200, "{id} served: {}", paper.body);
}

/// A server started on an index whose words were committed but whose vectors were not (a
/// write stopped while embedding) embeds the rest in the background, without a command, and
/// serves each generation that adds vectors: `/api/health` and `/api/stats` count the papers
/// with vectors until they are all of them. (The static model: the point is the pipeline.)
#[test]
fn a_server_finishes_the_embedding_of_its_index_by_itself() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let index = tmp.path().join("index").to_string_lossy().into_owned();
    let digests: Vec<String> = [
        "2024-03-06_cs.CL_0a55959e.md",
        "2023-08-31_cs.AI_dde2c3e0.md",
    ]
    .iter()
    .map(|name| digest(name).to_string_lossy().into_owned())
    .collect();
    // No cache beside these copies' paths holds their static vectors: all are embedded, so
    // the words are committed first; the stop after the first sync leaves no vector.
    let copies = tmp.path().join("digests");
    std::fs::create_dir_all(&copies).expect("copies");
    for source in &digests {
        let name = std::path::Path::new(source).file_name().expect("name");
        std::fs::copy(source, copies.join(name)).expect("copy");
    }
    let stopped = paperscope()
        .env("PAPERSCOPE_FAIL_AT", "embedding")
        .args(["--model", "static", "index", "--index", &index])
        .arg(&copies)
        .output()
        .expect("index runs");
    assert!(!stopped.status.success());
    let before = crate::support::run_json(&["--json", "--index", &index, "stats"]);
    assert!(before["papers"].as_u64() > Some(200), "{before}");
    assert_eq!(before["papers_with_vectors"], 0, "{before}");
    let mut command = paperscope();
    command.args([
        "--json",
        "--model",
        "static",
        "--index",
        &index,
        "serve",
        "--bind",
        "127.0.0.1:0",
    ]);
    let (mut child, url) = serve(command);
    let deadline = Instant::now() + PATIENCE;
    let done = loop {
        let health = get(&format!("{url}/api/health")).json();
        if health["papers_with_vectors"] == health["papers"] {
            break health;
        }
        assert!(Instant::now() < deadline, "never finished: {health}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let stats = get(&format!("{url}/api/stats")).json();
    let search = get(&format!("{url}/api/search?q=language%20agents&mode=vector")).json();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(done["papers"], before["papers"], "{done}");
    assert!(done["generation"].as_u64() > before["generation"].as_u64());
    assert_eq!(stats["papers_with_vectors"], stats["papers"], "{stats}");
    assert!(search.get("warnings").is_none(), "{search}");
    assert!(!search["results"].as_array().expect("results").is_empty());
}
