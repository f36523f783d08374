//! An engine that follows its index across writes, for a long-lived process (the server, the
//! MCP server): it reopens the live generation once a write has committed.

use std::path::Path;
use std::sync::{Arc, RwLock};

use super::{Engine, Needs};
use crate::embed::{Embedder, ModelSource};
use crate::error::Result;

/// An engine that follows its index across writes, for a long-lived process (the server): each
/// [`LiveEngine::current`] returns the engine of the live generation, opening the new one once
/// a write has committed. Requests in flight keep the engine they started with, so a switch
/// never fails a request; the model is loaded once and shared by every generation.
pub struct LiveEngine {
    dir: std::path::PathBuf,
    embedder: Option<Arc<Embedder>>,
    needs: Needs,
    current: RwLock<(ManifestStamp, Arc<Engine>)>,
}

/// What identifies a manifest file version without reading it: a commit replaces the file by a
/// rename, so its inode (and usually its mtime) changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct ManifestStamp {
    inode: u64,
    modified: Option<std::time::SystemTime>,
    len: u64,
}

impl ManifestStamp {
    fn of(dir: &Path) -> Option<ManifestStamp> {
        let meta = std::fs::metadata(dir.join("manifest.json")).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(ManifestStamp {
            inode,
            modified: meta.modified().ok(),
            len: meta.len(),
        })
    }
}

impl LiveEngine {
    /// Opens the index in `dir` (loading the model when `needs` asks for meaning).
    pub fn open(dir: &Path, model: &ModelSource, needs: Needs) -> Result<LiveEngine> {
        let embedder = match needs {
            Needs::Words => None,
            _ => Some(Arc::new(model.load()?)),
        };
        let stamp = ManifestStamp::of(dir);
        let engine = Arc::new(Self::open_engine(dir, embedder.as_ref(), needs)?);
        Self::warm(&engine);
        Ok(LiveEngine {
            dir: dir.to_path_buf(),
            embedder,
            needs,
            current: RwLock::new((stamp.unwrap_or_default(), engine)),
        })
    }

    /// Builds `engine`'s word vectors on a thread of their own, so the first `related` of a
    /// new generation does not wait for them (seconds at 100k papers: BENCHMARKS.md).
    fn warm(engine: &Arc<Engine>) {
        if engine.meaning().is_some() {
            let engine = Arc::clone(engine);
            std::thread::spawn(move || {
                // A failure is the related request's to report, when one comes.
                let _ = engine.word_vectors();
            });
        }
    }

    fn open_engine(dir: &Path, embedder: Option<&Arc<Embedder>>, needs: Needs) -> Result<Engine> {
        match embedder {
            Some(embedder) => Engine::open_with(dir, embedder.clone(), needs),
            None => Engine::open_with_words(dir),
        }
    }

    /// The engine of the live generation. When a write has committed since the last call, the
    /// new generation is opened first; if that fails, the previous engine keeps answering and
    /// the error is returned only when there is no engine at all.
    pub fn current(&self) -> Arc<Engine> {
        let stamp = ManifestStamp::of(&self.dir);
        {
            let guard = self.current.read().unwrap_or_else(|e| e.into_inner());
            if stamp.is_none() || stamp == Some(guard.0) {
                return guard.1.clone();
            }
        }
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        if let Some(stamp) = stamp.filter(|s| *s != guard.0)
            && let Ok(engine) = Self::open_engine(&self.dir, self.embedder.as_ref(), self.needs)
        {
            let engine = Arc::new(engine);
            Self::warm(&engine);
            *guard = (stamp, engine);
        }
        guard.1.clone()
    }

    /// The generation the current engine serves.
    pub fn generation(&self) -> u64 {
        self.current().store().manifest.generation
    }
}
