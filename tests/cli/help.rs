//! Help that matches behaviour: every default `--help` states (`[default: X]`, clap's own and
//! those written into a flag's text) is checked against what the command really does without
//! the flag. A default stated with no check here fails the test until one is added.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;

use crate::support::*;

/// The help of `command` (empty: the top level).
fn help(command: &[&str]) -> String {
    let mut args = command.to_vec();
    args.push("--help");
    let output = run(&args);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    stdout(&output)
}

/// The subcommands a help text lists (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|c| c != "help")
        .collect()
}

/// Every `[default: X]` of a help text, as (the flag or argument it is under, X).
fn stated_defaults(help: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut under = String::new();
    for line in help.lines() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim_start();
        if (2..10).contains(&indent) && (trimmed.starts_with('-') || trimmed.starts_with('[')) {
            under = trimmed
                .split([',', ' '])
                .filter(|w| !w.is_empty())
                .find(|w| w.starts_with("--"))
                .unwrap_or_else(|| trimmed.split_whitespace().next().unwrap_or_default())
                .to_string();
        }
        let mut rest = line;
        while let Some(at) = rest.find("[default: ") {
            let value = &rest[at + "[default: ".len()..];
            let end = value.find(']').unwrap_or(value.len());
            found.push((under.clone(), value[..end].to_string()));
            rest = &value[end..];
        }
    }
    found
}

/// A JSON answer without what differs between two runs: timings, the last digits of measures
/// summed in parallel, and graph recall (the HNSW graph is built on every core, so a query or
/// two may differ from build to build; the stride shows in the number of queries).
fn steady(value: Value) -> Value {
    match value {
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or_default();
            serde_json::json!(format!("{x:.9}"))
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| {
                    !["seconds", "took_ms", "latency", "_us", "_ms", "recall"]
                        .iter()
                        .any(|t| k.contains(t))
                })
                .map(|(k, v)| (k, steady(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(steady).collect()),
        other => other,
    }
}

/// A text answer without its timing line.
fn steady_text(text: &str) -> String {
    text.lines()
        .filter(|l| !l.contains("matching papers"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What `args` prints, expecting success: JSON made steady, or text without timings.
fn answer(args: &[&str]) -> String {
    let output = run(args);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    let out = stdout(&output);
    match serde_json::from_str::<Value>(&out) {
        Ok(json) => steady(json).to_string(),
        Err(_) => steady_text(&out),
    }
}

/// Asserts that `base` answers the same without `flag` as with `flag value`.
fn same_without(base: &[&str], flag: &str, value: &str) {
    let mut with = base.to_vec();
    with.extend_from_slice(&[flag, value]);
    assert_eq!(
        answer(base),
        answer(&with),
        "{base:?}: without {flag} is not the same as {flag} {value}"
    );
}

/// A small index of one digest, built with the default model, in its own directory (`index`
/// inside it, where a command run there finds it without `--index`).
fn small() -> &'static (tempfile::TempDir, String) {
    static SMALL: OnceLock<(tempfile::TempDir, String)> = OnceLock::new();
    SMALL.get_or_init(small_index)
}

/// An index of one digest of eight papers, its vectors from the seed beside `data/digests`: for
/// `eval crosslingual`, which embeds every paper's texts as queries (436 texts a run on the
/// small index, ~18 s). Its answer names how many queries ran, which tells stride 1 from any
/// other stride on eight papers.
fn tiny() -> &'static (tempfile::TempDir, String) {
    static TINY: OnceLock<(tempfile::TempDir, String)> = OnceLock::new();
    TINY.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("index").to_string_lossy().into_owned();
        let one = digest("2024-06-21_cs.IR_460beb39.md");
        run_ok(&["index", "--index", &dir, &one.to_string_lossy()]);
        (tmp, dir)
    })
}

