//! The `paperscope` command line: parses arguments, dispatches to `cli`, prints one error line.

mod cli;

use clap::Parser;

fn main() {
    cli::STARTED.get_or_init(std::time::Instant::now);
    // Piping into `head` closes stdout early: end quietly as other command-line tools do,
    // instead of panicking on the failed write.
    #[cfg(unix)]
    // SAFETY: restoring the default action of a signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = match cli::args::Cli::try_parse() {
        Ok(args) => args,
        Err(error) => usage_error(&error),
    };
    if let Err(error) = cli::run(args) {
        if let Some(line) = cli::interrupted_line(&error) {
            eprintln!("{line}");
            // 128 + SIGINT, as a shell reports a command that Ctrl-C ended.
            std::process::exit(130);
        }
        eprintln!("error: {}", cli::error_line(&error));
        std::process::exit(1);
    }
}

/// A command line clap rejects ends like every other error, in one `error:` line, but with exit
/// code 2 (the usage-error code of clap, ripgrep and most Unix tools) so that scripts can tell
/// "called wrongly" from "failed". clap's "did you mean" tips (`a similar subcommand exists:
/// 'search'`) follow on their own lines as clap prints them: they are the fix for a typo. `--help`, `--version`
/// and a bare `paperscope` print as clap prints them.
fn usage_error(error: &clap::Error) -> ! {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => error.exit(),
        _ => {
            let rendered = error.render().to_string();
            let first = rendered.lines().next().unwrap_or_default();
            let message = first.strip_prefix("error: ").unwrap_or(first);
            // clap puts the missing arguments on the lines after "were not provided:", and its
            // tips on indented lines starting with "tip:".
            let indented = || {
                rendered
                    .lines()
                    .skip(1)
                    .take_while(|l| l.is_empty() || l.starts_with("  "))
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
            };
            let detail: Vec<&str> = indented().filter(|l| !l.starts_with("tip:")).collect();
            let message = if detail.is_empty() {
                message.to_string()
            } else {
                format!("{message} {}", detail.join(" "))
            };
            eprintln!("error: {message} (see --help)");
            // Only the "did you mean" tips: "to pass '--bogus' as a value, use '-- --bogus'"
            // answers a question a mistyped flag does not ask.
            for tip in indented().filter(|l| l.starts_with("tip:") && l.contains("similar")) {
                eprintln!("  {tip}");
            }
            std::process::exit(2);
        }
    }
}
