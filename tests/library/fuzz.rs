//! Property tests over arbitrary input for everything that reads user text: the digest parser
//! (`parse_str`, and `parse_file` on real files of arbitrary bytes), `SearchQuery::parse` and
//! `Filters::new`. None may panic, and what they return must hold together (every paper has an
//! arXiv id and a title, every warning names its file and a line that exists, every error names
//! its parameter or file).
//!
//! Each target runs `PROPTEST_CASES` cases (default 2,000, a few seconds in all); the long run
//! by hand is `PROPTEST_CASES=1000000 cargo test --release --test library fuzz::`.

use std::path::Path;

use paperscope::digest::{ParsedFile, parse_file, parse_str};
use paperscope::query::{Filters, MAX_QUERY_CHARS, SearchQuery};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Cases per target: `PROPTEST_CASES`, or a CI-sized default.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

/// Runs `test` on `cases()` values of `strategy`; a failure (a panic included) is shrunk to a
/// small input and reported.
fn check<S: Strategy>(strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        // Crashes found are kept below as named regression cases, not in a side file.
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(failure) = runner.run(&strategy, test) {
        panic!("{failure}");
    }
}

/// One line of something digest-like: the parser's own syntax (entry starts, URL lines, table
/// rows, headings, announce and title-suffix forms, translated prefixes) mixed with noise, so
/// that generated files reach deep into the parser rather than stopping at "no entries".
fn digest_line() -> impl Strategy<Value = String> {
    prop_oneof![
        "[^\n]{0,40}",
        "\\[\\^[0-9]{1,3}\\]: ?[^\n]{0,20}",
        "\\[\\^[0-9]{0,12}\\]:[^\n]{0,5}",
        "    \\[https?://(rss\\.)?arxiv\\.org/(abs|pdf)/[0-9]{4}\\.[0-9]{4,5}(v[0-9]{1,3})?\\]\\(https?://(rss\\.)?arxiv\\.org/(abs|pdf)/[0-9]{4}\\.[0-9]{4,5}(v[0-9]{1,12})?\\)",
        "    \\[[^\n ]{0,8}\\]\\([^\n ]{0,12}\\)",
        "\\| ?\\[\\^[0-9]{1,2}\\] ?\\| \\[[^\n]{0,15}\\]\\(https://arxiv\\.org/abs/240[0-9]\\.0000[0-9]\\) \\|[^\n]{0,10}\\|",
        Just("# 摘要".to_string()),
        Just("# 详细".to_string()),
        Just("## 标题".to_string()),
        Just(String::new()),
        Just("    ".to_string()),
        "    [^\n]{0,30}",
        "    相关论文：[^\n]{0,10}",
        "    arXiv:[0-9]{4}\\.[0-9]{4,5}(v[0-9]{1,12})? Announce Type: ?[a-z]{0,5} +Abstract: ?[^\n]{0,20}",
        "    [^\n]{0,10}\\. ?\\(arXiv:[0-9]{4}\\.[0-9]{4,5}(v[0-9]{1,12})? ?\\[[a-z.\\-]{0,6}\\][^\n)]{0,8}\\)",
        "    arXiv[:：]? ?[0-9]{4}\\.[0-9]{4,5}(v1)?[^\n]{0,12}类型[^\n]{0,6}(摘要|提要) ?[:：][^\n]{0,10}",
    ]
}

/// Digest-like text: lines joined by `\n`, `\r\n` or a mix, sometimes after a BOM.
fn digest_text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((digest_line(), any::<bool>()), 0..80),
        any::<bool>(),
    )
        .prop_map(|(lines, bom)| {
            let mut text = if bom {
                "\u{feff}".to_string()
            } else {
                String::new()
            };
            for (line, crlf) in lines {
                text.push_str(&line);
                text.push_str(if crlf { "\r\n" } else { "\n" });
            }
            text
        })
}

/// Any text: arbitrary Unicode, digest-like text, or a real digest's start.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        digest_text(),
        (0usize..4000).prop_map(|n| sample().chars().take(n).collect()),
    ]
}

fn sample() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digests/2024-03-06_cs.CL_0a55959e.md");
        std::fs::read_to_string(path).expect("sample digest")
    })
}

/// What every parse result must satisfy, whatever the input.
fn check_parsed(parsed: &ParsedFile, text: &str, file: &str) -> Result<(), TestCaseError> {
    let lines = text
        .strip_prefix('\u{feff}')
        .unwrap_or(text)
        .lines()
        .count();
    prop_assert!(parsed.entries >= parsed.papers.len());
    for paper in &parsed.papers {
        let (number, rest) = paper
            .arxiv_id
            .split_once('.')
            .unwrap_or((paper.arxiv_id.as_str(), ""));
        prop_assert!(
            number.len() == 4
                && (4..=5).contains(&rest.len())
                && paper
                    .arxiv_id
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.'),
            "bad id {:?}",
            paper.arxiv_id
        );
        prop_assert!(paper.url.contains(&paper.arxiv_id), "{paper:?}");
        prop_assert!(!paper.title_en.is_empty(), "{paper:?}");
        prop_assert_eq!(&paper.source_file, file);
        prop_assert!((1..=lines).contains(&paper.source_line), "{paper:?}");
    }
    for warning in &parsed.warnings {
        prop_assert_eq!(&warning.file, file);
        prop_assert!((1..=lines).contains(&warning.line), "{warning:?}");
        prop_assert!(
            warning
                .to_string()
                .starts_with(&format!("{file}:{}: ", warning.line)),
            "{warning}"
        );
    }
    Ok(())
}

