//! Hybrid and vector nDCG@10 with the meaning-feedback stage over a grid of its settings, and
//! without it, on the tuning files only (tests/queries.tsv: ordinary queries and questions;
//! tests/queries_paraphrase_tune.tsv: needs in other words). Never reads a held-out file.
//! INDEX=index cargo run --release --example sweep_feedback

use std::path::Path;

use paperscope::eval::{self, JudgedQuery};
use paperscope::search::{FeedbackParams, Mode};
use paperscope::{Engine, ModelSource, Needs};

const FILES: [&str; 2] = ["tests/queries.tsv", "tests/queries_paraphrase_tune.tsv"];

fn ndcg(
    engine: &Engine,
    queries: &[JudgedQuery],
    mode: Mode,
    feedback: bool,
) -> anyhow::Result<String> {
    let ids: Vec<String> = engine.papers()?.into_iter().map(|p| p.arxiv_id).collect();
    let method = eval::Method {
        name: "",
        mode,
        fusion: None,
        feedback,
    };
    let report = eval::evaluate_method(engine, &ids, queries, method)?;
    let groups: Vec<String> = report
        .by_group
        .iter()
        .map(|(g, m)| format!("{g} {:.3}", m.ndcg10))
        .collect();
    Ok(format!(
        "{:.3} ({})  p50 {:.2} ms",
        report.overall.ndcg10,
        groups.join(", "),
        report.latency_p50_ms
    ))
}

fn main() -> anyhow::Result<()> {
    let index = std::env::var("INDEX").unwrap_or_else(|_| "index".into());
    let mut engine = Engine::open(Path::new(&index), &ModelSource::default(), Needs::Meaning)?;
    let files: Vec<(&str, Vec<JudgedQuery>)> = FILES
        .iter()
        .map(|f| Ok((*f, eval::load_queries(Path::new(f))?)))
        .collect::<anyhow::Result<_>>()?;
    for mode in [Mode::Hybrid, Mode::Vector] {
        for (file, queries) in &files {
            println!(
                "{mode:?} {file} no feedback: {}",
                ndcg(&engine, queries, mode, false)?
            );
        }
        for needs_only in [true, false] {
            for papers in [2, 3, 5] {
                for weight in [0.25f32, 0.5, 0.75, 1.0] {
                    engine.set_feedback_params(FeedbackParams {
                        needs_only,
                        papers,
                        weight,
                        ..FeedbackParams::default()
                    });
                    for (file, queries) in &files {
                        println!(
                            "{mode:?} {file} needs only {needs_only} top {papers} weight {weight:.2}: {}",
                            ndcg(&engine, queries, mode, true)?
                        );
                    }
                }
            }
        }
        engine.set_feedback_params(FeedbackParams::default());
    }
    Ok(())
}
