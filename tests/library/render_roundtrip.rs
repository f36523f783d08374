//! parse(render(papers)) gives the same papers back: generated papers (proptest) and every
//! sample digest of `data/`.

use std::path::Path;

use paperscope::Paper;
use paperscope::digest::render::render;
use paperscope::digest::{self, parse_file, parse_str};
use paperscope::paper::Variant;
use proptest::prelude::*;

/// One line of digest text: Chinese, Latin, math, Markdown, pipes and brackets, tabs, the ASCII
/// punctuation a title or abstract can hold, emoji and rare (non-BMP) CJK, and Markdown links
/// (`[x](y)`, `[code](https://...)`), which the parser must not take for the entry's URL line.
fn line() -> impl Strategy<Value = String> {
    let words = "[a-zA-Z0-9 \t$\\{}()\\[\\]|^_.,:;!?*#+=<>/\"'%&~@\\-\u{4e00}-\u{9fa5}，。：（）《》、\u{1F600}-\u{1F64F}\u{20000}-\u{2A6DF}]{1,60}";
    let link = prop_oneof![
        Just("[x](y)".to_string()),
        Just("[code](https://github.com/a/b)".to_string()),
        Just("[see](https://arxiv.org/abs/2401.00001)".to_string()),
        Just("[https://example.org](https://example.org/other)".to_string()),
        "[a-z]{1,8}".prop_map(|w| format!("[{w}]({w})")),
    ];
    prop_oneof![
        3 => words.prop_map(|s| s.trim().to_string()),
        1 => link.clone(),
        1 => (words, link, words).prop_map(|(a, l, b)| format!("{a}{l}{b}").trim().to_string()),
    ]
    .prop_filter("a non-empty field", |s| !s.is_empty())
}

/// A field the format can hold empty: it has a place of its own (the Chinese title on the `[^N]:`
/// line, the Chinese abstract as the bare id). Other fields are told apart only by position, so
/// an empty one cannot be written (and an empty English abstract is rightly warned about).
fn maybe_empty() -> impl Strategy<Value = String> {
    prop_oneof![1 => Just(String::new()), 4 => line()]
}

fn paper() -> impl Strategy<Value = Paper> {
    let ids = (2301u32..2612, 1u32..99999).prop_map(|(yymm, n)| format!("{yymm}.{n:05}"));
    let variant = prop_oneof![
        Just(Variant::Announce),
        Just(Variant::TitleSuffix),
        Just(Variant::Plain)
    ];
    let texts = (
        line(),
        maybe_empty(),
        line(),
        proptest::option::of(line()),
        maybe_empty(),
        line(),
    );
    let extra = (
        1u32..9,
        prop_oneof![
            Just("new"),
            Just("cross"),
            Just("replace"),
            Just("replace-cross")
        ],
        prop_oneof![
            Just("cs.CL"),
            Just("stat.ME"),
            Just("q-fin.ST"),
            Just("econ.GN")
        ],
        proptest::option::of(prop_oneof![
            Just("UPDATED".to_string()),
            Just("CROSS LISTED".to_string())
        ]),
        prop_oneof![
            Just("https://arxiv.org/abs/"),
            Just("http://arxiv.org/abs/"),
            Just("https://rss.arxiv.org/abs/")
        ],
    );
    (ids, variant, texts, extra).prop_map(
        |(
            id,
            variant,
            (title_en, title_zh, summary_zh, summary_en, abstract_zh, abstract_en),
            (version, kind, category, note, host),
        )| {
            Paper {
                url: format!("{host}{id}"),
                arxiv_id: id,
                version: (variant != Variant::Plain).then_some(version),
                title_en,
                title_zh,
                summary_zh,
                summary_en,
                abstract_zh,
                abstract_en,
                category: (variant == Variant::TitleSuffix).then(|| category.to_string()),
                announce_type: (variant == Variant::Announce).then(|| kind.to_string()),
                listing_note: if variant == Variant::TitleSuffix {
                    note
                } else {
                    None
                },
                variant,
                ..Paper::default()
            }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn generated_papers_round_trip(papers in proptest::collection::vec(paper(), 1..6)) {
        let text = render(&papers);
        let parsed = parse_str(&text, "generated.md", None);
        prop_assert!(parsed.warnings.is_empty(), "{:?}\n{}", parsed.warnings, text);
        prop_assert_eq!(parsed.papers.len(), papers.len());
        for (back, original) in parsed.papers.iter().zip(&papers) {
            prop_assert!(back.same_content(original), "{:#?}\n!=\n{:#?}\n{}", back, original, text);
        }
    }
}

#[test]
fn every_sample_digest_round_trips() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digests");
    for file in digest::digest_files(&[dir]).expect("sample digests") {
        let papers = parse_file(&file).expect("sample parses").papers;
        let again = parse_str(&render(&papers), "rendered.md", None);
        assert_eq!(again.papers.len(), papers.len(), "{}", file.display());
        for (back, original) in again.papers.iter().zip(&papers) {
            assert!(
                back.same_content(original),
                "{}: {:#?}\n!=\n{:#?}",
                file.display(),
                back,
                original
            );
        }
    }
}