/// Checks one stated default of `command`; `false` when there is no check for it.
fn check(command: &str, flag: &str, stated: &str) -> bool {
    let shared = shared_index();
    let (small_dir, small) = small();
    let search = [
        "--json",
        "--index",
        shared,
        "search",
        "hallucination benchmark",
    ];
    let related = ["--json", "--index", shared, "related", "2403.05266"];
    match (command, flag) {
        ("", "--index") => {
            assert_eq!(stated, "index, or $PAPERSCOPE_INDEX");
            let here = paperscope()
                .current_dir(small_dir.path())
                .args(["--json", "stats"])
                .output()
                .expect("runs");
            assert!(here.status.success(), "{}", stderr(&here));
            let from_env = paperscope()
                .current_dir(Path::new("/"))
                .env("PAPERSCOPE_INDEX", small)
                .args(["--json", "stats"])
                .output()
                .expect("runs");
            assert_eq!(stdout(&here), stdout(&from_env));
        }
        ("", "--model") => same_without(
            &[
                "--json", "--index", small, "search", "--mode", "vector", "language",
            ],
            "--model",
            stated,
        ),
        ("", "--color") => same_without(
            &[
                "--index",
                shared,
                "search",
                "-n",
                "2",
                "--mode",
                "bm25",
                "hallucination",
            ],
            "--color",
            stated,
        ),
        ("index", "[INPUTS]...") => {
            let tmp = tempfile::tempdir().expect("tmp");
            let data = tmp.path().join(stated);
            std::fs::create_dir_all(&data).expect("data dir");
            let name = "2024-03-06_cs.CL_0a55959e.md";
            std::fs::copy(digest(name), data.join(name)).expect("copy a digest");
            let output = paperscope()
                .current_dir(tmp.path())
                .args(["--json", "--model", "static", "index", "--index", "idx"])
                .output()
                .expect("runs");
            assert!(output.status.success(), "{}", stderr(&output));
            let report: Value = serde_json::from_slice(&output.stdout).expect("json");
            assert_eq!(report["files"], 1, "{report}");
        }
        ("search", "--alpha") => {
            let alpha = stated
                .split(" in search")
                .next()
                .expect("the default in search");
            same_without(&search, "--alpha", alpha);
        }
        ("related", "--alpha") => {
            // related states no weight: without --alpha it fuses word and meaning similarity
            // by z-scores, and says so; with one it is the older fusion by that weight.
            let alpha = stated
                .split(" in search")
                .next()
                .expect("the default in search");
            let without: Value = serde_json::from_str(&answer(&related)).expect("json");
            assert_eq!(without["fusion"], "z-score words + meaning", "{without}");
            let mut with = related.to_vec();
            with.extend_from_slice(&["--alpha", alpha]);
            let with: Value = serde_json::from_str(&answer(&with)).expect("json");
            assert_eq!(with["fusion"], format!("convex {alpha}"), "{with}");
        }
        ("search", "--limit" | "--offset" | "--sort" | "--mode") => {
            same_without(&search, flag, stated)
        }
        ("related", "--limit" | "--offset" | "--sort") => same_without(&related, flag, stated),
        ("search" | "related" | "topic", "--format") => {
            let base: Vec<&str> = match command {
                "search" => vec!["--index", shared, "search", "-n", "2", "hallucination"],
                "related" => vec!["--index", shared, "related", "-n", "2", "2403.05266"],
                _ => vec!["--index", shared, "topic", "0", "-n", "2"],
            };
            same_without(&base, flag, stated);
        }
        ("topics", "--level") => {
            same_without(&["--json", "--index", shared, "topics"], flag, stated)
        }
        ("topic", "--limit" | "--level") => {
            same_without(&["--json", "--index", shared, "topic", "0"], flag, stated)
        }
        ("topics", "--min-size") => same_without(
            &["--json", "--index", small, "topics", "--refit"],
            flag,
            stated,
        ),
        ("digest", "--limit" | "--related" | "--format") => same_without(
            &["--index", small, "digest", "--query", "language model"],
            flag,
            stated,
        ),
        ("serve", "--bind") => {
            let mut server = paperscope()
                .args(["--json", "--index", small, "serve"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("serve starts");
            let mut first = String::new();
            if let Some(out) = server.stdout.take() {
                let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut first);
            }
            let _ = server.kill();
            let output = server.wait_with_output().expect("serve ends");
            // The default address is used: served there, or found busy there.
            assert!(
                first.contains(&format!("http://{stated}/")) || stderr(&output).contains(stated),
                "{first} {}",
                stderr(&output)
            );
        }
        ("eval search" | "eval related", "--queries") => {
            // The default is a path in the working directory: elsewhere, the error names it.
            let tmp = tempfile::tempdir().expect("tmp");
            let sub = command.split(' ').nth(1).unwrap_or_default();
            let output = paperscope()
                .current_dir(tmp.path())
                .args(["--index", shared, "eval", sub])
                .output()
                .expect("runs");
            let first = stated.split(' ').next().unwrap_or_default();
            assert_fails_naming(&output, first);
        }
        ("eval crosslingual", "--stride") => {
            let (_, tiny) = tiny();
            let base = ["--json", "--index", tiny.as_str(), "eval", "crosslingual"];
            let without = answer(&base);
            let with = answer(&[&base[..], &[flag, stated]].concat());
            assert_eq!(without, with, "without {flag} is not {flag} {stated}");
            let papers: Value = serde_json::from_str(&without).expect("json");
            assert_eq!(papers["papers"], 8, "{without}");
        }
        ("eval ann", "--stride") | ("eval topics", "--representation") => {
            let sub = command.split(' ').nth(1).unwrap_or_default();
            same_without(&["--json", "--index", small, "eval", sub], flag, stated);
        }
        _ => return false,
    }
    true
}

#[test]
fn every_default_stated_in_help_is_the_real_one() {
    let top = help(&[]);
    let mut commands: Vec<String> = vec![String::new()];
    for command in subcommands(&top) {
        let nested = subcommands(&help(&[&command]));
        if nested.is_empty() {
            commands.push(command);
        } else {
            commands.extend(nested.into_iter().map(|n| format!("{command} {n}")));
        }
    }
    let global: BTreeSet<(String, String)> = stated_defaults(&top).into_iter().collect();
    let mut unchecked = Vec::new();
    let mut checked = 0;
    for command in &commands {
        let words: Vec<&str> = command.split_whitespace().collect();
        for (flag, stated) in stated_defaults(&help(&words)) {
            // The global flags' defaults are checked once, at the top level.
            if !command.is_empty() && global.contains(&(flag.clone(), stated.clone())) {
                continue;
            }
            if check(command, &flag, &stated) {
                checked += 1;
            } else {
                unchecked.push(format!("{command} {flag} [default: {stated}]"));
            }
        }
    }
    assert!(
        unchecked.is_empty(),
        "defaults stated in --help with no check in tests/cli/help.rs: {unchecked:#?}"
    );
    assert!(
        checked >= 20,
        "only {checked} defaults found: is the help parsed?"
    );
}
