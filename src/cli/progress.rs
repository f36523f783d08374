//! Progress bars on stderr (indicatif) for the library's long work, one stage at a time, with
//! elapsed time and ETA; nothing when stderr is not a terminal or JSON was asked for.

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use paperscope::progress::Progress;

/// Draws one bar per stage.
pub struct Bars {
    bar: Mutex<ProgressBar>,
    hidden: bool,
}

impl Bars {
    /// Bars, or nothing when `quiet` or when stderr is not a terminal.
    pub fn new(quiet: bool) -> Self {
        Bars {
            bar: Mutex::new(ProgressBar::hidden()),
            hidden: quiet || !std::io::stderr().is_terminal(),
        }
    }
}

impl Progress for Bars {
    fn start(&self, stage: &'static str, total: usize) {
        if self.hidden {
            return;
        }
        let bar = ProgressBar::new(total as u64).with_message(stage);
        let style = ProgressStyle::with_template(
            "{msg:>10} [{bar:40}] {pos}/{len} {elapsed_precise} (ETA {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        if let Ok(mut current) = self.bar.lock() {
            *current = bar;
        }
    }

    fn inc(&self) {
        if let Ok(bar) = self.bar.lock() {
            bar.inc(1);
        }
    }

    fn finish(&self) {
        if let Ok(bar) = self.bar.lock() {
            bar.finish_and_clear();
        }
    }
}
