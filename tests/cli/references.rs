//! `--format csl-json` and `--format ris`, read back by the libraries reference managers'
//! tools are built on (`citeproc-py` renders the CSL-JSON in a citation style, `rispy` reads the
//! RIS), from PyPI in a virtualenv (`support::python`): every paper arrives, in order, with
//! its arXiv id, URL, month and category, and both titles.

use serde_json::Value;

use crate::support::*;

/// The shared index's answer to `args` in `format`, saved to a file a reader can open.
fn export(args: &[&str], format: &str, dir: &tempfile::TempDir) -> String {
    let mut all = vec!["--index", shared_index()];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", format]);
    let output = run_ok(&all);
    let path = dir.path().join(format!("refs.{format}"));
    std::fs::write(&path, &output.stdout).expect("export saved");
    path.to_string_lossy().into_owned()
}

/// The JSON answer to the same question, to compare against.
fn answer(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--json", "--index", shared_index()];
    all.extend_from_slice(args);
    let json = run_json(&all);
    let list = if json["results"].is_array() {
        &json["results"]
    } else {
        &json["papers"]
    };
    list.as_array().cloned().expect("a list of papers")
}

fn month_of(paper: &Value) -> (Option<i64>, Option<i64>) {
    let month = paper["month"].as_str().map(str::to_owned).or_else(|| {
        // A topic's papers are full records: the month comes from the id.
        let id = paper["arxiv_id"].as_str()?;
        Some(format!("20{}-{}", id.get(..2)?, id.get(2..4)?))
    });
    let Some(month) = month else {
        return (None, None);
    };
    let (y, m) = month.split_once('-').expect("YYYY-MM");
    (y.parse().ok(), m.parse().ok())
}

fn category_of(paper: &Value) -> String {
    paper["category"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| paper["listings"][0].as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[test]
fn csl_json_is_rendered_by_citeproc_with_every_paper_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let question = ["search", "-n", "5", "hallucination benchmark"];
    let file = export(&question, "csl-json", &dir);
    let Some(read) = read_back("csl-json", &file) else {
        return;
    };
    let expected = answer(&question);
    let items = read["items"].as_array().expect("items");
    let rendered = read["rendered"].as_array().expect("rendered");
    assert_eq!(items.len(), expected.len(), "{read:#}");
    assert_eq!(rendered.len(), expected.len(), "{read:#}");
    for (item, paper) in items.iter().zip(&expected) {
        let id = paper["arxiv_id"].as_str().expect("id");
        assert_eq!(item["id"], id, "{item:#}");
        assert_eq!(item["type"], "article");
        assert_eq!(item["url"], format!("https://arxiv.org/abs/{id}"));
        assert_eq!(item["doi"], format!("10.48550/arXiv.{id}"));
        assert_eq!(item["number"], format!("arXiv:{id}"));
        assert_eq!(item["keyword"], category_of(paper), "{item:#}");
        let (year, month) = month_of(paper);
        assert_eq!(
            (item["year"].as_i64(), item["month"].as_i64()),
            (year, month)
        );
        let note = item["note"].as_str().unwrap_or_default();
        let title_zh = paper["title_zh"].as_str().unwrap_or_default();
        assert!(note.contains(title_zh), "the Chinese title in {note}");
        let title = paper["title_en"].as_str().expect("title");
        assert_eq!(item["title"], title);
        // The style renders the title and the year of each entry; which entry is which is the
        // style's (alphabetical) order, so each paper is looked up by its DOI.
        let entry = rendered
            .iter()
            .filter_map(Value::as_str)
            .find(|e| e.contains(&format!("10.48550/arXiv.{id}")))
            .unwrap_or_else(|| panic!("{id} rendered: {rendered:#?}"));
        assert!(
            entry.contains(&year.expect("a month").to_string()),
            "{entry}"
        );
        let words: Vec<&str> = title.split_whitespace().take(3).collect();
        assert!(entry.contains(&words.join(" ")), "{title} in {entry}");
    }
}

#[test]
fn ris_is_read_by_rispy_for_related_and_topic() {
    let dir = tempfile::tempdir().expect("temp dir");
    for question in [
        &["related", "2403.05266", "-n", "4"][..],
        &["topic", "0", "-n", "3"][..],
    ] {
        let file = export(question, "ris", &dir);
        let Some(read) = read_back("ris", &file) else {
            return;
        };
        let expected = answer(question);
        let records = read["records"].as_array().expect("records");
        assert_eq!(records.len(), expected.len(), "{question:?}: {read:#}");
        for (record, paper) in records.iter().zip(&expected) {
            let id = paper["arxiv_id"].as_str().expect("id");
            assert_eq!(record["type_of_reference"], "UNPB");
            assert_eq!(record["id"], id, "{record:#}");
            assert_eq!(record["title"], paper["title_en"]);
            assert_eq!(record["translated_title"], paper["title_zh"]);
            assert_eq!(record["urls"][0], format!("https://arxiv.org/abs/{id}"));
            assert_eq!(record["doi"], format!("10.48550/arXiv.{id}"));
            assert_eq!(record["accession_number"], format!("arXiv:{id}"));
            assert_eq!(record["keywords"][0], category_of(paper), "{record:#}");
            let (year, month) = month_of(paper);
            let (year, month) = (year.expect("a year"), month.expect("a month"));
            assert_eq!(record["year"], year.to_string());
            assert_eq!(record["date"], format!("{year}/{month:02}//"));
        }
    }
}
