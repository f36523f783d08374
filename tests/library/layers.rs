//! The library's module graph: every module imports only modules on lower floors (so there is no
//! cycle and no upward import), and no library file knows the command line. Read from the source,
//! so a new import that breaks the layering fails here, with the offending line's module named.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The floors, bottom first (DESIGN.md): a module may use modules of lower floors only.
const FLOORS: &[&[&str]] = &[
    &["error", "paper", "text", "progress", "fuzzing"],
    &[
        "atomic", "query", "analyze", "embed", "digest", "stats", "hybrid",
    ],
    &[
        "fulltext",
        "vectors",
        "script_views",
        "topics",
        "embed_cache",
    ],
    &["store"],
    &["update", "search"],
    &["compose", "eval", "projection", "export"],
    &["server"],
];

fn floor_of(module: &str) -> Option<usize> {
    FLOORS.iter().position(|floor| floor.contains(&module))
}

fn library_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "cli") {
                library_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs")
            && path
                .file_name()
                .is_some_and(|n| n != "main.rs" && n != "lib.rs")
        {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/topics/lsa.rs` -> `topics`).
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("under src");
    let first = relative.components().next().expect("a component");
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_string()
}

/// Modules a file's non-test code names through `crate::`.
fn imports(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if rest.starts_with('{') {
            let group = &rest[1..rest.find('}').unwrap_or(rest.len())];
            for item in group.split(',') {
                let head = item.trim().split("::").next().unwrap_or_default().trim();
                if !head.is_empty() {
                    found.insert(head.to_string());
                }
            }
        } else if !name.is_empty() {
            found.insert(name);
        }
    }
    found
}

#[test]
fn every_module_imports_only_lower_floors() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    library_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        let text = std::fs::read_to_string(file).expect("readable");
        let used: Vec<String> = imports(&text)
            .into_iter()
            .filter(|m| *m != module)
            .collect();
        graph.entry(module).or_default().extend(used);
    }
    // Re-exports at the crate root name their module's items.
    let root_items: BTreeMap<&str, &str> = [
        ("Paper", "paper"),
        ("Error", "error"),
        ("Result", "error"),
        ("Store", "store"),
        ("Engine", "search"),
        ("Needs", "search"),
        ("ModelSource", "embed"),
    ]
    .into_iter()
    .collect();
    let mut violations = Vec::new();
    for (module, used) in &graph {
        let Some(own) = floor_of(module) else {
            violations.push(format!("module `{module}` is on no floor of FLOORS"));
            continue;
        };
        for dependency in used {
            let dependency = root_items
                .get(dependency.as_str())
                .copied()
                .unwrap_or(dependency);
            match floor_of(dependency) {
                Some(floor) if floor < own => {}
                Some(floor) => violations.push(format!(
                    "`{module}` (floor {own}) imports `{dependency}` (floor {floor})"
                )),
                None => violations.push(format!("`{module}` imports unknown `{dependency}`")),
            }
        }
    }
    assert!(violations.is_empty(), "{violations:#?}\ngraph: {graph:#?}");
    assert!(graph.len() >= 15, "too few modules read: {graph:?}");
}

#[test]
fn the_library_knows_no_command_line() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    library_files(&src, &mut files);
    files.push(src.join("lib.rs"));
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        assert!(!text.contains("clap"), "{} uses clap", file.display());
        assert!(
            !text.contains("indicatif"),
            "{} draws progress bars",
            file.display()
        );
    }
}
