//! How the library reports long work (parsing, embedding, indexing, fitting topics): one stage at
//! a time, a known number of steps, one `inc` per step. The CLI draws bars; the server and the
//! tests pass [`Quiet`].

/// Receives the progress of long work. Implementations must be cheap and thread-safe: `inc` is
/// called from worker threads once per item.
pub trait Progress: Sync {
    /// A new stage of `total` steps begins (the previous one, if any, is over).
    fn start(&self, stage: &'static str, total: usize);
    /// One step of the current stage is done.
    fn inc(&self);
    /// `n` steps of the current stage are done (an encoder finishes a batch of texts at once).
    fn advance(&self, n: usize) {
        for _ in 0..n {
            self.inc();
        }
    }
    /// Whether the caller asked the work to stop (Ctrl-C): long stages that can keep what they
    /// did (embedding) look at it between steps, sync, and end with [`crate::Error::Interrupted`].
    fn stop_requested(&self) -> bool {
        false
    }
    /// The current stage is over.
    fn finish(&self);
    /// A milestone worth a line of its own while work goes on (the papers became searchable by
    /// words while the embedding continues).
    fn note(&self, _message: &str) {}
}

/// The time left of a stage that did `done` of its `total` steps in `elapsed`, at its average
/// pace since it started; `None` before the first step. Embedding, the one long stage, finishes
/// texts a batch at a time and every text costs about the same (most are cut at 128 tokens), so
/// the average holds where a recent rate swings from one batch to the next and decays between
/// them (the bar's own estimate read minutes where the stage had seconds left).
pub fn eta(elapsed: std::time::Duration, done: usize, total: usize) -> Option<std::time::Duration> {
    if done == 0 {
        return None;
    }
    Some(elapsed.mul_f64(total.saturating_sub(done) as f64 / done as f64))
}

/// Reports nothing: for callers that show no progress.
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: &'static str, _: usize) {}
    fn inc(&self) {}
    fn finish(&self) {}
}

/// Runs `work` as one stage of `total` steps, finishing the stage however `work` ends.
pub fn stage<T>(
    progress: &dyn Progress,
    name: &'static str,
    total: usize,
    work: impl FnOnce() -> T,
) -> T {
    progress.start(name, total);
    let result = work();
    progress.finish();
    result
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn the_eta_is_the_time_left_at_the_pace_so_far() {
        assert_eq!(super::eta(Duration::from_secs(2), 0, 40), None);
        assert_eq!(
            super::eta(Duration::from_secs(2), 10, 40),
            Some(Duration::from_secs(6))
        );
        assert_eq!(
            super::eta(Duration::from_secs(9), 40, 40),
            Some(Duration::ZERO)
        );
    }
}
