//! What every request shares: the live index, and what is worth computing once per generation.

use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::embed::ModelSource;
use crate::error::Result;
use crate::search::{Engine, LiveEngine, Needs};

/// The server's shared state: cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    live: LiveEngine,
    /// The topic map of one generation: computing it takes a pass over every vector.
    map: Mutex<Option<(u64, Arc<crate::projection::Map>)>>,
}

impl AppState {
    /// Opens the index in `dir` once, with the model loaded once for every generation.
    pub fn open(dir: &Path, model: &ModelSource) -> Result<AppState> {
        let live = LiveEngine::open(dir, model, Needs::WordsAndMeaning)?;
        Ok(AppState {
            inner: Arc::new(Inner {
                live,
                map: Mutex::new(None),
            }),
        })
    }

    /// The engine of the live generation; a request keeps the one it started with, so a
    /// write committing meanwhile never fails it.
    pub fn engine(&self) -> Arc<Engine> {
        self.inner.live.current()
    }

    /// The topic map of `engine`'s generation, computed on first use.
    pub fn map(&self, engine: &Engine) -> Result<Arc<crate::projection::Map>> {
        let generation = engine.store().manifest.generation;
        let cached = |slot: &Option<(u64, Arc<crate::projection::Map>)>| {
            slot.as_ref()
                .filter(|(g, _)| *g == generation)
                .map(|(_, m)| m.clone())
        };
        if let Some(map) = cached(&self.inner.map.lock().unwrap_or_else(|e| e.into_inner())) {
            return Ok(map);
        }
        // Computed outside the lock: a slow first map must not hold back other requests' maps
        // of another generation; two racing computations give the same map.
        let map = Arc::new(crate::projection::Map::of(engine)?);
        let mut slot = self.inner.map.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_none_or(|(g, _)| *g <= generation) {
            *slot = Some((generation, map.clone()));
        }
        Ok(map)
    }
}
