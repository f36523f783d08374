//! The parser on the real digests of `data/`: every entry is read, and papers of each format
//! variant match values checked by hand against the files.

use std::path::{Path, PathBuf};

use paperscope::digest::{self, parse_file};
use paperscope::paper::{Paper, Variant};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digests")
}

fn paper_in(file: &str, id: &str) -> Paper {
    let parsed = parse_file(&data_dir().join(file)).expect("sample digest parses");
    parsed
        .papers
        .into_iter()
        .find(|p| p.arxiv_id == id)
        .unwrap_or_else(|| panic!("{id} not found in {file}"))
}

#[test]
fn every_entry_of_every_file_is_parsed() {
    let files = digest::digest_files(&[data_dir()]).expect("data dir lists");
    assert_eq!(files.len(), 276);
    let mut total = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("utf-8 sample");
        let expected = text
            .lines()
            .filter(|l| {
                l.starts_with("[^")
                    && l.split_once("]:")
                        .is_some_and(|(n, _)| n[2..].bytes().all(|b| b.is_ascii_digit()))
            })
            .count();
        let parsed = parse_file(file).expect("sample digest parses");
        assert_eq!(parsed.entries, expected, "{}", file.display());
        assert_eq!(parsed.papers.len(), expected, "{}", file.display());
        assert!(
            parsed.papers.iter().all(|p| !p.title_en.is_empty()
                && !p.summary_zh.is_empty()
                && !p.abstract_en.is_empty()),
            "{}",
            file.display()
        );
        total += expected;
    }
    assert_eq!(total, 8941);
}

#[test]
fn duplicates_across_files_become_one_paper() {
    let files = digest::digest_files(&[data_dir()]).expect("data dir lists");
    let loaded = digest::load(&files, || {}).expect("sample digests load");
    assert_eq!(loaded.entries, 8941);
    assert_eq!(loaded.papers.len(), 8320);
    assert_eq!(loaded.duplicates, 8941 - 8320);
    // Every entry is complete; the one whose Chinese abstract is only the untranslated prefix
    // is read with an empty Chinese abstract, not as a broken entry.
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let untranslated = loaded
        .papers
        .iter()
        .find(|p| p.arxiv_id == "2402.16014")
        .expect("paper");
    assert!(untranslated.abstract_zh.is_empty() && !untranslated.abstract_en.is_empty());
}

fn assert_ends(text: &str, start: &str, end: &str) {
    assert!(
        text.starts_with(start),
        "{text:.80} should start with {start}"
    );
    assert!(text.ends_with(end), "{text:.80} should end with {end}");
}

#[test]
fn announce_variant_matches_hand_checked_values() {
    let p = paper_in("2024-03-06_cs.CL_0a55959e.md", "2403.03218");
    assert_eq!(p.version, Some(1));
    assert_eq!(p.variant, Variant::Announce);
    assert_eq!(p.announce_type.as_deref(), Some("cross"));
    assert_eq!(p.category, None);
    assert_eq!(p.title_zh, "WMDP基准：通过遗忘测量和减少恶意使用");
    assert_eq!(
        p.title_en,
        "The WMDP Benchmark: Measuring and Reducing Malicious Use With Unlearning"
    );
    assert_eq!(p.url, "https://arxiv.org/abs/2403.03218");
    assert_eq!(
        p.summary_zh,
        "WMDP基准是一个公开发布的数据集，包含4157个多项选择问题，用作生物安全、网络安全和化学安全危险知识的代理测量。"
    );
    assert_ends(
        &p.abstract_zh,
        "白宫关于人工智能的行政命令",
        "WMDP有两个服务",
    );
    assert_ends(
        &p.abstract_en,
        "The White House Executive Order",
        "WMDP serves two r",
    );
    assert_eq!(p.source_line, 132);
    assert_eq!(p.listings, vec!["cs.CL"]);

    let p = paper_in("2024-11-05_cs.LG_d7e8f3c0.md", "2404.02115");
    assert_eq!(
        (p.version, p.announce_type.as_deref()),
        (Some(1), Some("new"))
    );
    assert_eq!(
        p.title_en,
        "GINopic: Topic Modeling with Graph Isomorphism Network"
    );
    assert_eq!(p.title_zh, "GINopic：利用图同构网络进行主题建模");
    assert!(p.summary_zh.starts_with("GINopic是一种主题建模框架"));
    assert_ends(
        &p.abstract_zh,
        "主题建模是分析和探索大型文档集合的广泛使用方法。",
        "潜力。",
    );
    assert_ends(
        &p.abstract_en,
        "Topic modeling is a widely used approach",
        "potential for advancing topic modeling.",
    );
    assert_eq!(p.source_line, 97);

    let p = paper_in("2024-11-05_cs.LG_d7e8f3c0.md", "2403.05266");
    assert_eq!(p.announce_type.as_deref(), Some("cross"));
    assert!(
        p.title_en
            .starts_with("ERBench: An Entity-Relationship based")
    );
    assert_eq!(
        p.title_zh,
        "ERBench：基于实体关系的可自动验证的大规模语言模型幻觉基准"
    );
    assert_ends(
        &p.abstract_zh,
        "大型语言模型（LLMs）在各种应用中取得了前所未有的性能",
        "多模态qu",
    );
    assert_eq!(p.source_line, 293);
}

