//! Progress bars on stderr (indicatif) for the library's long work, one stage at a time, with
//! elapsed time and ETA; nothing when stderr is not a terminal or JSON was asked for.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{HumanDuration, ProgressBar, ProgressState, ProgressStyle};
use paperscope::progress::Progress;

/// Set by the first SIGINT or SIGTERM after [`stop_on_signals`]: long work syncs what it did and
/// stops at its next step.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // A second signal means "now": the work synced so far is kept either way.
    if STOP.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(130) }
    }
}

/// From now on Ctrl-C and SIGTERM ask the work to stop (see [`Progress::stop_requested`])
/// instead of killing the process, so an interrupted `index` keeps what it embedded; a second
/// signal ends the process at once.
pub fn stop_on_signals() {
    #[cfg(unix)]
    // SAFETY: the handler only touches an atomic (and calls _exit), both async-signal-safe.
    unsafe {
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

/// Draws one bar per stage.
pub struct Bars {
    bar: Mutex<ProgressBar>,
    hidden: bool,
    quiet: bool,
}

impl Bars {
    /// Bars, or nothing when `quiet` or when stderr is not a terminal.
    pub fn new(quiet: bool) -> Self {
        Bars {
            bar: Mutex::new(ProgressBar::hidden()),
            hidden: quiet || !std::io::stderr().is_terminal(),
            quiet,
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
        .with_key(
            "eta",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let left = paperscope::progress::eta(
                    state.elapsed(),
                    state.pos() as usize,
                    state.len().unwrap_or(0) as usize,
                );
                let _ = match left {
                    Some(left) => write!(w, "{:#}", HumanDuration(left)),
                    None => write!(w, "?"),
                };
            },
        )
        .progress_chars("=> ");
        bar.set_style(style);
        if let Ok(mut current) = self.bar.lock() {
            *current = bar;
        }
    }

    fn inc(&self) {
        self.advance(1);
    }

    fn advance(&self, n: usize) {
        if let Ok(bar) = self.bar.lock() {
            bar.inc(n as u64);
        }
    }

    fn stop_requested(&self) -> bool {
        STOP.load(Ordering::SeqCst)
    }

    fn finish(&self) {
        if let Ok(bar) = self.bar.lock() {
            bar.finish_and_clear();
        }
    }

    fn note(&self, message: &str) {
        if self.quiet {
            return;
        }
        match self.bar.lock() {
            Ok(bar) => bar.suspend(|| eprintln!("{message}")),
            Err(_) => eprintln!("{message}"),
        }
    }
}
