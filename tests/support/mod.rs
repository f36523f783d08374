//! Shared by the `cli` and `server` test binaries (each includes this file with
//! `#[path = "../support/mod.rs"]`): the real binary, the sample data, and one index of all of
//! `data/` that both binaries read.
//!
//! The index is built once per build of the code and data, not once per test binary: it lives
//! in `CARGO_TARGET_TMPDIR` under a name keyed by the `paperscope` binary and the files of
//! `data/digests` and `data/model` (size and modification time), so a build of other code or
//! other data never reads another's index. The first binary to need it builds it under a file
//! lock, in a temporary directory renamed into place, so a second binary running at the same
//! time waits and then reads the finished one.

// Each test binary uses its own part of these helpers.
#![allow(dead_code)]

use std::fs::{self, File};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::UNIX_EPOCH;

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn data_dir() -> PathBuf {
    repo().join("data/digests")
}

pub fn digest(name: &str) -> PathBuf {
    data_dir().join(name)
}

/// The binary under test, with no index from the environment and the per-user embedding cache
/// off: a test never writes to the real `~/.cache`, and what one test embeds never turns up as
/// cached in another. Tests of the shared cache set `PAPERSCOPE_CACHE` to a temporary directory.
pub fn paperscope() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_paperscope"));
    command.env_remove("PAPERSCOPE_INDEX");
    command.env("PAPERSCOPE_CACHE", "off");
    command
}

pub fn run(args: &[&str]) -> Output {
    paperscope().args(args).output().expect("binary runs")
}

/// Runs the binary and expects success.
pub fn run_ok(args: &[&str]) -> Output {
    let output = run(args);
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        stderr(&output)
    );
    output
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs and expects success, returning stdout parsed as JSON.
pub fn run_json(args: &[&str]) -> serde_json::Value {
    let output = run_ok(args);
    serde_json::from_slice(&output.stdout).expect("stdout is one JSON document")
}

/// Result ids of a search or related answer (the CLI's `--json` and the API's are one document).
pub fn ids(response: &serde_json::Value) -> Vec<String> {
    response["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results array: {response}"))
        .iter()
        .map(|r| {
            r["arxiv_id"]
                .as_str()
                .unwrap_or_else(|| panic!("a result without arxiv_id: {r}"))
                .to_owned()
        })
        .collect()
}

/// Prefix of the shared index's directory (and of its lock and temporary directories).
const SHARED: &str = "data-index";

/// An index of every digest in `data/`, built by the binary the first time any test binary of
/// this build needs it, then read by every test of every run of this build. Tests must not
/// index into it or damage it (copy it, or build their own, for that); the only write is the
/// topic model (`topics`, `digest --by-topic`), which is deterministic and saved atomically.
pub fn shared_index() -> &'static str {
    static INDEX: OnceLock<String> = OnceLock::new();
    INDEX.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let dir = tmp.join(format!("{SHARED}-{:016x}", build_key()));
        fs::create_dir_all(tmp).expect("CARGO_TARGET_TMPDIR can be created");
        let lock = File::create(tmp.join(format!("{SHARED}.lock"))).expect("lock file");
        // Held until the index is in place: another test binary waits here, then finds it.
        lock.lock().expect("lock on the shared index");
        if !dir.join("manifest.json").is_file() {
            build_shared_index(tmp, &dir);
        }
        dir.to_string_lossy().into_owned()
    })
}

/// Builds the index of `data/` as `dir` (called with the lock held): in a directory of its own,
/// renamed into place once complete, so `dir` exists only when whole. Then removes the shared
/// indexes of other builds and what an interrupted build left behind.
fn build_shared_index(tmp: &Path, dir: &Path) {
    let building = tmp.join(format!("{SHARED}-building-{}", std::process::id()));
    let _ = fs::remove_dir_all(&building);
    let _ = fs::remove_dir_all(dir);
    let building_arg = building.to_string_lossy().into_owned();
    run_ok(&[
        "index",
        "--index",
        &building_arg,
        &data_dir().to_string_lossy(),
    ]);
    fs::rename(&building, dir).expect("the built index renamed into place");
    let Ok(entries) = fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!("{SHARED}-")) && path != dir && path.is_dir() {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// What the shared index depends on: the `paperscope` binary (which carries the model weights)
/// and the files it indexes or reads the tokenizer from, by path, size and modification time;
/// and `PAPERSCOPE_MODEL`, which the binary reads when no `--model` is given.
fn build_key() -> u64 {
    let mut hasher = DefaultHasher::new();
    let mut files = vec![PathBuf::from(env!("CARGO_BIN_EXE_paperscope"))];
    for dir in ["data/digests", "data/model"] {
        collect_files(&repo().join(dir), &mut files);
    }
    files.sort();
    for file in &files {
        file.hash(&mut hasher);
        let meta = fs::metadata(file).expect("a file the shared index depends on");
        meta.len().hash(&mut hasher);
        meta.modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .hash(&mut hasher);
    }
    std::env::var_os("PAPERSCOPE_MODEL").hash(&mut hasher);
    hasher.finish()
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("a data directory").flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// The Python of the tests' one virtualenv (`tests/python/requirements.txt`: the read-back
/// libraries and the export round trip's engines), `venv-python` under the target directory,
/// made by `tests/python/venv.sh` the first time (under a file lock, so the test binaries and
/// `.ci/run`, which starts it while cargo compiles, make it once) and reused while the
/// requirements are the same. `None`, with a message, only when `$PYTHON` (default python3)
/// cannot make a virtualenv outside CI; `.ci/run` installs python3-venv, and with `CI` set its
/// absence fails the test.
pub fn python() -> Option<PathBuf> {
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    PYTHON.get_or_init(make_python).clone()
}

fn make_python() -> Option<PathBuf> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let venv_ok = Command::new(&python)
        .args(["-c", "import ensurepip, venv"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !venv_ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{python} cannot make a virtualenv in CI: .ci/run installs python3-venv"
        );
        eprintln!("SKIPPED: {python} cannot make a virtualenv (apt-get install python3-venv)");
        return None;
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("venv-python");
    let made = Command::new("bash")
        .arg(repo().join("tests/python/venv.sh"))
        .arg(&venv)
        .env("PYTHON", &python)
        .output()
        .expect("bash runs");
    assert!(
        made.status.success(),
        "tests/python/venv.sh: {}",
        stderr(&made)
    );
    Some(PathBuf::from(stdout(&made).trim()))
}

/// What `tests/python/read_back.py` understood of `target` (a file, or a feed's URL) read as
/// `kind` (`csl-json`, `ris`, `atom`), with the libraries of `tests/python/requirements.txt`;
/// `None` when there is no Python to read it with (see [`python`]).
pub fn read_back(kind: &str, target: &str) -> Option<serde_json::Value> {
    let python = python()?;
    let output = Command::new(python)
        .arg(repo().join("tests/python/read_back.py"))
        .args([kind, target])
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "read_back.py {kind} {target}: {}",
        stderr(&output)
    );
    Some(serde_json::from_slice(&output.stdout).expect("read_back.py prints one JSON document"))
}
