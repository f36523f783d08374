//! The `paperscope` binary end to end, on the sample digests of `data/`.
//!
//! One test binary so that one index of all of `data/` is built per run and shared by every
//! test that does not change its papers (`support::shared_index`); tests that index, damage or
//! lock an index build their own in a temporary directory (`support::small_index` or a fresh
//! `tempdir`).

mod support;

mod cache;
mod crash;
mod digest;
mod ergonomics;
mod export;
mod failures;
mod help;
mod hybrid;
mod index;
mod inputs;
mod integrity;
mod newcomer;
mod search;
mod topics;
mod vector;
