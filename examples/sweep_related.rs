//! `related` precision@10 for several scorings, on the tune half of the judged related sets
//! (tests/related_judged.tsv, tests/related_judged_e5.tsv) and on seeds from the judged queries
//! (tests/queries.tsv): today's fusion (BM25 more-like-this + vectors, `Fusion::RELATED`), and
//! the z-score fusion of word vectors and e5 over a grid of its settings; then reading lists
//! (two and three seeds of a query) scored as a whole against the mean of each seed's scores.
//! Never reads a held-out half.
//! INDEX=index cargo run --release --example sweep_related

use std::path::Path;

use paperscope::eval::{self, RelatedCase};
use paperscope::hybrid::Fusion;
use paperscope::search::{RelatedParams, WordParams};
use paperscope::{Engine, ModelSource, Needs};

fn tune(path: &str) -> anyhow::Result<Vec<RelatedCase>> {
    if !Path::new(path).exists() {
        return Ok(Vec::new());
    }
    let sets = eval::load_queries(Path::new(path))?;
    let tune: Vec<_> = sets.into_iter().filter(|s| s.group == "tune").collect();
    Ok(eval::cases_from_sets(&tune))
}

fn main() -> anyhow::Result<()> {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let mut engine = Engine::open(
        Path::new(&var("INDEX", "index")),
        &ModelSource::default(),
        Needs::Meaning,
    )?;
    let sets = tune("tests/related_judged.tsv")?;
    let sets_e5 = tune("tests/related_judged_e5.tsv")?;
    let queries = eval::load_queries(Path::new("tests/queries.tsv"))?;
    let from_queries = eval::cases_from_queries(&queries);
    let score = |engine: &Engine, fusion: Option<Fusion>| -> anyhow::Result<String> {
        let a = eval::evaluate_related(engine, &sets, fusion)?.precision10;
        let b = eval::evaluate_related(engine, &sets_e5, fusion)?.precision10;
        let c = eval::evaluate_related(engine, &from_queries, fusion)?.precision10;
        Ok(format!(
            "sets {a:.3}  e5-pooled sets {b:.3}  query seeds {c:.3}"
        ))
    };
    println!(
        "today (convex 0.6)            {}",
        score(&engine, Some(Fusion::RELATED))?
    );
    // GRID=small: the neighbourhood of the default only; GRID=none: reading lists only.
    let small = var("GRID", "") == "small";
    let grid = if var("GRID", "") == "none" {
        &[][..]
    } else {
        &[true, false][..]
    };
    for &chinese in grid {
        for (min_df, max_df) in [(2, 0.1), (5, 0.1), (2, 0.05), (2, 0.2), (2, 0.5)] {
            for meaning in [0.5f32, 0.75, 1.0, 1.5] {
                if small && (!chinese || max_df != 0.1) {
                    continue;
                }
                let params = RelatedParams {
                    words: WordParams {
                        min_df,
                        max_df,
                        chinese,
                    },
                    meaning,
                    ..RelatedParams::default()
                };
                engine.set_related_params(params);
                println!(
                    "zh {chinese:5} df {min_df}..{max_df:.2} meaning {meaning:.2}  {}",
                    score(&engine, None)?
                );
            }
        }
    }
    engine.set_related_params(RelatedParams::default());
    for size in [2, 3] {
        let lists = eval::list_cases_from_queries(&queries, size);
        for whole_list in [true, false] {
            engine.set_related_params(RelatedParams {
                whole_list,
                ..RelatedParams::default()
            });
            let p = eval::evaluate_related(&engine, &lists, None)?.precision10;
            println!(
                "reading lists of {size} ({} lists), {}: P@10 {p:.3}",
                lists.len(),
                if whole_list {
                    "as a whole"
                } else {
                    "mean of seeds"
                }
            );
        }
        let today = eval::evaluate_related(&engine, &lists, Some(Fusion::RELATED))?.precision10;
        println!("reading lists of {size}, today: P@10 {today:.3}");
        let merged = merged_seed_lists(&engine, &lists)?;
        println!("reading lists of {size}, each seed's own list merged by RRF: P@10 {merged:.3}");
    }
    Ok(())
}

/// P@10 of a reading list answered as separate lists, one `related` per seed (100 deep),
/// merged by reciprocal rank (k = 60), the seeds left out: the averaging of each seed's list
/// that scoring the list as a whole is measured against.
fn merged_seed_lists(engine: &Engine, lists: &[RelatedCase]) -> anyhow::Result<f64> {
    let mut total = 0.0;
    for case in lists {
        let mut score: std::collections::HashMap<String, f64> = Default::default();
        for seed in &case.seeds {
            let request = paperscope::search::RelatedRequest::ids([seed]).limit(100);
            let response = engine.related(&request)?;
            for (rank, result) in response.results.iter().enumerate() {
                if !case.seeds.contains(&result.arxiv_id) {
                    *score.entry(result.arxiv_id.clone()).or_default() +=
                        1.0 / (61.0 + rank as f64);
                }
            }
        }
        let mut ranked: Vec<(String, f64)> = score.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let hits = ranked
            .iter()
            .take(10)
            .filter(|(id, _)| {
                case.relevant
                    .contains_key(id.split('v').next().unwrap_or(id))
            })
            .count();
        total += hits as f64 / 10.0;
    }
    Ok(total / lists.len().max(1) as f64)
}
