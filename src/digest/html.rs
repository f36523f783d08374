//! A digest as one self-contained HTML page (no external assets): a table of contents by topic,
//! then each topic's papers with both titles, the summary and both abstracts.

use crate::digest::render::{RelatedOf, Section};

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#222}\
h1{font-size:1.6rem}h2{font-size:1.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}\
nav ol{columns:2}article{margin:1rem 0 1.5rem}article h3{font-size:1rem;margin:.2rem 0}\
.zh{color:#444}.id{font-family:monospace;color:#666}.summary{margin:.3rem 0}details{margin:.2rem 0}\
.related{font-size:.9rem;color:#555}";

/// The sections as one self-contained HTML page.
pub(crate) fn render_html(sections: &[Section], related: &RelatedOf) -> String {
    let count: usize = sections.iter().map(|s| s.papers.len()).sum();
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n<title>paperscope digest</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>Digest · 摘要 ({count} papers)</h1>\n<nav><ol>\n"
    );
    for (i, s) in sections.iter().enumerate() {
        let title = s.title.clone().unwrap_or_else(|| "papers".into());
        out.push_str(&format!(
            "<li><a href=\"#s{i}\">{}</a> ({})</li>\n",
            escape(&title),
            s.papers.len()
        ));
    }
    out.push_str("</ol></nav>\n");
    for (i, s) in sections.iter().enumerate() {
        let title = s.title.clone().unwrap_or_else(|| "papers".into());
        out.push_str(&format!(
            "<section id=\"s{i}\">\n<h2>{}</h2>\n",
            escape(&title)
        ));
        for p in &s.papers {
            out.push_str(&format!(
                "<article>\n<h3><a href=\"{url}\">{en}</a></h3>\n<div class=\"zh\">{zh}</div>\n<div class=\"id\">{id}</div>\n<p class=\"summary\">{summary}</p>\n<details><summary>Abstract</summary><p>{abs_en}</p></details>\n<details><summary>摘要</summary><p class=\"zh\">{abs_zh}</p></details>\n",
                url = escape(&p.url),
                en = escape(&p.title_en),
                zh = escape(&p.title_zh),
                id = escape(&p.versioned_id()),
                summary = escape(&p.summary_zh),
                abs_en = escape(&p.abstract_en),
                abs_zh = escape(&p.abstract_zh),
            ));
            let links = related(p);
            if !links.is_empty() {
                let items: Vec<String> = links
                    .iter()
                    .map(|(id, t)| format!("{} ({})", escape(t), escape(id)))
                    .collect();
                out.push_str(&format!(
                    "<p class=\"related\">相关论文：{}</p>\n",
                    items.join("; ")
                ));
            }
            out.push_str("</article>\n");
        }
        out.push_str("</section>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}
