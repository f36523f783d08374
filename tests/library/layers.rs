//! The library's module graph: every module imports only modules on lower floors (so there is no
//! cycle and no upward import), no two files import each other even inside one folder, and no
//! library file knows the command line. Read from the source, so a new import that breaks the
//! layering fails here, with the offending module or files named.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The floors, bottom first (DESIGN.md): a module may use modules of lower floors only.
const FLOORS: &[&[&str]] = &[
    &["error", "paper", "text", "progress", "fuzzing"],
    &["atomic", "query", "analyze", "digest", "stats", "hybrid"],
    &["embed"],
    &["fulltext", "vectors", "topics"],
    &["store"],
    &["update", "search"],
    &[
        "compose",
        "eval",
        "projection",
        "export",
        "references",
        "watch",
    ],
    &["mcp"],
    &["server"],
];

fn floor_of(module: &str) -> Option<usize> {
    FLOORS.iter().position(|floor| floor.contains(&module))
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
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

/// The module path of a file: `src/topics/lsa.rs` -> `topics::lsa`, `src/topics/mod.rs` ->
/// `topics`, `src/paper.rs` -> `paper`.
fn unit_of(file: &Path) -> String {
    let relative = file.strip_prefix(src()).expect("under src");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string()
        })
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// A file's code before its tests, with string and character literals blanked (so that their
/// braces and `::` count for nothing).
fn code_of(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut out = String::with_capacity(code.len());
    let mut chars = code.chars().peekable();
    let mut in_comment = false;
    while let Some(c) = chars.next() {
        if in_comment {
            if c == '\n' {
                in_comment = false;
                out.push('\n');
            }
            continue;
        }
        match c {
            '/' if chars.peek() == Some(&'/') => in_comment = true,
            '"' => {
                while let Some(s) = chars.next() {
                    match s {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        '\n' => out.push('\n'),
                        _ => {}
                    }
                }
                out.push_str("\"\"");
            }
            '\'' => {
                // A character literal ('{', '\n') or a lifetime ('a): only the former is blanked.
                let rest: String = chars.clone().take(3).collect();
                if rest.starts_with('\\') || rest.chars().nth(1) == Some('\'') {
                    for s in chars.by_ref() {
                        if s == '\'' {
                            break;
                        }
                    }
                    out.push_str("' '");
                } else {
                    out.push(c);
                }
            }
            _ => out.push(c),
        }
    }
    join_uses(&out)
}

/// The code with each `use` statement on one line (rustfmt spreads long ones over several).
fn join_uses(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut open = false;
    for line in code.lines() {
        let trimmed = line.trim_start();
        let starts_use = trimmed.starts_with("use ")
            || trimmed.starts_with("pub use ")
            || (trimmed.starts_with("pub(") && trimmed.contains(") use "));
        if open {
            out.push(' ');
            out.push_str(trimmed);
        } else {
            out.push_str(line);
        }
        open = (open || starts_use) && !line.contains(';');
        if !open {
            out.push('\n');
        }
    }
    out
}

/// Every path a file's code names through `crate::`, `super::` or `self::` (and, in a folder's
/// `mod.rs`, through a child's name), made absolute: `["fulltext", "reader", "TextIndex"]`.
/// Paths inside an inline module (`mod avx2 { .. }`) resolve `super` from that module.
fn paths(unit: &str, code: &str, children: &BTreeSet<String>) -> Vec<(Vec<String>, bool)> {
    let base: Vec<String> = unit.split("::").map(str::to_string).collect();
    let mut found = Vec::new();
    // The module the code at each depth of braces is in: the file's, or an inline module's.
    let mut modules: Vec<(usize, Vec<String>)> = vec![(0, base.clone())];
    let mut depth = 0usize;
    for line in code.lines() {
        let trimmed = line.trim_start();
        let here = modules.last().expect("the file's module").1.clone();
        let reexport = trimmed.starts_with("pub use ") || trimmed.starts_with("pub(");
        let reexport = reexport && trimmed.contains(" use ");
        for (at, _) in line.match_indices("::") {
            let start = line[..at]
                .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(0, |i| i + 1);
            let head = &line[start..at];
            // `pub(in crate::embed)` names where an item is visible, not a use.
            if head.contains("::") || line[..start].ends_with("(in ") {
                continue;
            }
            let (prefix, rest) = match head {
                "crate" => (Vec::new(), &line[at + 2..]),
                "self" => (here.clone(), &line[at + 2..]),
                "super" => {
                    let mut up = here.clone();
                    let mut rest = &line[at + 2..];
                    up.pop();
                    while let Some(more) = rest.strip_prefix("super::") {
                        up.pop();
                        rest = more;
                    }
                    (up, rest)
                }
                child if here == base && children.contains(child) => (base.clone(), &line[start..]),
                _ => continue,
            };
            for tail in expand(rest) {
                let mut path = prefix.clone();
                path.extend(tail);
                found.push((path, reexport));
            }
        }
        for c in line.chars() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if modules.len() > 1 && modules.last().is_some_and(|(d, _)| *d > depth) {
                        modules.pop();
                    }
                }
                _ => {}
            }
        }
        let declaration = trimmed
            .strip_prefix("pub ")
            .or_else(|| trimmed.strip_prefix("pub(crate) "))
            .unwrap_or(trimmed);
        if let Some(name) = declaration.strip_prefix("mod ")
            && let Some(name) = name.strip_suffix('{')
        {
            let mut inner = here.clone();
            inner.push(name.trim().to_string());
            modules.push((depth, inner));
        }
    }
    found
}

