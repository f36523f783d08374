//! What every request shares: the live index, and what is worth computing once per generation.

use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::embed::ModelSource;
use crate::error::Result;
use crate::search::{Engine, LiveEngine, Needs, TopicLevel};

/// The server's shared state: cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    live: LiveEngine,
    /// The topic map: computing it takes a pass over every vector.
    map: PerGeneration<crate::projection::Map>,
    /// Counts per category and month, and papers per topic and month (fine, coarse): each
    /// reads every stored paper (~0.1 s on the sample).
    stats: PerGeneration<crate::stats::Stats>,
    over_time: [PerGeneration<OverTime>; 2],
}

/// Papers per topic and month, as `/api/topics/over-time` answers.
pub type OverTime = std::collections::BTreeMap<usize, std::collections::BTreeMap<String, usize>>;

/// One value per generation, computed on first use and kept until a newer generation's
/// replaces it.
struct PerGeneration<T> {
    slot: Mutex<Option<(u64, Arc<T>)>>,
}

impl<T> Default for PerGeneration<T> {
    fn default() -> Self {
        PerGeneration {
            slot: Mutex::new(None),
        }
    }
}

impl<T> PerGeneration<T> {
    fn get_or_compute(
        &self,
        engine: &Engine,
        compute: impl FnOnce() -> Result<T>,
    ) -> Result<Arc<T>> {
        let generation = engine.store().manifest.generation;
        let lock = || self.slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, value)) = lock().as_ref().filter(|(g, _)| *g == generation) {
            return Ok(value.clone());
        }
        // Computed outside the lock: a slow first computation must not hold back requests on
        // another generation; two racing computations give the same value.
        let value = Arc::new(compute()?);
        let mut slot = lock();
        if slot.as_ref().is_none_or(|(g, _)| *g <= generation) {
            *slot = Some((generation, value.clone()));
        }
        Ok(value)
    }
}

impl AppState {
    /// Opens the index in `dir` once, with the model loaded once for every generation.
    pub fn open(dir: &Path, model: &ModelSource) -> Result<AppState> {
        let live = LiveEngine::open(dir, model, Needs::WordsAndMeaning)?;
        Ok(AppState {
            inner: Arc::new(Inner {
                live,
                map: PerGeneration::default(),
                stats: PerGeneration::default(),
                over_time: Default::default(),
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
        self.inner
            .map
            .get_or_compute(engine, || crate::projection::Map::of(engine))
    }

    /// Counts per category and month of `engine`'s generation, computed on first use.
    pub fn stats(&self, engine: &Engine) -> Result<Arc<crate::stats::Stats>> {
        self.inner
            .stats
            .get_or_compute(engine, || Ok(crate::stats::compute(&engine.papers()?)))
    }

    /// Papers per topic and month at `level` in `engine`'s generation, computed on first use.
    pub fn over_time(&self, engine: &Engine, level: TopicLevel) -> Result<Arc<OverTime>> {
        let cache = match level {
            TopicLevel::Fine => &self.inner.over_time[0],
            TopicLevel::Coarse => &self.inner.over_time[1],
        };
        cache.get_or_compute(engine, || {
            let model = engine.topics(level)?;
            Ok(crate::topics::over_time(&engine.papers()?, &model))
        })
    }
}
