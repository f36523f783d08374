//! The MCP server, spoken to as an assistant would: `paperscope mcp` started as a child process
//! and driven by rmcp's client (`stdio`), `/mcp` on a real `paperscope serve` over HTTP
//! (`http`), and both by the official MCP Inspector's command-line client (`inspector`), all
//! over the index of `data/` that the other test binaries read (`shared`).

mod http;
mod inspector;
#[path = "../support/mod.rs"]
mod shared;
mod stdio;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

/// A `paperscope serve` over the shared index on a free loopback port, stopped when dropped.
pub struct Served {
    child: Child,
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub url: String,
}

impl Served {
    /// Starts the real binary and waits until it prints the URL it listens on.
    pub fn start() -> Served {
        let mut child = shared::paperscope()
            .args(["--json", "--index", shared::shared_index()])
            .args(["serve", "--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts");
        let mut first = String::new();
        let out = child.stdout.take().expect("stdout piped");
        BufReader::new(out)
            .read_line(&mut first)
            .expect("serve prints its URL");
        let started: serde_json::Value =
            serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first:?}"));
        let url = started["url"]
            .as_str()
            .expect("url")
            .trim_end_matches('/')
            .to_string();
        Served { child, url }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
