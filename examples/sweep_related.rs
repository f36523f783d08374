//! `related` precision@10 for several fusions, on the judged related sets (tests/related_judged.tsv,
//! tune half) and on seeds from the judged queries (tests/queries.tsv).
//! INDEX=index MODEL=e5|static cargo run --release --example sweep_related

use std::path::Path;

use paperscope::eval;
use paperscope::hybrid::Fusion;
use paperscope::{Engine, ModelSource, Needs};

fn main() -> anyhow::Result<()> {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let model = match var("MODEL", "default").as_str() {
        "e5" => ModelSource::Shipped(paperscope::embed::ModelKind::E5Small),
        "static" => ModelSource::Shipped(paperscope::embed::ModelKind::Static),
        _ => ModelSource::default(),
    };
    let engine = Engine::open(Path::new(&var("INDEX", "index")), &model, Needs::Meaning)?;
    let sets = eval::load_queries(Path::new("tests/related_judged.tsv"))?;
    let tune: Vec<_> = sets.into_iter().filter(|s| s.group == "tune").collect();
    let from_sets = eval::cases_from_sets(&tune);
    let from_queries =
        eval::cases_from_queries(&eval::load_queries(Path::new("tests/queries.tsv"))?);
    for alpha in [0.0f32, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0] {
        let fusion = Some(Fusion::Convex { alpha });
        let sets = eval::evaluate_related(&engine, &from_sets, fusion)?;
        let queries = eval::evaluate_related(&engine, &from_queries, fusion)?;
        println!(
            "convex {alpha:.1}: related sets (tune) P@10 {:.3}   query seeds P@10 {:.3}",
            sets.precision10, queries.precision10
        );
    }
    Ok(())
}