/// The paths a `use` tail names: `a::b::{c, d::e}` -> `a::b::c`, `a::b::d::e`.
fn expand(rest: &str) -> Vec<Vec<String>> {
    let word = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut path = Vec::new();
    let mut rest = rest;
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            let mut open = 1;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    open += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    open == 0
                })
                .map_or(group.len(), |(i, _)| i);
            let mut items = Vec::new();
            let mut level = 0;
            let mut from = 0;
            for (i, c) in group[..end].char_indices() {
                match c {
                    '{' => level += 1,
                    '}' => level -= 1,
                    ',' if level == 0 => {
                        items.push(&group[from..i]);
                        from = i + 1;
                    }
                    _ => {}
                }
            }
            items.push(&group[from..end]);
            return items
                .into_iter()
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .flat_map(expand)
                .map(|tail| path.iter().cloned().chain(tail).collect())
                .collect();
        }
        let name = word(rest);
        if name.is_empty() {
            return vec![path];
        }
        rest = &rest[name.len()..];
        path.push(name);
        match rest.strip_prefix("::") {
            Some(more) => rest = more,
            None => return vec![path],
        }
    }
}

/// The library's files, by module path, with their code.
fn library() -> BTreeMap<String, String> {
    let mut files = Vec::new();
    library_files(&src(), &mut files);
    files
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(file).expect("readable");
            (unit_of(file), code_of(&text))
        })
        .collect()
}

/// The children a folder's `mod.rs` declares (`mod lsa;`).
fn children_of(code: &str) -> BTreeSet<String> {
    code.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = line
                .strip_prefix("pub ")
                .or_else(|| line.strip_prefix("pub(crate) "))
                .unwrap_or(line);
            let name = line.strip_prefix("mod ")?.strip_suffix(';')?;
            Some(name.trim().to_string())
        })
        .collect()
}

/// Which file defines what `path` names: the longest prefix that is a file, followed through
/// the re-exports of a folder's `mod.rs` (`pub use reader::TextIndex`). Names no file of the
/// library (a crate outside) -> None.
fn resolve(
    path: &[String],
    units: &BTreeSet<String>,
    reexports: &BTreeMap<String, BTreeMap<String, Vec<String>>>,
    hops: usize,
) -> Option<String> {
    if let Some(first) = path.first()
        && let Some(&(_, module)) = ROOT_ITEMS.iter().find(|(item, _)| item == first)
    {
        return Some(module.to_string());
    }
    let (unit, used) = (1..=path.len())
        .rev()
        .map(|n| (path[..n].join("::"), n))
        .find(|(unit, _)| units.contains(unit))?;
    if let Some(name) = path.get(used)
        && let Some(target) = reexports.get(&unit).and_then(|r| r.get(name))
        && hops < 8
    {
        let mut onward = target.clone();
        onward.extend(path[used + 1..].iter().cloned());
        return resolve(&onward, units, reexports, hops + 1).or(Some(unit));
    }
    Some(unit)
}

/// Items `lib.rs` re-exports at the crate root, and their modules.
const ROOT_ITEMS: &[(&str, &str)] = &[
    ("Paper", "paper"),
    ("PaperNumber", "paper"),
    ("Error", "error"),
    ("Result", "error"),
    ("Store", "store"),
    ("Engine", "search"),
    ("Needs", "search"),
    ("ModelSource", "embed"),
];

