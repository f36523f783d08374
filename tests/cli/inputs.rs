//! Unusual and bad inputs, end to end: a directory with bad files indexes the rest (each bad
//! file a warning naming it), `--strict` writes nothing, reads are bounded for pipes and
//! devices, directories are walked recursively without following links, the `# 摘要` table
//! fills only its own paper, and query arguments have limits.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

const GOOD: &str = "2024-04-03_cs.IR_59fc0cb9.md";

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create test dir");
    }
    std::fs::write(&path, bytes).expect("write test file");
    path
}

fn entries_in(name: &str) -> usize {
    let text = std::fs::read_to_string(digest(name)).expect("sample");
    text.lines()
        .filter(|l| l.starts_with("[^") && l.contains("]:"))
        .count()
}

/// Waits for `child` at most `limit`, then kills it and fails: a run that hangs or reads
/// forever must fail the test, not hold the machine.
fn wait_bounded(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("paperscope still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

/// `paperscope` with its address space capped, so that a read that is not bounded fails fast
/// with an allocation error instead of taking the shared machine's memory.
fn capped(args: &[&str]) -> std::process::Command {
    let mut command = paperscope();
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                let limit = libc::rlimit {
                    rlim_cur: 3 << 30,
                    rlim_max: 3 << 30,
                };
                libc::setrlimit(libc::RLIMIT_AS, &limit);
                Ok(())
            });
        }
    }
    command
}

/// A directory of one good digest and four bad files: empty, binary, table only, unreadable.
fn directory_with_bad_files() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("digests");
    std::fs::create_dir(&dir).expect("dir");
    link_seed(tmp.path());
    std::fs::copy(digest(GOOD), dir.join(GOOD)).expect("copy sample");
    write(&dir, "empty.md", b"");
    write(
        &dir,
        "binary.md",
        b"# \xe6\x91\x98\n\x00\xff\xfe\x00 binary",
    );
    write(
        &dir,
        "table.md",
        "# 摘要\n\n| Ref | Title | Summary |\n| --- | --- | --- |\n| [^1] | [T](https://arxiv.org/abs/2401.00001) | 摘要 |\n".as_bytes(),
    );
    // Root reads any mode, so "unreadable" is a link to nowhere.
    #[cfg(unix)]
    std::os::unix::fs::symlink("/no/such/target.md", dir.join("unreadable.md")).expect("link");
    (tmp, dir)
}

const BAD: [&str; 4] = ["binary.md", "empty.md", "table.md", "unreadable.md"];

