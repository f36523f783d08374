//! Test support for the on-disk loaders' property tests: mutations of a valid file (bytes
//! changed, cut short, extended), which reach far deeper into a JSON or binary loader than
//! random bytes, which rarely get past the first character.

use proptest::prelude::*;

/// Cases per property: `PROPTEST_CASES` (a million by hand), or a CI-sized default.
pub(crate) fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500)
}

/// A test runner for `cases()` cases that keeps no failure file (a failure is reported, and the
/// input kept as a named regression case by hand).
pub(crate) fn runner() -> proptest::test_runner::TestRunner {
    proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: cases(),
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    })
}

/// How a valid file is damaged.
#[derive(Debug, Clone)]
pub(crate) enum Mutation {
    /// Bytes at these positions (modulo the length) replaced.
    Replace(Vec<(usize, u8)>),
    /// Cut to this length (modulo the length).
    Truncate(usize),
    /// Bytes appended.
    Append(Vec<u8>),
    /// Replaced by arbitrary bytes.
    Arbitrary(Vec<u8>),
    /// A digit changed to another digit (keeps JSON valid, changes a number).
    Digit(usize, u8),
}

/// Any mutation.
pub(crate) fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8).prop_map(Mutation::Replace),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => proptest::collection::vec(any::<u8>(), 1..64).prop_map(Mutation::Append),
        1 => proptest::collection::vec(any::<u8>(), 0..256).prop_map(Mutation::Arbitrary),
        3 => (any::<usize>(), 0u8..10).prop_map(|(at, d)| Mutation::Digit(at, d)),
    ]
}

/// `bytes` damaged by `mutation`.
pub(crate) fn apply(bytes: &[u8], mutation: &Mutation) -> Vec<u8> {
    let mut out = bytes.to_vec();
    match mutation {
        Mutation::Replace(changes) if !out.is_empty() => {
            let len = out.len();
            for &(at, b) in changes {
                out[at % len] = b;
            }
        }
        Mutation::Replace(_) => {}
        Mutation::Truncate(at) => out.truncate(at % (bytes.len() + 1)),
        Mutation::Append(extra) => out.extend(extra),
        Mutation::Arbitrary(all) => out = all.clone(),
        Mutation::Digit(at, d) => {
            let digits: Vec<usize> = (0..out.len())
                .filter(|&i| out[i].is_ascii_digit())
                .collect();
            if !digits.is_empty() {
                out[digits[at % digits.len()]] = b'0' + d;
            }
        }
    }
    out
}

/// A scratch directory in memory where the machine has one (each case rewrites a file; on
/// disk that costs milliseconds).
pub(crate) fn scratch() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().expect("a temporary directory")
}
