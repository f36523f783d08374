//! The command line: arguments (`args`), one function per command (`commands`), output
//! (`print`) and progress bars (`progress`). Every rule lives in the library.

pub mod args;
pub mod cache;
pub mod commands;
pub mod print;
pub mod progress;

use std::path::PathBuf;

use anyhow::Result;
use clap::CommandFactory;
use paperscope::ModelSource;
use paperscope::compose::Selection;
use paperscope::topics::TopicParams;

use args::{Cli, Command, EvalCommand};
use commands::Context;

/// When the process started: the footer of a search reports the whole command's time (model
/// loading included) beside the search's own, so a fast search does not hide a slow command.
pub static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let ctx = Context {
        explicit_index: cli.index.is_some(),
        index: cli
            .index
            .unwrap_or_else(|| PathBuf::from(commands::DEFAULT_INDEX)),
        model: cli.model.map_or_else(ModelSource::default, model_source),
        json: cli.json,
    };
    print::set_color(cli.color);
    match cli.command {
        Command::Index {
            inputs,
            rebuild,
            strict,
            watch: None,
        } => commands::index(&ctx, inputs, rebuild, strict),
        Command::Index {
            inputs,
            rebuild,
            strict,
            watch: Some(dir),
        } => commands::index_and_watch(&ctx, inputs, rebuild, strict, &dir),
        Command::Search {
            query,
            filters,
            limit,
            page,
            mode,
            fusion,
            no_feedback,
            explain,
            format,
        } => {
            let how = commands::Listing::new(limit, page, explain, ctx.format(format));
            let ranking = commands::Ranking {
                mode: mode.into(),
                fusion: &fusion,
                feedback: !no_feedback,
            };
            commands::search(&ctx, &query, &filters, &how, ranking)
        }
        Command::Related {
            ids,
            text,
            filters,
            limit,
            page,
            fusion,
            explain,
            format,
        } => {
            let how = commands::Listing::new(limit, page, explain, ctx.format(format));
            commands::related(&ctx, ids, text, &filters, &how, &fusion)
        }
        Command::Show { arxiv_id } => commands::show(&ctx, &arxiv_id),
        Command::Stats => commands::stats(&ctx),
        Command::Topics {
            refit,
            topics,
            min_size,
            over_time,
            level,
        } => {
            let params = refit.then(|| TopicParams {
                topics,
                min_size,
                ..TopicParams::default()
            });
            commands::topics(&ctx, params, over_time, level.into())
        }
        Command::Topic {
            id,
            limit,
            level,
            format,
        } => commands::topic(&ctx, id, limit, level.into(), ctx.format(format)),
        Command::Digest {
            by_topic,
            filters,
            query,
            ids,
            limit,
            related,
            format,
            output,
        } => {
            let selection = Selection {
                query,
                limit,
                by_topic,
                related,
                ..Selection::default()
            };
            commands::digest(
                &ctx,
                selection,
                ids.as_deref(),
                &filters,
                format.into(),
                output.as_deref(),
            )
        }
        Command::Eval(EvalCommand::Search { queries }) => commands::eval_search(&ctx, &queries),
        Command::Eval(EvalCommand::Crosslingual { stride }) => {
            commands::eval_crosslingual(&ctx, stride)
        }
        Command::Eval(EvalCommand::Topics {
            topics,
            representation,
        }) => commands::eval_topics(&ctx, topics, representation.into()),
        Command::Eval(EvalCommand::Ann { stride }) => commands::eval_ann(&ctx, stride),
        Command::Eval(EvalCommand::Related { queries, sets }) => {
            commands::eval_related(&ctx, &queries, &sets)
        }
        Command::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "paperscope", &mut std::io::stdout());
            Ok(())
        }
        Command::Check => commands::check(&ctx),
        Command::Cache(what) => cache::run(&ctx, what),
        Command::Serve { bind, watch } => commands::serve(&ctx, bind, watch.as_deref()),
        Command::Mcp => commands::mcp(&ctx),
        Command::Export {
            format,
            out,
            since_generation,
            queries,
        } => commands::export(
            &ctx,
            format.into(),
            &out,
            since_generation,
            queries.as_deref(),
        ),
    }
}

/// The one line printed for a failed command: the library's errors already name their file,
/// line, id or parameter; a parameter is shown as the flag it came from.
pub fn error_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = match cause.downcast_ref::<paperscope::Error>() {
            Some(paperscope::Error::InvalidParameter { parameter, reason }) => {
                format!("invalid argument {}: {reason}", args::flag_for(parameter))
            }
            _ => cause.to_string(),
        };
        if !line.contains(&text) {
            line = if line.is_empty() {
                text
            } else {
                format!("{line}: {text}")
            };
        }
    }
    line
}

/// The line for an `index` stopped by Ctrl-C or SIGTERM, when `error` is one: what was kept and
/// how to go on.
pub fn interrupted_line(error: &anyhow::Error) -> Option<String> {
    error.chain().find_map(|cause| match cause.downcast_ref() {
        Some(paperscope::Error::Interrupted { kept, total }) => Some(format!(
            "interrupted: {} of {} texts kept; run `paperscope index` again to continue",
            print::count(*kept),
            print::count(*total)
        )),
        _ => None,
    })
}

/// `--model`: a built-in model's name, or a model directory.
fn model_source(arg: PathBuf) -> ModelSource {
    match arg.to_str() {
        Some("e5" | "e5-small") => ModelSource::Shipped(paperscope::embed::ModelKind::E5Small),
        Some("static") => ModelSource::Shipped(paperscope::embed::ModelKind::Static),
        _ => ModelSource::Dir(arg),
    }
}