#[test]
fn title_suffix_variant_matches_hand_checked_values() {
    let p = paper_in("2023-03-14_astro-ph_18881a92.md", "2301.05075");
    assert_eq!(p.version, Some(2));
    assert_eq!(p.variant, Variant::TitleSuffix);
    assert_eq!(p.category.as_deref(), Some("astro-ph.EP"));
    assert_eq!(p.listing_note.as_deref(), Some("UPDATED"));
    assert_eq!(p.announce_type, None);
    assert_eq!(
        p.title_en,
        "Kinematic Evidence of an Embedded Protoplanet in HD 142666 Identified by Machine Learning"
    );
    assert_eq!(
        p.title_zh,
        "机器学习识别出HD 142666中嵌入的原行星的运动学证据"
    );
    assert_eq!(p.url, "http://arxiv.org/abs/2301.05075");
    assert!(
        p.summary_zh
            .starts_with("该论文使用机器学习模型在HD 142666的盘中")
    );
    assert_ends(
        p.summary_en.as_deref().unwrap_or_default(),
        "This paper uses machine learning models",
        "non-Keplerian features in protoplanetary disks.",
    );
    assert_ends(&p.abstract_zh, "原行星盘的观测表明", "第一步。");
    assert_ends(
        &p.abstract_en,
        "Observations of protoplanetary disks",
        "protoplanetary disks.",
    );
    assert_eq!(p.source_line, 10);

    let p = paper_in("2023-05-09_cs.CL_8ae271ac.md", "2305.04195");
    assert_eq!((p.version, p.category.as_deref()), (Some(1), Some("cs.CV")));
    assert_eq!(p.listing_note, None);
    assert_eq!(
        p.title_en,
        "Cross-Modal Retrieval for Motion and Text via MildTriple Loss"
    );
    assert_eq!(p.title_zh, "MildTriple Loss模型下的运动和文本跨模态检索");
    assert_eq!(p.summary_en, None);
    assert_ends(
        &p.abstract_en,
        "Cross-modal retrieval has become",
        "capture long-term dependencie",
    );
    assert_eq!(p.source_line, 102);

    let p = paper_in("2023-03-24_cs.AI_63151055.md", "2109.04587");
    assert_eq!(p.category.as_deref(), Some("cs.CL"));
    assert_eq!(p.listing_note.as_deref(), Some("CROSS LISTED"));
    assert_eq!(
        p.title_en,
        "Graph-Based Decoding for Task Oriented Semantic Parsing"
    );
    assert_eq!(p.title_zh, "基于图解码技术的面向任务的语义解析");
    assert_eq!(p.source_line, 1677);
}

#[test]
fn plain_variant_matches_hand_checked_values() {
    let p = paper_in("2024-07-23_cs.CL_d5cdc748.md", "2402.01293");
    assert_eq!(p.variant, Variant::Plain);
    assert_eq!(
        (p.version, p.category.as_deref(), p.announce_type.as_deref()),
        (None, None, None)
    );
    assert_eq!(
        p.title_en,
        "Can MLLMs Perform Text-to-Image In-Context Learning?"
    );
    assert_eq!(p.title_zh, "MLLMs能否进行上下文学习的文本到图像转换？");
    assert_eq!(p.url, "https://rss.arxiv.org/abs/2402.01293");
    assert!(
        p.summary_zh
            .starts_with("本论文探索了将上下文学习扩展到多模态的文本到图像转换任务")
    );
    assert_ends(
        &p.abstract_zh,
        "从大型语言模型（LLMs）发展到多模式大型语言模型",
        "上获得。",
    );
    assert_ends(
        &p.abstract_en,
        "The evolution from Large Language Models",
        "UW-Madison-Lee-Lab/CoBSAT}.",
    );
    assert_eq!(p.source_line, 43);

    let p = paper_in("2024-02-06_cs.IR_a6c89920.md", "2402.03190");
    assert_eq!(p.variant, Variant::Plain);
    assert_eq!(
        p.title_en,
        "Unified Hallucination Detection for Multimodal Large Language Models"
    );
    assert_eq!(p.title_zh, "统一的多模态大型语言模型的幻觉检测");
    assert!(
        p.summary_zh
            .starts_with("该论文提出了一个新颖的统一的多模态幻觉检测框架UNIHD")
    );
    assert_ends(
        &p.abstract_zh,
        "尽管在多模态任务方面取得了重大进展",
        "UNIHD的有效性。",
    );
    assert_eq!(p.source_line, 71);

    let p = paper_in("2024-02-09_cs.CL_cba7cf34.md", "2402.05935");
    assert_eq!(p.variant, Variant::Plain);
    assert_eq!(
        p.title_en,
        "SPHINX-X: Scaling Data and Parameters for a Family of Multi-modal Large Language Models"
    );
    assert_eq!(
        p.title_zh,
        "SPHINX-X: 扩展数据和参数用于一系列多模态大型语言模型"
    );
    assert_ends(&p.abstract_zh, "我们提出SPHINX-X", "强相关性。");
    assert_ends(
        &p.abstract_en,
        "We propose SPHINX-X",
        "data and parameter scales.",
    );
    assert_eq!(p.source_line, 118);
}
