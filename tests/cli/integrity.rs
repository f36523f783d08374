//! A damaged index: every kind of damage is one error line naming the file and the one command
//! that recovers, that command works, `check` finds everything, and readers never fail while
//! a writer commits (or on a read-only index).

use std::path::{Path, PathBuf};

use crate::support::*;

const REBUILD: &str = "--rebuild <digests>";

fn small_digests() -> [String; 2] {
    [
        digest("2024-03-06_cs.CL_0a55959e.md")
            .to_string_lossy()
            .into_owned(),
        digest("2023-05-09_cs.CL_8ae271ac.md")
            .to_string_lossy()
            .into_owned(),
    ]
}

/// The file of the live text index whose name ends with `suffix`.
fn text_file(index: &str, suffix: &str) -> PathBuf {
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(Path::new(index).join("manifest.json")).expect("manifest"),
    )
    .expect("manifest json");
    let generation = manifest["generation_dir"].as_str().expect("generation dir");
    let text = Path::new(index).join(generation).join("text");
    std::fs::read_dir(&text)
        .expect("text dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().ends_with(suffix))
        .unwrap_or_else(|| panic!("no {suffix} in {}", text.display()))
}

fn flip(path: &Path, from: usize, count: usize) {
    let mut bytes = std::fs::read(path).expect("read");
    let end = (from + count).min(bytes.len());
    for b in &mut bytes[from.min(end)..end] {
        *b ^= 0x5a;
    }
    std::fs::write(path, bytes).expect("write");
}

/// Expects a one-line error naming `file` and the rebuild command for `index`.
fn assert_damage_named(output: &std::process::Output, index: &str, file: &str) {
    assert_fails_naming(output, file);
    assert_fails_naming(
        output,
        &format!("paperscope index --index {index} {REBUILD}"),
    );
    let line = stderr(output);
    assert!(line.len() < 400, "one short line: {line}");
}

/// Runs the recovery command and checks the index answers and `check` is happy.
fn assert_recovers(index: &str) {
    let [a, b] = small_digests();
    let output = run(&["index", "--index", index, "--rebuild", &a, &b]);
    assert!(output.status.success(), "recovery: {}", stderr(&output));
    let check = run(&["--index", index, "check"]);
    assert!(check.status.success(), "after recovery: {}", stdout(&check));
    for mode in ["bm25", "vector", "hybrid"] {
        let response = run_json(&[
            "--json",
            "--index",
            index,
            "search",
            "--mode",
            mode,
            "unlearning",
        ]);
        assert!(!ids(&response).is_empty(), "{mode}: {response}");
    }
    run_json(&["--json", "--index", index, "topics"]);
    assert_eq!(paper_count(index), 218);
}

#[test]
fn flipped_bytes_in_a_fast_file_are_an_error_not_a_wrong_total() {
    let (_tmp, index) = small_index();
    let fast = text_file(&index, ".fast");
    flip(&fast, 0, 512);
    let output = run(&[
        "--index", &index, "search", "--mode", "bm25", "--since", "2023-01", "--until", "2024-12",
        "model",
    ]);
    assert_damage_named(&output, &index, ".fast");
}

#[test]
fn a_damaged_fieldnorm_file_is_an_error_not_another_ranking() {
    let (_tmp, index) = small_index();
    let fieldnorm = text_file(&index, ".fieldnorm");
    flip(&fieldnorm, 100, 64);
    let output = run(&["--index", &index, "search", "--mode", "bm25", "benchmark"]);
    assert_damage_named(&output, &index, ".fieldnorm");
}

#[test]
fn an_edited_paper_count_is_an_error_not_fewer_related_papers() {
    let (_tmp, index) = small_index();
    let manifest = Path::new(&index).join("manifest.json");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    for count in ["100", "18446744073709551615"] {
        let edited = text.replace("\"paper_count\": 218", &format!("\"paper_count\": {count}"));
        assert_ne!(edited, text);
        std::fs::write(&manifest, &edited).expect("edit");
        let output = run(&["--index", &index, "related", "2403.03218"]);
        assert_damage_named(&output, &index, "manifest.json");
    }
    assert_recovers(&index);
}

