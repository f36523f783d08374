//! `Paper`s -> digest Markdown, in exactly the format `parse` reads: a `# 摘要` table (one per
//! section when grouped), then `# 详细` entries of 4-space-indented lines. Each paper is written
//! in the variant it was read from, so parse(render(papers)) gives the same papers back.

use crate::paper::{Paper, Variant};

/// A titled group of papers (a topic); an untitled section is a plain table.
pub(crate) struct Section<'a> {
    /// The heading (a topic's label); none for a plain table.
    pub title: Option<String>,
    /// The papers, in order.
    pub papers: Vec<&'a Paper>,
}

/// Optional lines after an entry: related papers, as `(arxiv id, English title)`.
pub(crate) type RelatedOf<'a> = dyn Fn(&Paper) -> Vec<(String, String)> + 'a;

/// One plain digest of `papers`, in input order.
pub fn render(papers: &[Paper]) -> String {
    render_sections(
        &[Section {
            title: None,
            papers: papers.iter().collect(),
        }],
        &|_| Vec::new(),
    )
}

/// A digest of titled sections: one `# 摘要` table per section, then every entry; each
/// entry is followed by its related papers when `related` gives any.
pub(crate) fn render_sections(sections: &[Section], related: &RelatedOf) -> String {
    let mut out = String::from("# 摘要\n\n");
    let mut number = 0;
    for section in sections {
        if let Some(title) = &section.title {
            out.push_str(&format!("## {title}\n\n"));
        }
        out.push_str("| Ref | Title | Summary |\n| --- | --- | --- |\n");
        for paper in &section.papers {
            number += 1;
            out.push_str(&format!(
                "| [^{number}] | [{}]({}) | {} |\n",
                escape_cell(&paper.title_en),
                paper.url,
                escape_cell(&paper.summary_zh)
            ));
        }
        out.push('\n');
    }
    out.push_str("# 详细\n\n");
    let mut number = 0;
    for section in sections {
        for paper in &section.papers {
            number += 1;
            out.push_str(&entry(number, paper, &related(paper)));
        }
    }
    out
}

/// `|` would end a table cell; `\|` is read back as `|` by the parser.
fn escape_cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn entry(number: usize, p: &Paper, related: &[(String, String)]) -> String {
    let mut lines = vec![format!("[^{number}]: {}", p.title_zh), String::new()];
    let mut field = |text: String| {
        lines.push(format!("    {text}"));
        lines.push(String::new());
    };
    let title = match p.variant {
        Variant::TitleSuffix => {
            let note = p
                .listing_note
                .as_deref()
                .map(|n| format!(" {n}"))
                .unwrap_or_default();
            let category = p.category.as_deref().unwrap_or("cs.LG");
            format!(
                "{}. (arXiv:{} [{category}]{note})",
                p.title_en,
                p.versioned_id()
            )
        }
        _ => p.title_en.clone(),
    };
    field(title);
    field(format!("[{}]({})", p.url, p.url));
    field(p.summary_zh.clone());
    if let Some(summary_en) = &p.summary_en {
        field(summary_en.clone());
    }
    // The Chinese abstract's position is fixed; an empty one is written as the bare id, which the
    // parser strips like a translated announce prefix.
    field(if p.abstract_zh.is_empty() {
        format!("arXiv:{}", p.versioned_id())
    } else {
        p.abstract_zh.clone()
    });
    let english = match (p.variant, &p.announce_type) {
        (Variant::Announce, Some(kind)) => {
            format!(
                "arXiv:{} Announce Type: {kind}  Abstract: {}",
                p.versioned_id(),
                p.abstract_en
            )
        }
        _ => p.abstract_en.clone(),
    };
    field(english);
    if !related.is_empty() {
        let list: Vec<String> = related
            .iter()
            .map(|(id, title)| format!("{title} ({id})"))
            .collect();
        field(format!(
            "{}{}",
            crate::digest::parse::RELATED_PREFIX,
            list.join("; ")
        ));
    }
    lines.push(String::new());
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::parse_str;

    fn sample(variant: Variant) -> Paper {
        Paper {
            arxiv_id: "2404.02115".into(),
            version: Some(1),
            title_en: "GINopic: Topic | Modeling".into(),
            title_zh: "GINopic：主题建模".into(),
            summary_zh: "一句话 | 总结".into(),
            abstract_zh: "中文摘要 $x^2$".into(),
            abstract_en: "English abstract with \\textit{math}".into(),
            category: (variant == Variant::TitleSuffix).then(|| "cs.CL".into()),
            announce_type: (variant == Variant::Announce).then(|| "new".into()),
            url: "https://arxiv.org/abs/2404.02115".into(),
            variant,
            ..Paper::default()
        }
    }

    #[test]
    fn every_variant_round_trips() {
        for variant in [Variant::Announce, Variant::TitleSuffix, Variant::Plain] {
            let mut paper = sample(variant);
            if variant == Variant::Plain {
                paper.version = None;
            }
            let parsed = parse_str(&render(std::slice::from_ref(&paper)), "x.md", None);
            assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
            assert!(
                parsed.papers[0].same_content(&paper),
                "{variant:?}: {:#?}",
                parsed.papers[0]
            );
        }
    }

    #[test]
    fn empty_chinese_abstract_round_trips() {
        let paper = Paper {
            abstract_zh: String::new(),
            ..sample(Variant::Announce)
        };
        let parsed = parse_str(&render(std::slice::from_ref(&paper)), "x.md", None);
        assert!(parsed.papers[0].same_content(&paper));
    }

    #[test]
    fn related_lines_are_not_read_as_fields() {
        let paper = sample(Variant::Announce);
        let text = render_sections(
            &[Section {
                title: Some("topic".into()),
                papers: vec![&paper],
            }],
            &|_| vec![("2401.00001".into(), "Another paper".into())],
        );
        assert!(text.contains("相关论文"));
        let parsed = parse_str(&text, "x.md", None);
        assert!(parsed.papers[0].same_content(&paper));
    }
}
