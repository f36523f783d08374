//! parse(render(papers)) gives the same papers back: generated papers (proptest) and every
//! sample digest of `data/`.

use std::path::Path;

use paperscope::Paper;
use paperscope::digest::render::render;
use paperscope::digest::{self, parse_file, parse_str};
use paperscope::paper::Variant;
use proptest::prelude::*;

/// One line of digest text: Chinese, Latin, math, Markdown, pipes and brackets.
fn line() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 $\\\\{}()\\[\\]|^_.,:;!?*#\u{4e00}-\u{9fa5}，。：（）《》、]{1,60}"
        .prop_map(|s| s.trim().to_string())
        .prop_filter("a non-empty field that is not a [link](url) line", |s| {
            let link_like = s.starts_with('[') && s.ends_with(')') && !s.contains(' ');
            !s.is_empty() && !link_like
        })
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
        line(),
        line(),
        proptest::option::of(line()),
        line(),
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
