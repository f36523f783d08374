//! Every shell command in README.md, docs/guide.md and ARCHITECTURE.md is checked, so the
//! documentation cannot drift from the binary: a `paperscope` line that only reads runs against
//! the shared index of `data/` and must succeed; one that writes an index, serves or measures for
//! minutes is checked against its command's `--help` (the command and every flag must exist);
//! `curl` lines for the local server run against a server started here; any other line must be
//! of a kind listed in `Kind::Known`, so a new kind of line needs a decision.
//!
//! The commands run with `sh` in a temporary directory that looks like a clone: `data` and
//! `tests` link to the repository's, `index` to the shared index, and `my-list.txt` holds two ids.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::support::{paperscope, repo, shared_index, stderr, stdout};

const DOCS: &[&str] = &["README.md", "docs/guide.md", "ARCHITECTURE.md"];

/// Where the documentation's `curl` lines expect the server.
const DOC_SERVER: &str = "http://127.0.0.1:7878";

struct Line {
    place: String,
    text: String,
}

/// The lines of every `sh` block (comments and blank lines left out, continuations joined).
fn shell_lines() -> Vec<Line> {
    let mut lines = Vec::new();
    for doc in DOCS {
        let text = std::fs::read_to_string(repo().join(doc)).expect("doc readable");
        let mut language: Option<String> = None;
        let mut pending = String::new();
        for (i, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if let Some(tag) = trimmed.strip_prefix("```") {
                if language.is_some() {
                    language = None;
                } else {
                    assert!(
                        !tag.trim().is_empty(),
                        "{doc}:{}: a code block without a language (sh, text, json, rust)",
                        i + 1
                    );
                    language = Some(tag.trim().to_string());
                }
                continue;
            }
            if !matches!(language.as_deref(), Some("sh" | "bash" | "shell")) {
                continue;
            }
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if let Some(head) = trimmed.strip_suffix('\\') {
                pending.push_str(head);
                continue;
            }
            lines.push(Line {
                place: format!("{doc}:{}", i + 1),
                text: format!("{pending}{trimmed}"),
            });
            pending.clear();
        }
    }
    lines
}

/// A shell line's words up to a comment, redirection or pipe (quotes removed).
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, '#' | '>' | '<' | '|') if !in_word => break,
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// What the test does with a line.
#[derive(Debug, PartialEq)]
enum Kind {
    /// Run it (a `paperscope` command line) and expect success.
    Run(String),
    /// Check the command and its flags against `--help`: the subcommand words, then the flags.
    Help(Vec<String>, Vec<String>),
    /// Run it against the server started by the test.
    Curl(String),
    /// Not run here, for the reason given.
    Known(&'static str),
}

const GLOBAL_WITH_VALUE: &[&str] = &["--index", "--model", "--color"];

fn classify(line: &str) -> Kind {
    let words = words(line);
    let program = words.first().map(String::as_str).unwrap_or_default();
    match program {
        "paperscope" => classify_paperscope(line, &words[1..]),
        "cargo" if words[1..].starts_with(&["run".into(), "--release".into(), "--".into()]) => {
            let rest = line
                .split_once("--release --")
                .map(|(_, rest)| rest)
                .unwrap_or_default();
            classify_paperscope(&format!("paperscope{rest}"), &words[4..])
        }
        "cargo" => Kind::Known("cargo builds, tests and benches: what CI runs"),
        "curl" if line.contains(DOC_SERVER) => Kind::Curl(line.replacen("curl ", "curl -f ", 1)),
        "curl" if line.contains("localhost:9200") => Kind::Known("needs an OpenSearch server"),
        "tests/roundtrip/run.sh" | "benches/peers/run.sh" => {
            Kind::Known("minutes, with a virtualenv from PyPI: run by hand")
        }
        _ => panic!("unknown kind of shell line (run it, or add it to Kind::Known): {line}"),
    }
}

fn classify_paperscope(line: &str, args: &[String]) -> Kind {
    let mut command = Vec::new();
    let mut flags = Vec::new();
    let mut skip_value = false;
    for arg in args {
        if skip_value {
            skip_value = false;
        } else if arg.starts_with('-') && arg.len() > 1 {
            let flag = arg.split('=').next().unwrap_or_default().to_string();
            skip_value = GLOBAL_WITH_VALUE.contains(&flag.as_str()) && !arg.contains('=');
            flags.push(flag);
        } else if command.is_empty() || (command == ["eval"] && command.len() == 1) {
            command.push(arg.clone());
        }
    }
    let writes = command.first().is_some_and(|c| c == "index")
        || (command.first().is_some_and(|c| c == "topics") && flags.iter().any(|f| f == "--refit"));
    let long = command.first().is_some_and(|c| c == "serve" || c == "eval");
    if writes || long {
        Kind::Help(command, flags)
    } else {
        Kind::Run(line.to_string())
    }
}

/// A directory that looks like a clone with an index.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::os::unix::fs::symlink(repo().join("data"), dir.path().join("data")).expect("link data");
    std::os::unix::fs::symlink(repo().join("tests"), dir.path().join("tests")).expect("link tests");
    std::os::unix::fs::symlink(shared_index(), dir.path().join("index")).expect("link index");
    std::fs::write(dir.path().join("my-list.txt"), "2403.05266\n2404.02115\n").expect("list");
    dir
}

