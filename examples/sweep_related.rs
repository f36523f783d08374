//! A proxy check of `related`: papers judged highly relevant to the same query of
//! tests/queries.tsv are taken as related to each other; for each of the first three such
//! papers of a query, how many of `related`'s top 10 are others of the set (precision@10).
//! cargo run --release --example sweep_related  (uses the index in index/)

use std::path::Path;

use paperscope::eval;
use paperscope::hybrid::Fusion;
use paperscope::query::Filters;
use paperscope::search::RelatedTo;
use paperscope::{Engine, ModelSource, Needs};

fn main() -> anyhow::Result<()> {
    let mut engine = Engine::open(Path::new("index"), &ModelSource::default(), Needs::Meaning)?;
    let queries = eval::load_queries(Path::new("tests/queries.tsv"))?;
    let fusions = [
        Fusion::Convex { alpha: 0.0 },
        Fusion::Convex { alpha: 0.3 },
        Fusion::Convex { alpha: 0.5 },
        Fusion::Convex { alpha: 0.7 },
        Fusion::Convex { alpha: 0.8 },
        Fusion::Convex { alpha: 0.9 },
        Fusion::Convex { alpha: 1.0 },
        Fusion::Rrf { k: 60.0 },
        Fusion::default(),
        paperscope::hybrid::RELATED_FUSION,
    ];
    for fusion in fusions {
        engine.fusion = fusion;
        let (mut hits, mut total) = (0usize, 0usize);
        for q in queries.iter().filter(|q| q.qid.starts_with("en")) {
            let mut set: Vec<&String> = q
                .relevant
                .iter()
                .filter(|&(_, &g)| g == 2)
                .map(|(id, _)| id)
                .collect();
            set.sort();
            for seed in set.iter().take(3) {
                let response = engine.related(
                    &RelatedTo::Ids(vec![(*seed).clone()]),
                    &Filters::default(),
                    10,
                )?;
                hits += response
                    .results
                    .iter()
                    .filter(|r| set.contains(&&r.arxiv_id))
                    .count();
                total += 10;
            }
        }
        println!("{fusion:?}: precision@10 {:.3}", hits as f64 / total as f64);
    }
    Ok(())
}