#[test]
fn a_reordered_vector_slot_map_is_an_error_not_other_papers() {
    let (_tmp, index) = small_index();
    let meta = Path::new(&index).join("gen-000001/vectors/vectors.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta).expect("vectors.json")).expect("json");
    let slots = json["slot_paper"].as_array_mut().expect("slot map");
    slots.swap(0, 1);
    std::fs::write(&meta, serde_json::to_vec(&json).expect("json")).expect("write");
    let output = run(&[
        "--index",
        &index,
        "search",
        "--mode",
        "vector",
        "unlearning",
    ]);
    assert_damage_named(&output, &index, "vectors.json");
    let output = run(&["--index", &index, "related", "2403.03218"]);
    assert_damage_named(&output, &index, "vectors.json");
}

#[test]
fn a_damaged_manifest_names_itself_and_the_rebuild_recovers() {
    let (_tmp, index) = small_index();
    let manifest = Path::new(&index).join("manifest.json");
    std::fs::write(&manifest, b"{ not json").expect("damage");
    let output = run(&["--index", &index, "search", "anything"]);
    assert_damage_named(&output, &index, "manifest.json");
    assert_recovers(&index);
    let generation: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest).expect("manifest")).expect("json");
    assert_eq!(
        generation["generation"], 2,
        "numbers keep increasing past the unreadable generation"
    );
}

#[test]
fn a_damaged_tantivy_meta_is_one_short_line_and_the_rebuild_recovers() {
    let (_tmp, index) = small_index();
    let meta = Path::new(&index).join("gen-000001/text/meta.json");
    let mut text = std::fs::read_to_string(&meta).expect("meta.json");
    text.truncate(text.len() / 2);
    std::fs::write(&meta, text).expect("damage");
    let output = run(&["--index", &index, "search", "--mode", "bm25", "anything"]);
    assert_damage_named(&output, &index, "meta.json");
    assert!(!stderr(&output).contains("segments"), "{}", stderr(&output));
    assert_recovers(&index);
}

#[test]
fn damaged_vectors_name_their_file_and_the_rebuild_recovers() {
    for (file, damage) in [("vectors.json", b"{".to_vec()), ("vectors.f32", Vec::new())] {
        let (_tmp, index) = small_index();
        let path = Path::new(&index).join("gen-000001/vectors").join(file);
        if damage.is_empty() {
            flip(&path, 100, 1);
        } else {
            std::fs::write(&path, damage).expect("damage");
        }
        let output = run(&[
            "--index",
            &index,
            "search",
            "--mode",
            "vector",
            "unlearning",
        ]);
        assert_damage_named(&output, &index, file);
        assert_recovers(&index);
    }
}

