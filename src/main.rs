//! The `paperscope` command line: parses arguments, dispatches to `cli`, prints one error line.

mod cli;

use clap::Parser;

fn main() {
    // Piping into `head` closes stdout early: end quietly as other command-line tools do,
    // instead of panicking on the failed write.
    #[cfg(unix)]
    // SAFETY: restoring the default action of a signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = cli::args::Cli::parse();
    if let Err(error) = cli::run(args) {
        eprintln!("error: {}", cli::error_line(&error));
        std::process::exit(1);
    }
}
