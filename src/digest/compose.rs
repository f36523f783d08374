//! Composing a new digest from the index: choosing papers, grouping them by topic, and writing
//! Markdown, HTML or JSON.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;

use crate::digest::render::{RelatedOf, Section, render_sections};
use crate::error::{Error, Result};
use crate::paper::Paper;
use crate::topics::TopicModel;

/// Reads an `--ids` file: one arXiv id per line, `#` comments and blank lines ignored.
pub fn read_id_file(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(|l| crate::fulltext::strip_version(l).to_string())
        .collect())
}

/// The selected papers grouped by topic: topics by how many selected papers they hold, papers
/// inside a topic by closeness to its centre. A section's title is the topic's label.
pub fn by_topic<'a>(papers: &[&'a Paper], model: &TopicModel) -> Vec<Section<'a>> {
    let placement: HashMap<&str, (usize, f32)> = model
        .assignments
        .iter()
        .map(|a| (a.arxiv_id.as_str(), (a.nearest, a.closeness)))
        .collect();
    let mut groups: BTreeMap<usize, Vec<(&'a Paper, f32)>> = BTreeMap::new();
    let mut unplaced = Vec::new();
    for &p in papers {
        match placement.get(p.arxiv_id.as_str()) {
            Some(&(topic, closeness)) => groups.entry(topic).or_default().push((p, closeness)),
            None => unplaced.push(p),
        }
    }
    let mut ordered: Vec<(usize, Vec<(&Paper, f32)>)> = groups.into_iter().collect();
    ordered.sort_by_key(|(id, members)| (std::cmp::Reverse(members.len()), *id));
    let mut sections: Vec<Section> = ordered
        .into_iter()
        .map(|(id, mut members)| {
            members.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.arxiv_id.cmp(&b.0.arxiv_id)));
            Section {
                title: Some(topic_title(model, id)),
                papers: members.into_iter().map(|(p, _)| p).collect(),
            }
        })
        .collect();
    if !unplaced.is_empty() {
        sections.push(Section {
            title: Some("other · 其他".into()),
            papers: unplaced,
        });
    }
    sections
}

/// `hallucination · benchmark · factuality / 幻觉 · 基准 · 事实`
pub fn topic_title(model: &TopicModel, id: usize) -> String {
    let topic = model.topics.iter().find(|t| t.id == id);
    let words = |list: Option<&Vec<String>>| {
        list.map(|l| l.iter().take(3).cloned().collect::<Vec<_>>().join(" · "))
            .unwrap_or_default()
    };
    format!(
        "{} / {}",
        words(topic.map(|t| &t.label_en)),
        words(topic.map(|t| &t.label_zh))
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Markdown,
    Html,
    Json,
}

#[derive(Serialize)]
struct JsonSection<'a> {
    title: Option<&'a str>,
    papers: Vec<JsonPaper<'a>>,
}

#[derive(Serialize)]
struct JsonPaper<'a> {
    #[serde(flatten)]
    paper: &'a Paper,
    related: Vec<(String, String)>,
}

pub fn write(sections: &[Section], related: &RelatedOf, format: Format) -> Result<String> {
    Ok(match format {
        Format::Markdown => render_sections(sections, related),
        Format::Html => crate::digest::html::render_html(sections, related),
        Format::Json => {
            let json: Vec<JsonSection> = sections
                .iter()
                .map(|s| JsonSection {
                    title: s.title.as_deref(),
                    papers: s
                        .papers
                        .iter()
                        .map(|p| JsonPaper {
                            paper: p,
                            related: related(p),
                        })
                        .collect(),
                })
                .collect();
            serde_json::to_string_pretty(&serde_json::json!({ "sections": json }))
                .map_err(|e| Error::invalid("--format", e.to_string()))?
        }
    })
}

/// Writes `text` to `path` through a temporary file in the same directory and a rename, so a
/// failure never leaves half a file; a missing directory is an error naming it.
pub fn save(path: &Path, text: &str) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(Error::invalid(
            "-o/--output",
            format!("directory {} does not exist", dir.display()),
        ));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}