#[test]
fn bad_files_in_a_directory_are_skipped_and_the_rest_indexed() {
    let (tmp, dir) = directory_with_bad_files();
    let index = tmp.path().join("index");
    let output = run(&[
        "--json",
        "index",
        "--index",
        &index.to_string_lossy(),
        &dir.to_string_lossy(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(summary["papers"], entries_in(GOOD));
    assert_eq!(summary["files"], 1);
    let skipped = summary["skipped"].as_array().expect("skipped list");
    let mut files: Vec<String> = skipped
        .iter()
        .map(|s| {
            let file = s["file"].as_str().expect("file").to_string();
            let error = s["error"].as_str().expect("error");
            assert!(error.starts_with(&file), "{error} names {file}");
            file
        })
        .collect();
    files.sort();
    let expected: Vec<String> = BAD
        .iter()
        .map(|b| dir.join(b).to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, expected);
    let err = stderr(&output);
    for bad in BAD {
        assert!(
            err.lines()
                .any(|l| l.starts_with("warning: ") && l.contains(bad)),
            "{bad}: {err}"
        );
    }
    assert!(err.contains("binary.md:2: not valid UTF-8"), "{err}");

    let text = run(&[
        "index",
        "--index",
        &tmp.path().join("index2").to_string_lossy(),
        &dir.to_string_lossy(),
    ]);
    assert!(text.status.success(), "{}", stderr(&text));
    assert!(
        stdout(&text).contains("Skipped 4 bad files"),
        "{}",
        stdout(&text)
    );
}

#[test]
fn strict_fails_on_the_first_bad_file_and_writes_nothing() {
    let (tmp, dir) = directory_with_bad_files();
    let index = tmp.path().join("index");
    let output = run(&[
        "index",
        "--strict",
        "--index",
        &index.to_string_lossy(),
        &dir.to_string_lossy(),
    ]);
    assert_fails_naming(&output, "binary.md:2");
    assert!(!index.join("manifest.json").exists());
}

#[test]
fn a_run_where_no_file_gives_a_paper_fails_and_keeps_the_index() {
    let (_dirs, dir) = directory_with_bad_files();
    let (_tmp, index) = small_index();
    let manifest = std::fs::read(Path::new(&index).join("manifest.json")).expect("manifest");
    let empty = dir.join("empty.md");
    let table = dir.join("table.md");
    let output = run(&[
        "index",
        "--index",
        &index,
        &empty.to_string_lossy(),
        &table.to_string_lossy(),
    ]);
    assert_fails_naming(&output, "empty.md");
    assert!(stderr(&output).contains("was left as it was"));
    assert_eq!(
        std::fs::read(Path::new(&index).join("manifest.json")).expect("manifest"),
        manifest
    );
}

#[test]
fn dev_zero_is_refused_after_a_bounded_read() {
    let tmp = tempfile::tempdir().expect("tmp");
    let index = tmp.path().join("index").to_string_lossy().into_owned();
    let child = capped(&["index", "--index", &index, "/dev/zero"])
        .spawn()
        .expect("spawn");
    let output = wait_bounded(child, Duration::from_secs(60));
    assert_fails_naming(&output, "/dev/zero");
    assert!(
        stderr(&output).contains("-byte limit"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_pipe_over_the_limit_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let index = tmp.path().join("index").to_string_lossy().into_owned();
    let mut child = capped(&["index", "--index", &index, "/dev/stdin"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'a'; 1 << 20];
        let total = paperscope::digest::parse::MAX_FILE_BYTES as usize + (4 << 20);
        let mut written = 0;
        // The reader stops at the limit and exits: a broken pipe is the expected end.
        while written < total && stdin.write_all(&chunk).is_ok() {
            written += chunk.len();
        }
    });
    let output = wait_bounded(child, Duration::from_secs(120));
    let _ = writer.join();
    assert_fails_naming(&output, "/dev/stdin");
    assert!(
        stderr(&output).contains("-byte limit"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn directories_are_walked_recursively_without_hidden_dirs_or_link_loops() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let digests = data.join("digests");
    std::fs::create_dir_all(&digests).expect("dirs");
    std::fs::copy(digest(GOOD), digests.join(GOOD)).expect("copy");
    write(
        &data,
        "README.md",
        b"# Sample data\n\nDigests are in digests/.\n",
    );
    write(&data, "notes.md", b"# Notes\n\nNothing here is a digest.\n");
    // Another digest under a hidden directory: not indexed.
    let hidden = data.join(".cache");
    std::fs::create_dir(&hidden).expect("hidden dir");
    std::fs::copy(
        digest("2024-03-06_cs.CL_0a55959e.md"),
        hidden.join("2024-03-06_cs.CL_0a55959e.md"),
    )
    .expect("copy");
    #[cfg(unix)]
    std::os::unix::fs::symlink("..", digests.join("loop")).expect("link loop");
    let index = tmp.path().join("index").to_string_lossy().into_owned();
    let child = capped(&[
        "--json",
        "index",
        "--index",
        &index,
        &data.to_string_lossy(),
    ])
    .spawn()
    .expect("spawn");
    let output = wait_bounded(child, Duration::from_secs(120));
    assert!(output.status.success(), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(summary["papers"], entries_in(GOOD));
    let err = stderr(&output);
    for name in ["README.md", "notes.md"] {
        assert!(
            err.lines()
                .any(|l| l.starts_with("note: ") && l.contains(name)),
            "{name}: {err}"
        );
    }
    assert!(!err.contains("warning"), "{err}");
}

#[test]
fn a_table_row_of_another_digest_does_not_fill_an_entry() {
    // Two digests in one file, both numbered from [^1]; the first one's entry [^1] lost its
    // English title line. Its own table row gives the title, not the second digest's row.
    let first = std::fs::read_to_string(digest("2024-03-06_cs.CL_0a55959e.md")).expect("a");
    let second = std::fs::read_to_string(digest(GOOD)).expect("b");
    let lines: Vec<&str> = first.lines().collect();
    let entry = lines
        .iter()
        .position(|l| l.starts_with("[^1]:"))
        .expect("entry 1");
    let title_at = (entry + 1..lines.len())
        .find(|&i| !lines[i].trim().is_empty())
        .expect("title line");
    let title = lines[title_at].trim().to_string();
    let url = lines[title_at + 1..]
        .iter()
        .find(|l| l.trim().starts_with("[http"))
        .expect("url line");
    let id = url
        .split("abs/")
        .nth(1)
        .and_then(|rest| rest.get(..10))
        .expect("id")
        .to_string();
    let mut damaged: Vec<&str> = lines.clone();
    damaged.remove(title_at);
    let text = format!("{}\n{second}", damaged.join("\n"));
    let tmp = tempfile::tempdir().expect("tmp");
    link_seed(tmp.path());
    let file = write(tmp.path(), "digests/two-digests.md", text.as_bytes());
    let index = tmp.path().join("index").to_string_lossy().into_owned();
    let output = run(&["index", "--index", &index, &file.to_string_lossy()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let paper = run_json(&["--json", "--index", &index, "show", &id]);
    assert_eq!(paper["title_en"], title.as_str());
}

#[test]
fn an_impossible_day_is_refused() {
    for (flag, value) in [("--since", "2024-02-31"), ("--until", "2023-02-29")] {
        let output = run(&["--index", "/no/such/index", "search", flag, value, "x"]);
        assert_fails_naming(&output, flag);
        assert!(stderr(&output).contains(value), "{}", stderr(&output));
    }
}

#[test]
fn an_overlong_query_is_refused_without_echoing_it() {
    let query = "hallucination ".repeat(8_000);
    let output = run(&["--index", "/no/such/index", "search", &query]);
    assert_fails_naming(&output, "QUERY");
    assert!(stderr(&output).len() < 400, "{}", stderr(&output));
}
