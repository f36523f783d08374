//! A digest as one self-contained HTML page (no external assets, works offline): a heading that
//! says what the digest holds, a table of contents by topic, a filter box, then each topic's
//! papers with both titles, the summary and both abstracts, and related papers as links.
//!
//! The Markdown output keeps the source text exactly (it must parse back); only here is the
//! abstracts' LaTeX (`$k$`, `\textbf{RAG}`, `$\mathcal{O}(n^2)$`) turned into plain text,
//! `<b>`, `<i>`, `<sup>` and `<sub>`, because a reader should not meet raw markup and the page
//! must not fetch a math library.

use std::collections::HashSet;

use crate::digest::render::{RelatedOf, Section};

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#222}\
h1{font-size:1.6rem}h2{font-size:1.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}\
nav ol{columns:2 16rem;column-gap:2.5rem;list-style:none;padding:0}\
nav li{break-inside:avoid;padding-left:2.2em;text-indent:-2.2em;overflow-wrap:anywhere}nav .n{display:inline-block;width:2.2em;text-indent:0;color:#666}article{margin:1rem 0 1.5rem}article h3{font-size:1rem;margin:.2rem 0}\
.zh{color:#444}.id{font-family:monospace;color:#666}.summary{margin:.3rem 0}details{margin:.2rem 0}\
.related{font-size:.9rem;color:#555}.m{font-style:italic}#filter{width:100%;font-size:1rem;padding:.3rem}\
[hidden]{display:none}";

/// Filters the entries as the reader types (every word must occur in the entry's text; a `?q=`
/// in the address fills the box), keeps each section's count right, and marks the document
/// (`data-ready`, `data-shown`) so a headless browser test can see that it ran.
const SCRIPT: &str = "(function(){\
var box=document.getElementById('filter'),arts=[].slice.call(document.querySelectorAll('article')),\
secs=[].slice.call(document.querySelectorAll('section')),root=document.documentElement;\
arts.forEach(function(a){a.dataset.text=a.textContent.toLowerCase();});\
function apply(){var words=box.value.toLowerCase().split(/\\s+/).filter(Boolean),shown=0;\
arts.forEach(function(a){var ok=words.every(function(w){return a.dataset.text.indexOf(w)>=0;});\
a.hidden=!ok;if(ok)shown++;});\
secs.forEach(function(s){s.hidden=!s.querySelector('article:not([hidden])');});\
root.dataset.shown=shown;document.getElementById('shown').textContent=words.length?shown+' shown':'';}\
box.addEventListener('input',apply);\
var q=new URLSearchParams(location.search).get('q');if(q){box.value=q;}\
apply();root.dataset.ready='1';})();";

/// The sections as one self-contained HTML page titled `title`. The table of contents numbers
/// its entries in text rather than with list markers: a marker hangs outside its entry, into the
/// gap between the two columns, where it overprinted the entry beside it ("知识 (8)12.").
pub(crate) fn render_html(sections: &[Section], related: &RelatedOf, title: &str) -> String {
    let title = escape(title);
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n<nav><ol>\n"
    );
    for (i, s) in sections.iter().enumerate() {
        let name = s.title.clone().unwrap_or_else(|| "papers".into());
        out.push_str(&format!(
            "<li><span class=\"n\">{}.</span><a href=\"#s{i}\">{}</a> ({})</li>\n",
            i + 1,
            escape(&name),
            s.papers.len()
        ));
    }
    out.push_str("</ol></nav>\n<p><input id=\"filter\" type=\"search\" placeholder=\"Filter papers · 筛选\" aria-label=\"Filter papers\"> <span id=\"shown\"></span></p>\n");
    // Related papers in this page link to their entry too, not only to arXiv.
    let here: HashSet<&str> = sections
        .iter()
        .flat_map(|s| s.papers.iter().map(|p| p.arxiv_id.as_str()))
        .collect();
    for (i, s) in sections.iter().enumerate() {
        let name = s.title.clone().unwrap_or_else(|| "papers".into());
        out.push_str(&format!(
            "<section id=\"s{i}\">\n<h2>{}</h2>\n",
            escape(&name)
        ));
        for p in &s.papers {
            out.push_str(&format!(
                "<article id=\"{anchor}\">\n<h3><a href=\"{url}\">{en}</a></h3>\n<div class=\"zh\">{zh}</div>\n<div class=\"id\">{id}</div>\n<p class=\"summary\">{summary}</p>\n<details><summary>Abstract</summary><p>{abs_en}</p></details>\n<details><summary>摘要</summary><p class=\"zh\">{abs_zh}</p></details>\n",
                anchor = anchor(&p.arxiv_id),
                url = escape(&p.url),
                en = latex_to_html(&p.title_en),
                zh = latex_to_html(&p.title_zh),
                id = escape(&p.versioned_id()),
                summary = latex_to_html(&p.summary_zh),
                abs_en = latex_to_html(&clipped(&p.abstract_en)),
                abs_zh = latex_to_html(&clipped(&p.abstract_zh)),
            ));
            let links = related(p);
            if !links.is_empty() {
                let items: Vec<String> = links
                    .iter()
                    .map(|(id, t)| related_item(id, t, here.contains(id.as_str())))
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
    out.push_str(&format!("<script>{SCRIPT}</script>\n</body>\n</html>\n"));
    out
}

/// An abstract as a reader should see it: some source digests cut abstracts at a fixed length,
/// mid-word ("multimodal qu") or mid-character (a trailing U+FFFD). Such a text ends in "…",
/// without the broken word; a text that ends as sentences end is returned as it is. (The web
/// page's `clipped` does the same.)
pub(crate) fn clipped(text: &str) -> String {
    let trimmed = text.trim_end();
    let kept = trimmed.trim_end_matches('\u{FFFD}').trim_end();
    let broken = kept.len() != trimmed.len();
    let ends_a_sentence = kept.ends_with([
        '.', '!', '?', '。', '！', '？', '…', ':', ';', ')', ']', '"', '\'', '”', '’', '」', '』',
        '》', '】',
    ]);
    if kept.is_empty() || (!broken && ends_a_sentence) {
        return kept.to_string();
    }
    let mut out = kept;
    if !broken
        && out.ends_with(|c: char| c.is_ascii_alphanumeric())
        && let Some((head, _)) = out.rsplit_once(char::is_whitespace)
    {
        out = head;
    }
    let out = out.trim_end_matches(|c: char| c.is_whitespace() || ",;:，、；：".contains(c));
    format!("{out}…")
}

/// The `id` of a paper's entry in the page.
fn anchor(arxiv_id: &str) -> String {
    format!("p-{}", escape(arxiv_id))
}

/// `Title (arXiv id)`: the title links to the entry when it is in this page, else to arXiv; the
/// id always links to arXiv.
fn related_item(id: &str, title: &str, in_page: bool) -> String {
    let arxiv = format!("https://arxiv.org/abs/{}", escape(id));
    let target = if in_page {
        format!("#{}", anchor(id))
    } else {
        arxiv.clone()
    };
    format!(
        "<a href=\"{target}\">{}</a> (<a href=\"{arxiv}\">{}</a>)",
        latex_to_html(title),
        escape(id)
    )
}

/// Deeper nesting than this is written as it stands: real abstracts nest two or three levels,
/// and the bound keeps hostile input from exhausting the stack.
const MAX_DEPTH: usize = 16;

/// Text with common LaTeX rendered as HTML and everything else escaped. Never fails: what is not
/// understood is shown as written.
pub(crate) fn latex_to_html(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    convert(&chars, false, 0, &mut out);
    out
}

fn push_escaped(c: char, out: &mut String) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        c => out.push(c),
    }
}

/// The index of the `}` closing the `{` at `open`, if any.
fn closing_brace(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index of the next `$` not escaped as `\$`, from `from`.
fn closing_dollar(chars: &[char], from: usize) -> Option<usize> {
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '$' => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn symbol(name: &str) -> Option<&'static str> {
    Some(match name {
        "alpha" => "α",
        "beta" => "β",
        "gamma" => "γ",
        "delta" => "δ",
        "epsilon" | "varepsilon" => "ε",
        "theta" => "θ",
        "lambda" => "λ",
        "mu" => "μ",
        "pi" => "π",
        "rho" => "ρ",
        "sigma" => "σ",
        "tau" => "τ",
        "phi" | "varphi" => "φ",
        "omega" => "ω",
        "Delta" => "Δ",
        "Sigma" => "Σ",
        "Omega" => "Ω",
        "times" => "×",
        "cdot" => "·",
        "cdots" | "ldots" | "dots" => "…",
        "leq" | "le" => "≤",
        "geq" | "ge" => "≥",
        "neq" | "ne" => "≠",
        "approx" => "≈",
        "sim" => "∼",
        "pm" => "±",
        "infty" => "∞",
        "to" | "rightarrow" => "→",
        "leftarrow" => "←",
        "Rightarrow" => "⇒",
        "in" => "∈",
        "sum" => "∑",
        "prod" => "∏",
        "sqrt" => "√",
        "partial" => "∂",
        "nabla" => "∇",
        "circ" => "∘",
        _ => return None,
    })
}

/// Writes `chars` as HTML; `math` inside `$...$`, where braces only group and `^`/`_` raise and
/// lower.
fn convert(chars: &[char], math: bool, depth: usize, out: &mut String) {
    if depth > MAX_DEPTH {
        chars.iter().for_each(|&c| push_escaped(c, out));
        return;
    }
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '$' if !math => {
                // `$$...$$` and `$...$`; a lone `$` (a price, a typo) stays as written.
                let double = chars.get(i + 1) == Some(&'$');
                let start = if double { i + 2 } else { i + 1 };
                match closing_dollar(chars, start) {
                    Some(end) if end > start => {
                        out.push_str("<span class=\"m\">");
                        convert(&chars[start..end], true, depth + 1, out);
                        out.push_str("</span>");
                        let close = if double && chars.get(end + 1) == Some(&'$') {
                            end + 2
                        } else {
                            end + 1
                        };
                        i = close;
                        continue;
                    }
                    _ => push_escaped(c, out),
                }
            }
            '\\' => {
                let name_end = (i + 1..chars.len())
                    .find(|&j| !chars[j].is_ascii_alphabetic())
                    .unwrap_or(chars.len());
                if name_end == i + 1 {
                    // `\%`, `\&`, `\_`, `\$`, `\{`: the character; `\,` `\;` `\!` `\\`: spacing.
                    match chars.get(i + 1) {
                        Some(&n @ ('%' | '&' | '_' | '$' | '#' | '{' | '}')) => {
                            push_escaped(n, out)
                        }
                        Some(',' | ';' | ':' | '!' | ' ' | '\\') => out.push(' '),
                        Some(&n) => {
                            out.push('\\');
                            push_escaped(n, out);
                        }
                        None => out.push('\\'),
                    }
                    i += 2;
                    continue;
                }
                let name: String = chars[i + 1..name_end].iter().collect();
                let wrap = match name.as_str() {
                    "textbf" | "mathbf" | "boldsymbol" => Some(("<b>", "</b>")),
                    "emph" | "textit" | "mathit" => Some(("<i>", "</i>")),
                    "texttt" => Some(("<code>", "</code>")),
                    "text" | "textrm" | "textsf" | "mathrm" | "mathcal" | "mathbb" | "mathsf"
                    | "operatorname" | "mathfrak" | "mbox" => Some(("", "")),
                    _ => None,
                };
                let arg = (chars.get(name_end) == Some(&'{'))
                    .then(|| closing_brace(chars, name_end))
                    .flatten();
                match (wrap, arg) {
                    (Some((open, close)), Some(end)) => {
                        out.push_str(open);
                        convert(&chars[name_end + 1..end], math, depth + 1, out);
                        out.push_str(close);
                        i = end + 1;
                    }
                    // A cut-off abstract can end in `\textbf{`: the markup goes, the text stays.
                    (Some(_), None) if chars.get(name_end) == Some(&'{') => i = name_end + 1,
                    _ => {
                        match symbol(&name) {
                            Some(s) => out.push_str(s),
                            // `\log`, `\max`, an unknown command: its name reads better than
                            // its backslash.
                            None if math => out.push_str(&escape(&name)),
                            None => {
                                out.push('\\');
                                out.push_str(&escape(&name));
                            }
                        }
                        i = name_end;
                    }
                }
                continue;
            }
            '^' | '_' if math && i + 1 < chars.len() => {
                let (tag, close) = if c == '^' {
                    ("<sup>", "</sup>")
                } else {
                    ("<sub>", "</sub>")
                };
                let (inner, next) = if chars[i + 1] == '{' {
                    match closing_brace(chars, i + 1) {
                        Some(end) => (&chars[i + 2..end], end + 1),
                        None => (&chars[i + 1..i + 2], i + 2),
                    }
                } else {
                    (&chars[i + 1..i + 2], i + 2)
                };
                out.push_str(tag);
                convert(inner, math, depth + 1, out);
                out.push_str(close);
                i = next;
                continue;
            }
            '{' | '}' if math => {}
            c => push_escaped(c, out),
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_abstract_cut_mid_word_ends_with_an_ellipsis() {
        assert_eq!(
            clipped("continuous evaluation, multimodal qu"),
            "continuous evaluation, multimodal…"
        );
        assert_eq!(clipped("It ends well.  "), "It ends well.");
        assert_eq!(clipped("现有的幻觉\u{FFFD}"), "现有的幻觉…");
        assert_eq!(clipped("现有的幻觉基准，"), "现有的幻觉基准…");
        assert_eq!(clipped(""), "");
    }

    #[test]
    fn common_latex_is_rendered_and_the_rest_escaped() {
        for (raw, want) in [
            ("top-$k$ results", "top-<span class=\"m\">k</span> results"),
            ("\\textbf{RAG} & <b>", "<b>RAG</b> &amp; &lt;b&gt;"),
            ("an \\emph{open} \\textit{set}", "an <i>open</i> <i>set</i>"),
            (
                "$\\mathcal{O}(n^2)$ time",
                "<span class=\"m\">O(n<sup>2</sup>)</span> time",
            ),
            (
                "$x_{i}^{2} \\leq \\alpha$",
                "<span class=\"m\">x<sub>i</sub><sup>2</sup> ≤ α</span>",
            ),
            ("costs \\$5 and 50\\% less", "costs $5 and 50% less"),
            ("a lone $ sign", "a lone $ sign"),
            ("$$E=mc^2$$", "<span class=\"m\">E=mc<sup>2</sup></span>"),
            ("\\unknown{x} stays", "\\unknown{x} stays"),
            ("Series \\textit{\\textbf{", "Series "),
            ("cut \\emph{off", "cut off"),
        ] {
            assert_eq!(latex_to_html(raw), want, "{raw}");
        }
    }

    proptest::proptest! {
        /// Any text converts without panicking and without leaking markup: every `<` written
        /// starts one of the tags this module writes.
        #[test]
        fn any_text_converts_safely(text in "[a-z$\\\\{}^_<>&%\"\\u{4e00}-\\u{4e10}\\u{1F600} ]{0,80}") {
            let html = latex_to_html(&text);
            let mut rest = html.as_str();
            while let Some(at) = rest.find('<') {
                rest = &rest[at..];
                let allowed = ["<b>", "</b>", "<i>", "</i>", "<sup>", "</sup>", "<sub>", "</sub>",
                    "<code>", "</code>", "<span class=\"m\">", "</span>"];
                proptest::prop_assert!(allowed.iter().any(|t| rest.starts_with(t)), "{html}");
                rest = &rest[1..];
            }
        }
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let text = format!("${}x{}$", "^{".repeat(10_000), "}".repeat(10_000));
        assert!(!latex_to_html(&text).is_empty());
    }
}