#[test]
fn a_damaged_topic_model_is_refitted_by_the_next_write() {
    let (_tmp, index) = small_index();
    let topics = Path::new(&index).join("gen-000001/topics.json");
    std::fs::write(&topics, b"{\"x\":").expect("damage");
    let output = run(&["--index", &index, "topics"]);
    assert_damage_named(&output, &index, "topics.json");
    let more = digest("2024-04-03_cs.IR_59fc0cb9.md");
    let output = run(&[
        "--json",
        "index",
        "--index",
        &index,
        &more.to_string_lossy(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("warning:") && stderr(&output).contains("topics.json"),
        "{}",
        stderr(&output)
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let listed = run_json(&["--json", "--index", &index, "topics"]);
    let assigned = listed["assignments"].as_array().map_or(0, Vec::len);
    assert_eq!(assigned as u64, summary["papers"].as_u64().unwrap_or(0));
}

#[test]
fn a_damaged_topic_model_is_recovered_by_the_rebuild_and_by_a_refit() {
    let (_tmp, index) = small_index();
    let topics = Path::new(&index).join("gen-000001/topics.json");
    flip(&topics, 200, 4);
    let output = run(&["--index", &index, "topics"]);
    assert_damage_named(&output, &index, "topics.json");
    let output = run(&["--index", &index, "topics", "--refit"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(run(&["--index", &index, "check"]).status.success());
    let topics = Path::new(&index).join("gen-000002/topics.json");
    std::fs::write(&topics, b"[]").expect("damage");
    assert_recovers(&index);
}

#[test]
fn damaged_word_vectors_are_an_error_and_a_refit_or_rebuild_recovers() {
    let (_tmp, index) = small_index();
    let words = Path::new(&index).join("gen-000001/word_vectors.bin");
    assert!(words.is_file(), "the write stores the word vectors");
    let found = run_json(&[
        "--json", "--index", &index, "search", "--mode", "bm25", "model",
    ]);
    let seed = ids(&found).first().cloned().expect("a paper about models");
    flip(&words, 400, 4);
    let output = run(&["--index", &index, "related", &seed]);
    assert_damage_named(&output, &index, "word_vectors.bin");
    let output = run(&["--index", &index, "check"]);
    assert!(!output.status.success(), "damage must fail check");
    assert!(
        stdout(&output).contains("word_vectors.bin"),
        "{}",
        stdout(&output)
    );
    let output = run(&["--index", &index, "topics", "--refit"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run(&["--index", &index, "related", &seed]);
    assert!(output.status.success(), "{}", stderr(&output));
    let words = Path::new(&index).join("gen-000002/word_vectors.bin");
    std::fs::write(&words, b"PSWORDS1").expect("damage");
    assert_recovers(&index);
}

#[test]
fn check_finds_damage_in_large_files_and_says_how_to_recover() {
    let (_tmp, index) = small_index();
    let healthy = run_json(&["--json", "--index", &index, "check"]);
    assert_eq!(healthy["healthy"], true, "{healthy}");
    assert!(healthy["files_checked"].as_u64().unwrap_or(0) >= 10);
    let store = text_file(&index, ".store");
    let middle = std::fs::metadata(&store).expect("store").len() as usize / 2;
    flip(&store, middle, 16);
    let output = run(&["--json", "--index", &index, "check"]);
    assert!(!output.status.success(), "damage must fail check");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(report["healthy"], false);
    let problems = report["problems"].to_string();
    assert!(problems.contains(".store"), "{report}");
    assert_eq!(
        report["recover"],
        format!("paperscope index --index {index} {REBUILD}")
    );
    let output = run(&["--index", &index, "check"]);
    assert_damage_named(&output, &index, "damaged");
    assert!(stdout(&output).contains(".store"), "{}", stdout(&output));
    assert_recovers(&index);
}

#[test]
fn the_previous_generation_is_kept_and_stale_leftovers_removed() {
    let (_tmp, index) = small_index();
    let dir = Path::new(&index);
    std::fs::create_dir(dir.join("gen-000007.tmp")).expect("stale staging");
    std::fs::write(dir.join(".manifest.json.99999.tmp"), b"{").expect("stale manifest");
    index_one_more(&index);
    assert!(
        dir.join("gen-000001").is_dir(),
        "the previous generation stays"
    );
    assert!(!dir.join("gen-000007.tmp").exists());
    assert!(!dir.join(".manifest.json.99999.tmp").exists());
    let output = run(&["--index", &index, "topics", "--refit"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let live: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("gen-"))
        .collect();
    assert_eq!(live.len(), 2, "{live:?}");
    assert!(
        dir.join("gen-000009").is_dir(),
        "numbered past gen-000007.tmp: {live:?}"
    );
}

#[test]
fn a_write_with_nothing_new_removes_what_a_killed_writer_left() {
    // A writer killed after its manifest swap but before its clean-up leaves an older
    // generation behind; indexing the same digest again changes nothing but removes it.
    let (_tmp, index) = small_index();
    let dir = Path::new(&index);
    index_one_more(&index);
    std::fs::create_dir(dir.join("gen-000000")).expect("stale generation");
    let again = index_one_more(&index);
    assert_eq!(again["changed"], false, "{again}");
    assert!(
        !dir.join("gen-000000").exists(),
        "the stale generation stays"
    );
    assert!(
        dir.join("gen-000001").is_dir(),
        "the previous generation stays"
    );
    assert!(dir.join("gen-000002").is_dir(), "the live generation stays");
}

#[test]
fn readers_never_fail_while_a_writer_commits() {
    let (_tmp, index) = small_index();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) || reads < 3 {
                let output = run(&["--index", &index, "search", "--mode", "bm25", "model"]);
                assert!(output.status.success(), "read {reads}: {}", stderr(&output));
                reads += 1;
            }
            reads
        });
        let more = [
            "2024-04-03_cs.IR_59fc0cb9.md",
            "2024-03-05_cs.IR_4eddf366.md",
        ];
        for name in more {
            let file = digest(name);
            if file.is_file() {
                index_one_more_file(&index, &file);
            }
            let output = run(&["--index", &index, "topics", "--refit"]);
            assert!(output.status.success(), "{}", stderr(&output));
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(reader.join().expect("reader") >= 3);
    });
}

fn index_one_more_file(index: &str, file: &Path) {
    let output = run(&["index", "--index", index, &file.to_string_lossy()]);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn the_locked_error_names_the_process_holding_the_lock() {
    let (_tmp, index) = small_index();
    let _lock = paperscope::store::WriteLock::acquire(Path::new(&index)).expect("lock");
    std::fs::write(Path::new(&index).join("write.lock"), b"424242").expect("stale pid");
    let [a, _] = small_digests();
    let output = run(&["index", "--index", &index, &a]);
    assert_fails_naming(&output, &format!("locked by pid {}", std::process::id()));
}

#[test]
fn the_same_files_by_another_path_are_not_embedded_again() {
    let tmp = tempfile::tempdir().expect("tmp");
    let index = tmp.path().join("index").to_string_lossy().into_owned();
    let name = "data/digests/2024-03-06_cs.CL_0a55959e.md";
    let first = paperscope()
        .current_dir(repo())
        .args(["--json", "index", "--index", &index, name])
        .output()
        .expect("runs");
    assert!(first.status.success(), "{}", stderr(&first));
    let second = paperscope()
        .current_dir(repo())
        .args(["--json", "index", "--index", &index, &format!("./{name}")])
        .output()
        .expect("runs");
    assert!(second.status.success(), "{}", stderr(&second));
    let summary: serde_json::Value = serde_json::from_slice(&second.stdout).expect("json");
    assert_eq!(summary["embedded"], 0, "{summary}");
}

#[test]
fn a_format_3_index_is_read_without_checksums_until_its_next_write() {
    let (_tmp, index) = small_index();
    let manifest = Path::new(&index).join("manifest.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest).expect("manifest")).expect("json");
    json["format_version"] = 3.into();
    json.as_object_mut().expect("object").remove("files");
    std::fs::write(&manifest, serde_json::to_vec(&json).expect("json")).expect("write");
    assert!(!ids(&run_json(&["--json", "--index", &index, "search", "model"])).is_empty());
    let report = run_json(&["--json", "--index", &index, "check"]);
    assert_eq!(report["healthy"], true, "{report}");
    assert!(report["notes"].to_string().contains("format 3"), "{report}");
    index_one_more(&index);
    let after: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest).expect("manifest")).expect("json");
    assert_eq!(after["format_version"], 4);
    assert!(!after["files"].as_array().expect("files").is_empty());
}

/// Runs the binary as user `nobody`, which cannot write the index (nor lock it).
#[cfg(unix)]
fn run_as_nobody(args: &[&str]) -> std::process::Output {
    std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_paperscope"))
        .args(args)
        .env_remove("PAPERSCOPE_INDEX")
        .env("PAPERSCOPE_CACHE", "off")
        .output()
        .expect("setpriv runs")
}

#[cfg(unix)]
#[test]
fn a_read_only_index_answers_every_read_command_for_another_user() {
    use std::os::unix::fs::PermissionsExt;
    if is_root().is_none() {
        eprintln!("skipped: not running as root, cannot switch to another user");
        return;
    }
    if std::process::Command::new("setpriv")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: setpriv (util-linux) is not installed");
        return;
    }
    let (tmp, index) = small_index();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let chmod = std::process::Command::new("chmod")
        .args(["-R", "a-w", &index])
        .status()
        .expect("chmod runs");
    assert!(chmod.success());
    let commands: [&[&str]; 7] = [
        &["search", "--mode", "bm25", "unlearning"],
        &["search", "unlearning"],
        &["show", "2403.03218"],
        &["stats"],
        &["topics"],
        &["related", "2403.03218"],
        &["check"],
    ];
    for command in commands {
        let mut args = vec!["--json", "--index", index.as_str()];
        args.extend_from_slice(command);
        let output = run_as_nobody(&args);
        assert!(
            output.status.success(),
            "{command:?} as nobody: {}",
            stderr(&output)
        );
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
        assert!(json.get("warnings").is_none(), "{command:?}: {json}");
    }
    let _ = std::process::Command::new("chmod")
        .args(["-R", "u+w", &index])
        .status();
}

/// `Some` when this process runs as root (uid 0), from `/proc/self/status`.
fn is_root() -> Option<()> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status.lines().find(|l| l.starts_with("Uid:"))?;
    (uid.split_whitespace().nth(1)? == "0").then_some(())
}

#[test]
fn check_on_a_missing_index_says_it_does_not_exist() {
    let output = run(&["--index", "/no/such/index", "check"]);
    assert_fails_naming(&output, "does not exist");
}
