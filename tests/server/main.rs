//! The HTTP server, tested from outside with a real HTTP client against a real server on a
//! loopback port. One index of `data/` is built once per run and shared (`support`).

mod api;
mod browser;
mod support;
