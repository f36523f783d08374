//! The HTTP server, tested from outside with a real HTTP client against a real server on a
//! loopback port, over the index of `data/` that the `cli` binary reads too (`support`).

mod api;
mod browser;
mod feeds;
mod references;
#[path = "../support/mod.rs"]
mod shared;
mod support;
mod watch;
