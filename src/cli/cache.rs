//! `cache info|prune|clear`, and the line on the shared embedding cache that `stats` and `check`
//! print.

use anyhow::Result;
use paperscope::embed::cache::{self, CacheUsage};

use super::args::CacheCommand;
use super::commands::Context;
use super::print;

/// The shared cache's contents; `None` when it is turned off (`PAPERSCOPE_CACHE=off`).
pub fn usage() -> Result<Option<CacheUsage>> {
    Ok(match cache::shared_cache_dir() {
        Some(dir) => Some(cache::cache_usage(&dir)?),
        None => None,
    })
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// One line: where the shared cache is, how many texts, how large (or that it is off).
pub fn print_usage(usage: Option<&CacheUsage>) {
    match usage {
        Some(u) => println!(
            "Shared embedding cache {}: {} texts, {} in {} file(s).",
            u.dir.display(),
            print::count(u.records as usize),
            megabytes(u.bytes),
            u.files.len()
        ),
        None => println!("Shared embedding cache: off or unreadable."),
    }
}

/// `cache info|prune|clear`.
pub fn run(ctx: &Context, what: CacheCommand) -> Result<()> {
    let Some(dir) = cache::shared_cache_dir() else {
        anyhow::bail!(
            "the shared embedding cache is off (PAPERSCOPE_CACHE=off): nothing to {}",
            match what {
                CacheCommand::Info => "show",
                CacheCommand::Prune => "prune",
                CacheCommand::Clear => "clear",
            }
        );
    };
    match what {
        CacheCommand::Info => {
            let usage = cache::cache_usage(&dir)?;
            if ctx.json {
                return print::json(&usage);
            }
            print_usage(Some(&usage));
            for file in &usage.files {
                println!(
                    "  {}  {} texts  {}",
                    file.name,
                    print::count(file.records as usize),
                    megabytes(file.bytes)
                );
            }
        }
        CacheCommand::Prune => {
            let pruned = cache::prune_cache(&dir)?;
            if ctx.json {
                return print::json(&pruned);
            }
            println!(
                "Pruned {}: {} record(s) dropped, {} file(s) removed, {} -> {}.",
                dir.display(),
                print::count(pruned.records_dropped as usize),
                pruned.files_removed,
                megabytes(pruned.bytes_before),
                megabytes(pruned.bytes_after)
            );
        }
        CacheCommand::Clear => {
            let cleared = cache::clear_cache(&dir)?;
            if ctx.json {
                return print::json(&cleared);
            }
            println!(
                "Cleared {}: {} texts, {} removed.",
                dir.display(),
                print::count(cleared.records as usize),
                megabytes(cleared.bytes)
            );
        }
    }
    Ok(())
}
