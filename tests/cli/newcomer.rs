//! What a new user met on a first try, each kept fixed: a model other than the index's, no
//! index outside a clone, typos, messages that read as typos, BibTeX, the coarse topics' cost.

use std::path::Path;

use crate::support::*;

/// Runs in `dir` as the working directory, with no index or model from the environment.
fn run_in(dir: &Path, args: &[&str]) -> std::process::Output {
    paperscope()
        .current_dir(dir)
        .env_remove("PAPERSCOPE_MODEL")
        .args(args)
        .output()
        .expect("binary runs")
}

#[test]
fn another_built_in_model_than_the_index_is_refused_naming_the_one_to_use() {
    // The shared index is built with the default model, e5.
    for args in [
        &["search", "hallucination benchmark"][..],
        &["search", "--mode", "vector", "hallucination benchmark"],
        &["related", "2403.05266"],
    ] {
        let mut all = vec!["--index", shared_index(), "--model", "static"];
        all.extend_from_slice(args);
        let output = run(&all);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            stdout(&output)
        );
        assert_fails_naming(&output, "`--model e5-small`");
        assert!(stdout(&output).is_empty(), "no answer by keywords only");
    }
    // Where words are all a command needs, the model does not matter.
    let stats = run(&["--index", shared_index(), "--model", "static", "stats"]);
    assert!(stats.status.success(), "{}", stderr(&stats));
}

#[test]
fn outside_a_clone_a_read_command_writes_nothing_and_says_how_to_make_an_index() {
    let tmp = tempfile::tempdir().expect("tmp");
    for args in [
        &["search", "hallucination"][..],
        &["stats"],
        &["topics"],
        &["index"],
    ] {
        let output = run_in(tmp.path(), args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert_fails_naming(&output, "paperscope index DIR");
        let err = stderr(&output);
        if args[0] != "index" {
            assert!(
                err.contains("--index") && err.contains("$PAPERSCOPE_INDEX"),
                "{err}"
            );
        }
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .expect("tmp")
            .map(|e| e.map(|e| e.file_name()))
            .collect();
        assert!(left.is_empty(), "{args:?} wrote {left:?}");
    }
}

#[test]
fn usage_errors_keep_clap_tips_under_their_one_error_line() {
    for (args, tip) in [
        (&["serch", "x"][..], "'search'"),
        (&["search", "x", "--limt", "3"], "'--limit'"),
    ] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let err = stderr(&output);
        let lines: Vec<&str> = err.lines().collect();
        assert!(lines[0].starts_with("error: "), "{err}");
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("error:")).count(),
            1,
            "{err}"
        );
        assert!(
            lines[1..]
                .iter()
                .any(|l| l.trim_start().starts_with("tip:") && l.contains(tip)),
            "{args:?} should keep the tip naming {tip}: {err}"
        );
    }
}

#[test]
fn the_index_summary_says_what_was_written_plainly() {
    let tmp = tempfile::tempdir().expect("tmp");
    let index = tmp.path().join("index").to_string_lossy().into_owned();
    let a = digest("2024-03-06_cs.CL_0a55959e.md");
    let output = run(&["index", "--index", &index, &a.to_string_lossy()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains(&format!("Wrote generation 1 of index {index}/: ")),
        "{text}"
    );
    let vectors = text
        .lines()
        .find(|l| l.starts_with("Vectors of "))
        .unwrap_or_else(|| panic!("a line on the vectors: {text}"));
    assert!(
        vectors.contains(" papers: ") && vectors.contains(" texts embedded, "),
        "{vectors}"
    );
    assert!(!text.contains("embedded;"), "{text}");
}

#[test]
fn stats_shows_the_generation_an_incremental_export_counts_from() {
    let stats = run_json(&["--json", "--index", shared_index(), "stats"]);
    let generation = stats["generation"]
        .as_u64()
        .expect("generation in stats --json");
    let output = run(&["--index", shared_index(), "stats"]);
    let text = stdout(&output);
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.starts_with("8,320 papers (")
                && l.ends_with(&format!("index generation {generation}"))),
        "{text}"
    );
    // Nothing changed after the live generation: an export from it holds no papers.
    let tmp = tempfile::tempdir().expect("tmp");
    let out = format!("{}/export/", tmp.path().display());
    let output = run(&[
        "--index",
        shared_index(),
        "export",
        "--format",
        "jsonl",
        "--out",
        &out,
        "--since-generation",
        &generation.to_string(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with("Exported 0 of 8,320 papers"), "{text}");
    assert!(text.contains(&format!("into {out} (")), "{text}");
    assert!(!text.contains("//"), "{text}");
}

#[test]
fn an_unknown_coarse_topic_points_to_the_coarse_list() {
    let output = run(&[
        "--index",
        shared_index(),
        "topic",
        "999",
        "--level",
        "coarse",
    ]);
    assert_fails_naming(&output, "`paperscope topics --level coarse`");
    let output = run(&["--index", shared_index(), "topic", "999"]);
    assert_fails_naming(&output, "`paperscope topics` lists");
}

#[test]
fn bibtex_leaves_out_the_authors_the_digests_do_not_name() {
    let output = run(&[
        "--index",
        shared_index(),
        "search",
        "-n",
        "3",
        "--format",
        "bibtex",
        "hallucination",
    ]);
    let bib = stdout(&output);
    assert_eq!(bib.matches("@misc{").count(), 3, "{bib}");
    assert!(!bib.contains("author"), "{bib}");
}

#[test]
fn coarse_topics_are_read_from_the_index_not_merged_again() {
    // Stored by the write that made the generation: reading them loads no model (a model that
    // cannot load does not matter) and gives what the index holds.
    let missing = "/nonexistent/model";
    let with_model = run_json(&[
        "--json",
        "--index",
        shared_index(),
        "topics",
        "--level",
        "coarse",
    ]);
    let without = run_json(&[
        "--json",
        "--index",
        shared_index(),
        "--model",
        missing,
        "topics",
        "--level",
        "coarse",
    ]);
    assert_eq!(with_model, without);
    let topic = run(&[
        "--json",
        "--index",
        shared_index(),
        "--model",
        missing,
        "topic",
        "0",
        "--level",
        "coarse",
    ]);
    assert!(topic.status.success(), "{}", stderr(&topic));
}

#[test]
fn an_offset_too_large_is_called_too_large_with_the_largest() {
    let output = run(&["search", "x", "--offset", "99999999999999999999999"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("too large") && err.contains(&usize::MAX.to_string()),
        "{err}"
    );
}
