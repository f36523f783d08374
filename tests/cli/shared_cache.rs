//! The per-user embedding cache shared by every index on the machine (`$PAPERSCOPE_CACHE`):
//! what one index embedded, another never embeds again; two processes append to it at once
//! without losing a record; a damaged record is embedded again, never used.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::*;

/// The binary with its shared cache in `cache`.
fn with_cache(cache: &Path) -> Command {
    let mut command = paperscope();
    command.env("PAPERSCOPE_CACHE", cache);
    command
}

fn json_of(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "{}", stderr(output));
    serde_json::from_slice(&output.stdout).expect("stdout is one JSON document")
}

fn index_json(cache: &Path, index: &Path, inputs: &[PathBuf]) -> serde_json::Value {
    json_of(
        &with_cache(cache)
            .args(["--json", "index", "--index"])
            .arg(index)
            .args(inputs)
            .output()
            .expect("index runs"),
    )
}

fn cache_json(cache: &Path, args: &[&str]) -> serde_json::Value {
    json_of(
        &with_cache(cache)
            .args(["--json", "cache"])
            .args(args)
            .output()
            .expect("cache runs"),
    )
}

fn the_cache_file(cache: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(cache)
        .expect("cache dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

/// A digest written by `digest --by-topic` and indexed anew embeds nothing: its texts were
/// embedded (here: taken from the shipped cache) for the first index. A damaged record is
/// found by `cache prune` and embedded again; `stats`, `check` and `cache info` report the
/// cache's size, and `cache clear` empties it.
#[test]
fn the_digest_round_trip_embeds_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cache = tmp.path().join("shared");
    let first = tmp.path().join("first");
    let inputs = [
        digest("2024-03-06_cs.CL_0a55959e.md"),
        digest("2023-05-09_cs.CL_8ae271ac.md"),
    ];
    let made = index_json(&cache, &first, &inputs);
    let texts = 2 * made["papers"].as_u64().expect("papers");
    let info = cache_json(&cache, &["info"]);
    assert_eq!(info["records"].as_u64(), Some(texts), "{info}");
    let stats = json_of(
        &with_cache(&cache)
            .args(["--json", "--index"])
            .arg(&first)
            .arg("stats")
            .output()
            .expect("stats"),
    );
    assert_eq!(stats["embedding_cache"]["records"].as_u64(), Some(texts));
    let check = json_of(
        &with_cache(&cache)
            .args(["--json", "--index"])
            .arg(&first)
            .arg("check")
            .output()
            .expect("check"),
    );
    assert_eq!(check["embedding_cache"]["bytes"], info["bytes"], "{check}");

    let all = tmp.path().join("out").join("all.md");
    std::fs::create_dir_all(all.parent().expect("parent")).expect("out dir");
    let written = with_cache(&cache)
        .args(["--index"])
        .arg(&first)
        .args(["digest", "--by-topic", "-o"])
        .arg(&all)
        .output()
        .expect("digest");
    assert!(written.status.success(), "{}", stderr(&written));
    let second = index_json(
        &cache,
        &tmp.path().join("second"),
        std::slice::from_ref(&all),
    );
    assert_eq!(second["papers"], made["papers"], "{second}");
    assert_eq!(second["texts_embedded"], 0, "{second}");
    assert_eq!(second["texts_cached"].as_u64(), Some(texts), "{second}");

    // One record damaged: pruned (never used), and embedded again by the next index.
    let file = the_cache_file(&cache);
    let mut bytes = std::fs::read(&file).expect("cache file");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&file, bytes).expect("damage");
    let pruned = cache_json(&cache, &["prune"]);
    assert_eq!(pruned["records_dropped"], 1, "{pruned}");
    let third = index_json(
        &cache,
        &tmp.path().join("third"),
        std::slice::from_ref(&all),
    );
    assert_eq!(third["texts_embedded"], 1, "{third}");
    assert_eq!(
        cache_json(&cache, &["info"])["records"].as_u64(),
        Some(texts)
    );

    let cleared = cache_json(&cache, &["clear"]);
    assert_eq!(cleared["records"].as_u64(), Some(texts), "{cleared}");
    assert_eq!(cache_json(&cache, &["info"])["records"], 0);
}

/// Two `index` processes embedding into one shared cache at once (with overlapping digests):
/// neither damages the other's records nor loses them, so a third index of all their digests
/// embeds nothing.
#[test]
fn two_processes_share_the_cache_without_losing_a_record() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cache = tmp.path().join("shared");
    // Copies with no shipped cache beside them: everything is embedded.
    let digests = tmp.path().join("digests");
    std::fs::create_dir(&digests).expect("digests");
    let names = [
        "2023-03-14_cs.CR_18881a92.md",
        "2023-03-14_cs.DC_18881a92.md",
        "2023-03-14_cs.CY_18881a92.md",
        "2023-03-14_cs.DB_18881a92.md",
    ];
    let files: Vec<PathBuf> = names
        .iter()
        .map(|name| {
            let copy = digests.join(name);
            std::fs::copy(digest(name), &copy).expect("copy");
            copy
        })
        .collect();
    let spawn = |index: &str, inputs: &[PathBuf]| {
        with_cache(&cache)
            .args(["--json", "index", "--index"])
            .arg(tmp.path().join(index))
            .args(inputs)
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("index starts")
    };
    let a = spawn("a", &files[..2]);
    let b = spawn("b", &files[1..]);
    let a = json_of(&a.wait_with_output().expect("a ends"));
    let b = json_of(&b.wait_with_output().expect("b ends"));
    assert!(a["texts_embedded"].as_u64() > Some(0), "{a}");
    assert!(b["texts_embedded"].as_u64() > Some(0), "{b}");
    let all = index_json(&cache, &tmp.path().join("all"), &files);
    assert_eq!(all["texts_embedded"], 0, "{all}");
    let pruned = cache_json(&cache, &["prune"]);
    eprintln!("{pruned}");
}