/// Per file, the files its non-test code uses (a path naming no file of the library: that
/// path's first name). With `faces` false, a folder's `mod.rs` re-exporting a child's item does
/// not use the child (it is the folder's face to the rest of the crate), unless its own code
/// names that item; with `faces` true every re-export is a use (a module that re-exports a
/// higher floor's item depends on that floor).
fn file_graph(faces: bool) -> BTreeMap<String, BTreeSet<String>> {
    let library = library();
    let units: BTreeSet<String> = library.keys().cloned().collect();
    let children: BTreeMap<&String, BTreeSet<String>> = library
        .iter()
        .map(|(unit, code)| (unit, children_of(code)))
        .collect();
    let mut all_paths = BTreeMap::new();
    let mut reexports: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for (unit, code) in &library {
        let found = paths(unit, code, &children[unit]);
        for (path, reexport) in &found {
            if *reexport && let Some(name) = path.last() {
                reexports
                    .entry(unit.clone())
                    .or_default()
                    .insert(name.clone(), path.clone());
            }
        }
        all_paths.insert(unit.clone(), found);
    }
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (unit, found) in &all_paths {
        let uses = graph.entry(unit.clone()).or_default();
        let code = &library[unit];
        for (path, reexport) in found {
            let target = resolve(path, &units, &reexports, 0)
                .unwrap_or_else(|| path.first().cloned().unwrap_or_default());
            if *reexport && !faces {
                // Re-exported for others: a use only if this file's own code names it too.
                let name = path.last().expect("a name");
                let named = code
                    .lines()
                    .filter(|l| !l.contains(" use ") && !l.trim_start().starts_with("mod "))
                    .any(|l| has_word(l, name));
                if !named {
                    continue;
                }
            }
            if target != *unit {
                uses.insert(target);
            }
        }
    }
    graph
}

fn has_word(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + word.len()..].chars().next();
        let part = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !part(before) && !part(after)
    })
}

fn top(unit: &str) -> &str {
    unit.split("::").next().unwrap_or(unit)
}

#[test]
fn every_module_imports_only_lower_floors() {
    let graph = file_graph(true);
    let mut modules: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (unit, uses) in &graph {
        let module = top(unit);
        let used = modules.entry(module).or_default();
        for target in uses {
            let target = top(target);
            if target != module {
                used.insert(target);
            }
        }
    }
    let mut violations = Vec::new();
    for (module, used) in &modules {
        let Some(own) = floor_of(module) else {
            violations.push(format!("module `{module}` is on no floor of FLOORS"));
            continue;
        };
        for dependency in used {
            match floor_of(dependency) {
                Some(floor) if floor < own => {}
                Some(floor) => violations.push(format!(
                    "`{module}` (floor {own}) imports `{dependency}` (floor {floor})"
                )),
                None => violations.push(format!("`{module}` imports unknown `{dependency}`")),
            }
        }
    }
    assert!(
        violations.is_empty(),
        "{violations:#?}\nmodules: {modules:#?}"
    );
    assert!(modules.len() >= 15, "too few modules read: {modules:?}");
    for floor in FLOORS.iter().flat_map(|f| f.iter()) {
        assert!(
            modules.contains_key(floor),
            "FLOORS names `{floor}`, which src/ lacks"
        );
    }
}

/// No file reaches itself through the files it uses: not two modules, not two files of one
/// folder (a child that uses an item its `mod.rs` defines makes a cycle if that `mod.rs` uses
/// the child back).
#[test]
fn no_file_imports_itself_through_others() {
    let graph = file_graph(false);
    assert!(graph.len() >= 40, "too few files read: {}", graph.len());
    assert!(
        graph["fulltext::build"].contains("fulltext::reader"),
        "the reader misses an import: {graph:#?}"
    );
    let mut cycles = Vec::new();
    for start in graph.keys() {
        // A path back to `start`, breadth first (the shortest).
        let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
        let mut frontier = vec![start.as_str()];
        let mut found = None;
        while found.is_none() && !frontier.is_empty() {
            let mut next = Vec::new();
            for &unit in &frontier {
                for target in graph.get(unit).into_iter().flatten() {
                    if target == start {
                        found = Some(unit);
                        break;
                    }
                    if !came_from.contains_key(target.as_str()) {
                        came_from.insert(target, unit);
                        next.push(target.as_str());
                    }
                }
                if found.is_some() {
                    break;
                }
            }
            frontier = next;
        }
        if let Some(mut at) = found {
            let mut cycle = vec![start.as_str(), at];
            while at != start {
                match came_from.get(at) {
                    Some(&previous) if previous != start => {
                        cycle.push(previous);
                        at = previous;
                    }
                    _ => break,
                }
            }
            cycle.reverse();
            cycle.rotate_right(1);
            cycles.push(cycle.join(" -> "));
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_library_knows_no_command_line() {
    let src = src();
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