#[test]
fn parse_str_never_panics_and_its_papers_hold_together() {
    check(any_text(), |text| {
        let parsed = parse_str(&text, "fuzz.md", Some("cs.CL".into()));
        check_parsed(&parsed, &text, "fuzz.md")
    });
}

#[test]
fn parse_file_never_panics_on_arbitrary_bytes() {
    // One file rewritten per case: in memory when /dev/shm exists, because a million rewrites
    // on disk take most of an hour (2.5 ms each here) against seconds in memory.
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("tmp");
    let path = dir.path().join("2024-03-06_cs.CL_fuzz.md");
    let file = path.display().to_string();
    let bytes = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..3000),
        digest_text().prop_map(String::into_bytes),
        // Valid digest text with a few bytes overwritten: invalid UTF-8 deep inside.
        (
            digest_text(),
            prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)
        )
            .prop_map(|(text, edits)| {
                let mut bytes = text.into_bytes();
                if !bytes.is_empty() {
                    for (at, byte) in edits {
                        let at = at.index(bytes.len());
                        bytes[at] = byte;
                    }
                }
                bytes
            }),
    ];
    check(bytes, |bytes| {
        std::fs::write(&path, &bytes).expect("write fuzz file");
        match parse_file(&path) {
            Ok(parsed) => {
                prop_assert!(!parsed.papers.is_empty());
                let text = String::from_utf8(bytes).expect("a parsed file is UTF-8");
                check_parsed(&parsed, &text, &file)?;
                prop_assert!(parsed.papers.iter().all(|p| p.listings == ["cs.CL"]));
            }
            Err(error) => {
                let message = error.to_string();
                prop_assert!(message.starts_with(&file), "{message}");
                prop_assert!(!message.contains('\n'), "{message}");
            }
        }
        Ok(())
    });
}

/// Query-like text: words, quotes (straight and curly), dashes, CJK, and noise; sometimes long.
fn query_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ a-z\"“”\\-幻觉基准\t]{0,60}",
        prop::collection::vec(
            prop_oneof![
                Just("-".to_string()),
                Just("\"".to_string()),
                Just("“".to_string()),
                Just("”".to_string()),
                Just(" ".to_string()),
                Just("-\"".to_string()),
                "[a-zA-Z0-9]{1,8}",
                "[幻觉基准模型]{1,4}",
                "[^ ]{1,3}",
            ],
            0..40
        )
        .prop_map(|parts| parts.concat()),
        (MAX_QUERY_CHARS - 2..MAX_QUERY_CHARS + 3).prop_map(|n| "词".repeat(n)),
    ]
}

#[test]
fn search_query_parse_never_panics_and_keeps_its_promises() {
    check(query_text(), |raw| {
        match SearchQuery::parse(&raw) {
            Ok(query) => {
                prop_assert_eq!(&query.raw, &raw);
                prop_assert!(raw.chars().count() <= MAX_QUERY_CHARS);
                prop_assert!(!query.text.is_empty() || !query.phrases.is_empty());
                for item in query
                    .text
                    .split(' ')
                    .chain(query.phrases.iter().map(String::as_str))
                    .chain(query.excluded.iter().map(String::as_str))
                    .filter(|i| !i.is_empty())
                {
                    prop_assert!(item.chars().any(char::is_alphanumeric), "{item:?}");
                }
                prop_assert!(!query.positive_text().is_empty());
            }
            Err(error) => {
                let message = error.to_string();
                prop_assert!(message.starts_with("query: "), "{message}");
                prop_assert!(message.len() < 400, "the query is not echoed: {message}");
            }
        }
        Ok(())
    });
}

/// Date-like values: well-formed, nearly well-formed, and anything.
fn date_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,5}(-[0-9]{1,3}(-[0-9]{1,3})?)?",
        "(19|20|21)[0-9]{2}-(0[0-9]|1[0-3])-([0-3][0-9])",
        " ?[0-9-]{0,12} ?",
        any::<String>(),
    ]
}

#[test]
fn filters_new_never_panics_and_accepts_only_real_dates() {
    let inputs = (
        prop::collection::vec(any::<String>(), 0..3),
        prop::option::of(date_text()),
        prop::option::of(date_text()),
    );
    check(inputs, |(categories, since, until)| {
        match Filters::new(&categories, since.as_deref(), until.as_deref()) {
            Ok(filters) => {
                for month in [filters.since, filters.until].into_iter().flatten() {
                    prop_assert!((1990..=2999).contains(&(month / 100)), "{month}");
                    prop_assert!((1..=12).contains(&(month % 100)), "{month}");
                }
                if let (Some(s), Some(u)) = (filters.since, filters.until) {
                    prop_assert!(s <= u);
                }
                for value in [&since, &until].into_iter().flatten() {
                    let parts: Vec<&str> = value.trim().split('-').collect();
                    if let [y, m, d] = parts[..] {
                        let (y, m, d): (u32, u32, u32) = (
                            y.parse().unwrap_or(0),
                            m.parse().unwrap_or(0),
                            d.parse().unwrap_or(0),
                        );
                        let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
                        let days = match m {
                            2 if leap => 29,
                            2 => 28,
                            4 | 6 | 9 | 11 => 30,
                            _ => 31,
                        };
                        prop_assert!((1..=days).contains(&d), "{value} accepted");
                    }
                }
                prop_assert!(filters.categories.iter().all(|c| !c.is_empty()));
            }
            Err(error) => {
                let message = error.to_string();
                prop_assert!(
                    message.starts_with("since: ") || message.starts_with("until: "),
                    "{message}"
                );
                prop_assert!(message.chars().count() < 300, "{message}");
            }
        }
        Ok(())
    });
}
