//! A watched folder: digest files that appear or change under a directory (recursively) are
//! indexed as they arrive, each write a new generation that a live engine (the server, the MCP
//! tools) switches to as it does after `paperscope index`.
//!
//! File-system events come from the `notify` crate. A file is read only once it has stood
//! still: the same size and modification time for [`WatchOptions::settle`], and no event for
//! it in that time, so a digest still being copied in (in chunks, by a slow sync) is never read
//! half. Events arriving together are indexed together (one generation for a burst of files).
//! A bad file (not UTF-8, no papers, unreadable) is reported with its name and left out; the
//! other files of the burst are indexed, and a burst of only bad files writes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use crate::digest::Skipped;
use crate::embed::Embedder;
use crate::error::{Error, Result};
use crate::progress::Quiet;
use crate::update::{self, IndexReport, UpdateOptions};

/// How long a file must stand still, and how often the watcher looks.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// The time a file's size and modification time must stay the same (with no event for it)
    /// before it is read.
    pub settle: Duration,
    /// How often pending files are looked at again.
    pub poll: Duration,
    /// Index what the directory holds when the watch starts, before any event (files that
    /// arrived while nothing watched).
    pub catch_up: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            settle: Duration::from_millis(1500),
            poll: Duration::from_millis(250),
            catch_up: true,
        }
    }
}

/// What the watcher did, as it happens.
#[derive(Debug)]
pub enum WatchEvent {
    /// The watch is running on this directory.
    Watching(PathBuf),
    /// Files stood still and were indexed (some may be listed as skipped in the report).
    Indexed {
        /// The files read.
        files: Vec<PathBuf>,
        /// What the write did.
        report: Box<IndexReport>,
    },
    /// A file was left out: its name and why.
    Skipped(Skipped),
    /// A burst could not be indexed at all (no file gave a paper, or the write failed); the
    /// index is as it was.
    Failed {
        /// The files of the burst.
        files: Vec<PathBuf>,
        /// Why, one line.
        error: String,
    },
}

/// A file seen changing, not yet read.
struct Pending {
    /// Size and modification time at the last look.
    seen: Option<(u64, Option<SystemTime>)>,
    /// When it last changed (an event, or a different size or time).
    changed: Instant,
}

/// Whether `path` is a file the digest reader takes (`.md`), not a hidden or temporary one
/// that copy tools write before renaming (`.x.md.tmp`, `~x.md`).
fn is_digest(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name.ends_with(".md") && !name.starts_with('.') && !name.starts_with('~')
}

/// Watches `dir` until `stop` is set, indexing into the index at `index` with `embedder`;
/// `report` hears of each step. Returns when `stop` is set, or with an error when the directory
/// cannot be watched.
pub fn watch(
    dir: &Path,
    index: &Path,
    embedder: &Embedder,
    options: WatchOptions,
    stop: &AtomicBool,
    report: &mut dyn FnMut(WatchEvent),
) -> Result<()> {
    use notify::Watcher as _;

    if !dir.is_dir() {
        return Err(Error::invalid(
            "watch",
            format!("{} is not a directory", dir.display()),
        ));
    }
    let (sender, events) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // The receiver is gone only when the watch has ended.
        let _ = sender.send(event);
    })
    .map_err(|e| Error::invalid("watch", format!("cannot watch {}: {e}", dir.display())))?;
    watcher
        .watch(dir, notify::RecursiveMode::Recursive)
        .map_err(|e| Error::invalid("watch", format!("cannot watch {}: {e}", dir.display())))?;
    report(WatchEvent::Watching(dir.to_path_buf()));

    let mut pending: BTreeMap<PathBuf, Pending> = BTreeMap::new();
    if options.catch_up {
        let found = crate::digest::find_digests(&[dir.to_path_buf()]);
        for file in found.files {
            pending.insert(
                file,
                Pending {
                    seen: None,
                    changed: Instant::now(),
                },
            );
        }
    }
    while !stop.load(Ordering::Relaxed) {
        match events.recv_timeout(options.poll) {
            Ok(Ok(event)) => {
                if matches!(
                    event.kind,
                    notify::EventKind::Access(_) | notify::EventKind::Remove(_)
                ) {
                    continue;
                }
                for path in event.paths {
                    if is_digest(&path) {
                        pending.insert(
                            path,
                            Pending {
                                seen: None,
                                changed: Instant::now(),
                            },
                        );
                    }
                }
                continue;
            }
            Ok(Err(error)) => {
                report(WatchEvent::Failed {
                    files: Vec::new(),
                    error: format!("watching {}: {error}", dir.display()),
                });
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        let ready = settled(&mut pending, options.settle);
        if !ready.is_empty() {
            index_burst(index, ready, embedder, report);
        }
    }
    Ok(())
}

/// The pending files that have stood still for `settle`, taken out of `pending`; files that
/// are gone are dropped, files still changing stay.
fn settled(pending: &mut BTreeMap<PathBuf, Pending>, settle: Duration) -> Vec<PathBuf> {
    let now = Instant::now();
    let mut ready = Vec::new();
    pending.retain(|path, file| {
        let Ok(meta) = std::fs::metadata(path) else {
            return false;
        };
        if !meta.is_file() {
            return false;
        }
        let seen = Some((meta.len(), meta.modified().ok()));
        if file.seen != seen {
            file.seen = seen;
            file.changed = now;
            return true;
        }
        if now.duration_since(file.changed) >= settle {
            ready.push(path.clone());
            return false;
        }
        true
    });
    ready
}

/// Indexes one burst of settled files, reporting what was read, skipped or failed.
fn index_burst(
    index: &Path,
    files: Vec<PathBuf>,
    embedder: &Embedder,
    report: &mut dyn FnMut(WatchEvent),
) {
    match update::index_files(index, &files, embedder, UpdateOptions::default(), &Quiet) {
        Ok(done) => {
            for skipped in &done.skipped {
                report(WatchEvent::Skipped(skipped.clone()));
            }
            report(WatchEvent::Indexed {
                files,
                report: Box::new(done),
            });
        }
        Err(error) => report(WatchEvent::Failed {
            files,
            error: error.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_visible_markdown_files_are_digests() {
        assert!(is_digest(Path::new("in/2024-03-06_cs.CL_0a55959e.md")));
        assert!(!is_digest(Path::new("in/.2024-03-06.md")));
        assert!(!is_digest(Path::new("in/~2024-03-06.md")));
        assert!(!is_digest(Path::new("in/2024-03-06.md.part")));
        assert!(!is_digest(Path::new("in/notes.txt")));
    }

    #[test]
    fn a_file_is_ready_only_once_it_stands_still() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.md");
        std::fs::write(&path, "x").unwrap();
        let mut pending = BTreeMap::new();
        pending.insert(
            path.clone(),
            Pending {
                seen: None,
                changed: Instant::now(),
            },
        );
        let settle = Duration::from_millis(200);
        // First look: its size and time are new, so it has just changed.
        assert!(settled(&mut pending, settle).is_empty());
        std::fs::write(&path, "xy").unwrap();
        std::thread::sleep(settle);
        // Grown since the last look: not ready, whatever the time.
        assert!(settled(&mut pending, settle).is_empty());
        std::thread::sleep(settle);
        assert_eq!(settled(&mut pending, settle), vec![path]);
        assert!(pending.is_empty());
    }
}
