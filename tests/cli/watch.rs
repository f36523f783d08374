//! `index --watch DIR`: a digest copied into the folder slowly, in chunks, is indexed once,
//! whole, when it stands still, and becomes searchable; a garbage file is reported by name and
//! changes nothing. The real binary, on a small index of its own.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

/// Only a guard against a hang, never a measurement.
const PATIENCE: Duration = Duration::from_secs(300);

/// The watching process, killed when dropped.
struct Watching {
    child: Child,
    events: mpsc::Receiver<Value>,
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Watching {
    fn start(index: &str, dir: &std::path::Path) -> Watching {
        let mut child = paperscope()
            .args(["--json", "index", "--index", index, "--watch"])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the watcher starts");
        let stdout = child.stdout.take().expect("stdout");
        let (send, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(event) = serde_json::from_str::<Value>(&line)
                    && send.send(event).is_err()
                {
                    break;
                }
            }
        });
        Watching { child, events }
    }

    /// The next event (panics after `PATIENCE`).
    fn next(&self) -> Value {
        self.events
            .recv_timeout(PATIENCE)
            .expect("an event from the watcher")
    }
}

fn generation(index: &str) -> Value {
    run_json(&["--json", "--index", index, "stats"])["generation"].clone()
}

#[test]
fn a_digest_copied_in_slowly_is_indexed_whole_and_garbage_changes_nothing() {
    let (tmp, index) = small_index();
    let inbox = tmp.path().join("inbox");
    std::fs::create_dir_all(inbox.join("nested")).expect("inbox");
    let before = paper_count(&index);
    let watching = Watching::start(&index, &inbox);
    assert_eq!(watching.next()["event"], "watching");

    // A digest arrives in four chunks, a little apart, as a slow copy writes it.
    let source = digest("2024-04-03_cs.IR_59fc0cb9.md");
    let bytes = std::fs::read(&source).expect("sample digest");
    let target = inbox.join("nested").join("2024-04-03_cs.IR_59fc0cb9.md");
    let mut file = std::fs::File::create(&target).expect("copy target");
    for chunk in bytes.chunks(bytes.len() / 4 + 1) {
        file.write_all(chunk).expect("chunk written");
        file.flush().expect("flushed");
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(file);
    let started = Instant::now();
    let event = watching.next();
    assert_eq!(event["event"], "indexed", "{event:#}");
    assert_eq!(event["files"], serde_json::json!([target]), "{event:#}");
    let report = &event["report"];
    assert_eq!(report["skipped"], serde_json::json!([]), "{event:#}");
    // Read whole: every entry of the file, not the first chunk's.
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let entries = text
        .lines()
        .filter(|l| {
            l.strip_prefix("[^")
                .and_then(|rest| rest.split_once("]:"))
                .is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit()))
        })
        .count();
    assert_eq!(report["entries"], entries, "read whole: {event:#}");
    let added = report["added"].as_u64().unwrap_or(0);
    assert!(added > 0, "{event:#}");
    assert_eq!(paper_count(&index), before + added);
    eprintln!(
        "indexed {added} papers {:?} after the copy ended",
        started.elapsed()
    );

    // One of its papers is found by its own title.
    let id = text
        .split("arxiv.org/abs/")
        .nth(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect::<String>()
        })
        .expect("an arXiv link in the sample");
    let shown = run_json(&["--json", "--index", &index, "show", &id]);
    let title: Vec<String> = shown["title_en"]
        .as_str()
        .expect("indexed")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2)
        .take(6)
        .map(str::to_owned)
        .collect();
    let query = title.join(" ");
    let found = run_json(&[
        "--json", "--index", &index, "search", "--mode", "bm25", &query,
    ]);
    assert!(ids(&found).contains(&id), "{id} searchable: {found:#}");

    // Garbage: reported by name, and the index is as it was.
    let generation_before = generation(&index);
    let garbage = inbox.join("garbage.md");
    std::fs::write(&garbage, b"\xff\xfe not a digest \x00\x01").expect("garbage written");
    let event = watching.next();
    let shown = event.to_string();
    assert!(
        matches!(event["event"].as_str(), Some("skipped" | "failed")),
        "{event:#}"
    );
    assert!(shown.contains("garbage.md"), "the file is named: {shown}");
    if event["event"] == "skipped" {
        // A burst with only bad files writes nothing; its end is reported too.
        let end = watching.next();
        assert_ne!(end["event"], "indexed", "{end:#}");
    }
    assert_eq!(generation(&index), generation_before);
    assert_eq!(paper_count(&index), before + added);
}
