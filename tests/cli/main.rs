//! The `paperscope` binary end to end, on the sample digests of `data/`.
//!
//! Every test that does not change its papers reads one index of all of `data/`, shared with
//! the `server` binary and built once per build (`support::shared_index`); tests that index,
//! damage or lock an index build their own in a temporary directory (`support::small_index` or
//! a fresh `tempdir`).

#[path = "../support/mod.rs"]
mod shared;
mod support;

mod cache;
mod crash;
mod digest;
mod docs;
mod ergonomics;
mod export;
mod failures;
mod help;
mod hybrid;
mod index;
mod inputs;
mod integrity;
mod newcomer;
mod references;
mod roundtrip;
mod search;
mod shared_cache;
mod topics;
mod vector;
mod watch;
