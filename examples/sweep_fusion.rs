//! Compares fusion methods on the judged queries (the figures in BENCHMARKS.md).
//! cargo run --release --example sweep_fusion  (uses the index in index/)

use std::path::Path;

use paperscope::embed::dot;
use paperscope::eval;
use paperscope::hybrid::{Fusion, fuse};
use paperscope::paper::PaperNumber;
use paperscope::query::SearchQuery;
use paperscope::search::{Mode, SearchRequest};
use paperscope::{Engine, ModelSource, Needs};

fn main() -> anyhow::Result<()> {
    // INDEX (default index/), QUERIES (default tests/queries.tsv), MODEL (e5 or static).
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let model = match var("MODEL", "default").as_str() {
        "e5" => ModelSource::Shipped(paperscope::embed::ModelKind::E5Small),
        "static" => ModelSource::Shipped(paperscope::embed::ModelKind::Static),
        _ => ModelSource::default(),
    };
    let engine = Engine::open(Path::new(&var("INDEX", "index")), &model, Needs::Meaning)?;
    let meaning = engine
        .meaning()
        .ok_or_else(|| anyhow::anyhow!("no vectors"))?;
    let (embedder, vectors) = (&meaning.embedder, &meaning.vectors);
    let ids: Vec<String> = engine.papers()?.into_iter().map(|p| p.arxiv_id).collect();
    let queries = eval::load_queries(Path::new(&var("QUERIES", "tests/queries.tsv")))?;
    let depth: usize = std::env::var("DEPTH")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(100);
    let mut fusions = vec![Fusion::Rrf { k: 60.0 }, Fusion::Rrf { k: 10.0 }];
    for alpha in [0.0, 0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 1.0] {
        fusions.push(Fusion::Convex { alpha });
    }
    let mut configs = fusions;
    for max_alpha in [0.4f32, 0.5, 0.6, 0.7] {
        for (low, high) in [
            (0.3f32, 0.7f32),
            (0.4, 0.8),
            (0.75, 0.85),
            (0.78, 0.86),
            (0.8, 0.88),
            (0.82, 0.9),
        ] {
            let f = Fusion::Adaptive {
                max_alpha,
                low,
                high,
            };
            configs.push(f);
        }
    }
    for fusion in configs {
        let report = eval::evaluate(&format!("{fusion:?}"), &queries, |q| {
            let query = SearchQuery::parse(q)?;
            let side = |mode| -> paperscope::Result<Vec<(PaperNumber, f32)>> {
                let request = SearchRequest::new(q).mode(mode).limit(depth);
                Ok(engine
                    .rank(&request)?
                    .ranked
                    .iter()
                    .map(|r| (r.number, r.score))
                    .collect())
            };
            let (bm25, vector) = (side(Mode::Bm25)?, side(Mode::Vector)?);
            let qv = embedder.embed_query(&paperscope::analyze::strip_query_stop_words(
                &query.positive_text(),
            ));
            let fused = fuse(
                &bm25,
                &vector,
                |p| vectors.vector_of(p).map(|v| dot(&qv, v)),
                fusion,
            );
            Ok(fused
                .iter()
                .map(|f| ids[f.number.index()].clone())
                .collect())
        })?;
        let g = |name: &str| report.by_group.get(name).map_or(0.0, |m| m.ndcg10);
        println!(
            "{:<28} nDCG@10 {:.3}  en {:.3}  zh {:.3}  q {:.3}  MRR {:.3}  R@100 {:.3}",
            report.method,
            report.overall.ndcg10,
            g("en"),
            g("zh"),
            g("q"),
            report.overall.mrr10,
            report.overall.recall100
        );
    }
    Ok(())
}
