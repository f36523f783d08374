//! `/api/references`, what the page's "export my list" downloads: the papers named, in order,
//! in each reference format, read back by `rispy` and `citeproc-py` (from PyPI, in a
//! virtualenv: `support::python`).

use crate::support::{get, get_json, read_back, shared_server};

const LIST: [&str; 3] = ["2403.05266", "2404.02115", "2403.05266v1"];

/// GET the list in `format`, saved to a file; the status and content type checked.
fn download(format: &str, content_type: &str, dir: &tempfile::TempDir) -> String {
    let path = format!("/api/references?ids={}&format={format}", LIST.join(","));
    let answer = get(&shared_server().url(&path));
    assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    assert!(
        answer.content_type.starts_with(content_type),
        "{format}: {}",
        answer.content_type
    );
    let file = dir.path().join(format!("list.{format}"));
    std::fs::write(&file, &answer.body).expect("saved");
    file.to_string_lossy().into_owned()
}

/// The list as the index knows it: each id once (a pasted version is the same paper).
fn papers() -> Vec<serde_json::Value> {
    LIST[..2]
        .iter()
        .map(|id| get_json(&format!("/api/papers/{id}")))
        .collect()
}

#[test]
fn the_reading_list_exports_as_ris_and_csl_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ris = download("ris", "application/x-research-info-systems", &dir);
    let Some(read) = read_back("ris", &ris) else {
        return;
    };
    let records = read["records"].as_array().expect("records");
    let papers = papers();
    assert_eq!(records.len(), papers.len(), "{read:#}");
    for (record, paper) in records.iter().zip(&papers) {
        let id = paper["arxiv_id"].as_str().expect("id");
        assert_eq!(record["id"], id);
        assert_eq!(record["title"], paper["title_en"]);
        assert_eq!(record["translated_title"], paper["title_zh"]);
        assert_eq!(record["urls"][0], format!("https://arxiv.org/abs/{id}"));
        assert_eq!(
            record["date"],
            format!("20{}/{}//", &id[..2], &id[2..4]),
            "the month"
        );
        assert!(
            record["keywords"][0].is_string(),
            "the category: {record:#}"
        );
    }
    let csl = download("csl-json", "application/vnd.citationstyles.csl+json", &dir);
    let Some(read) = read_back("csl-json", &csl) else {
        return;
    };
    let items = read["items"].as_array().expect("items");
    assert_eq!(items.len(), papers.len(), "{read:#}");
    for (item, paper) in items.iter().zip(&papers) {
        assert_eq!(item["id"], paper["arxiv_id"]);
        assert_eq!(item["title"], paper["title_en"]);
    }
    assert_eq!(
        read["rendered"].as_array().map(Vec::len),
        Some(papers.len())
    );
    let bib = download("bibtex", "application/x-bibtex", &dir);
    let bib = std::fs::read_to_string(bib).expect("read");
    assert_eq!(bib.matches("@misc{").count(), papers.len(), "{bib}");
}

#[test]
fn a_bad_export_names_the_parameter() {
    let server = shared_server();
    for (path, status, parameter) in [
        ("/api/references", 400, "ids"),
        ("/api/references?ids=%20,", 400, "ids"),
        (
            "/api/references?ids=2403.05266&format=endnote",
            400,
            "format",
        ),
        ("/api/references?ids=9999.99999", 404, "ids"),
        ("/api/references?ids=2403.05266&limit=3", 400, "limit"),
    ] {
        let answer = get(&server.url(path));
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
        assert_eq!(answer.json()["parameter"], parameter, "{path}");
    }
}