fn sh(dir: &Path, line: &str) -> std::process::Output {
    let exe = Path::new(env!("CARGO_BIN_EXE_paperscope"));
    let bin = exe.parent().expect("binary's directory");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("sh")
        .arg("-c")
        .arg(line)
        .current_dir(dir)
        .env("PATH", path)
        .env_remove("PAPERSCOPE_INDEX")
        .env_remove("PAPERSCOPE_MODEL")
        // The shared embedding cache of the docs' lines, never the real ~/.cache.
        .env("PAPERSCOPE_CACHE", dir.join("user-cache"))
        .env("COLUMNS", "100")
        .output()
        .expect("sh runs")
}

/// The server the `curl` lines talk to, stopped when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let mut child = paperscope()
            .args(["--json", "serve", "--bind", "127.0.0.1:0"])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts");
        let mut first = String::new();
        let out = child.stdout.take().expect("stdout piped");
        BufReader::new(out)
            .read_line(&mut first)
            .expect("serve prints its URL");
        let started: serde_json::Value = serde_json::from_str(&first).expect("one JSON line");
        let url = started["url"]
            .as_str()
            .expect("url")
            .trim_end_matches('/')
            .to_string();
        Server { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn help_of(command: &[String]) -> String {
    let mut args: Vec<&str> = command.iter().map(String::as_str).collect();
    args.push("--help");
    let output = paperscope().args(&args).output().expect("binary runs");
    assert!(
        output.status.success(),
        "`paperscope {}` is not a command: {}",
        command.join(" "),
        stderr(&output)
    );
    stdout(&output)
}

#[test]
fn every_shell_line_of_the_docs_runs_or_is_checked() {
    let lines = shell_lines();
    assert!(
        lines.len() >= 40,
        "too few shell lines read: {}",
        lines.len()
    );
    let dir = workdir();
    let mut server: Option<Server> = None;
    let mut failures = Vec::new();
    let mut ran = 0;
    for line in &lines {
        match classify(&line.text) {
            Kind::Run(command) => {
                let output = sh(dir.path(), &command);
                ran += 1;
                if !output.status.success() {
                    failures.push(format!(
                        "{}: `{command}` failed: {}",
                        line.place,
                        stderr(&output)
                    ));
                }
            }
            Kind::Help(command, flags) => {
                let help = help_of(&command);
                for flag in flags {
                    let known = help.contains(&format!("{flag} "))
                        || help.contains(&format!("{flag},"))
                        || help.contains(&format!("{flag}\n"))
                        || help.contains(&format!("{flag}="));
                    if !known {
                        failures.push(format!(
                            "{}: `paperscope {}` has no flag {flag}",
                            line.place,
                            command.join(" ")
                        ));
                    }
                }
            }
            Kind::Curl(command) => {
                let url = &server.get_or_insert_with(|| Server::start(dir.path())).url;
                let command = command.replace(DOC_SERVER, url);
                let output = sh(dir.path(), &command);
                ran += 1;
                if !output.status.success() {
                    failures.push(format!(
                        "{}: `{command}` failed: {}",
                        line.place,
                        stderr(&output)
                    ));
                }
            }
            Kind::Known(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(ran >= 30, "too few lines run: {ran}");
}

#[test]
fn lines_are_classified_as_documented() {
    assert_eq!(
        classify("paperscope search \"LLM unlearning\" --format bibtex > refs.bib"),
        Kind::Run("paperscope search \"LLM unlearning\" --format bibtex > refs.bib".into())
    );
    assert_eq!(
        classify("cargo run --release -- search \"hallucination benchmark\""),
        Kind::Run("paperscope search \"hallucination benchmark\"".into())
    );
    assert_eq!(
        classify("paperscope --index /tmp/x index --strict data/digests  # all or nothing"),
        Kind::Help(
            vec!["index".into()],
            vec!["--index".into(), "--strict".into()]
        )
    );
    assert_eq!(
        classify("paperscope eval search --queries tests/queries.tsv"),
        Kind::Help(
            vec!["eval".into(), "search".into()],
            vec!["--queries".into()]
        )
    );
    assert_eq!(
        classify("paperscope topics --refit --topics 30"),
        Kind::Help(
            vec!["topics".into()],
            vec!["--refit".into(), "--topics".into()]
        )
    );
    assert!(matches!(classify("cargo test --release"), Kind::Known(_)));
    assert!(matches!(
        classify("curl -s 'http://127.0.0.1:7878/api/health'"),
        Kind::Curl(_)
    ));
}
