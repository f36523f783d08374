//! Measures the ways of making a paper's vector (embed::Recipe) on the judged queries, and the
//! cross-lingual known-item test, for the model in `data/model` or the directory given.
//!
//! cargo run --release --example sweep_vector_recipes [MODEL_DIR]

use std::path::PathBuf;

use paperscope::digest;
use paperscope::embed::{Embedder, Recipe};
use paperscope::eval;
use paperscope::vectors::{VectorIndex, VectorParams};

fn main() -> anyhow::Result<()> {
    let model_dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/model"));
    let embedder = Embedder::load(&model_dir)?;
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let files = digest::digest_files(&[repo.join("data/digests")])?;
    let papers = digest::load(&files, || {})?.papers;
    let queries = eval::load_queries(&repo.join("tests/queries.tsv"))?;
    println!(
        "model {} ({}), {} papers",
        embedder.model_id(),
        model_dir.display(),
        papers.len()
    );
    // No cache: every text is embedded afresh by the model measured.
    let no_cache = paperscope::embed::cache::EmbeddingCache::open(
        &repo.join("target/no-cache.vecache"),
        embedder.cache_key(),
        embedder.dims(),
    )?;
    let cross = eval::crosslingual(
        &embedder,
        &no_cache,
        &papers,
        1,
        &paperscope::progress::Quiet,
    );
    println!("crosslingual: {}", serde_json::to_string(&cross)?);
    for recipe in Recipe::ALL {
        let started = std::time::Instant::now();
        let vectors = embedder.paper_vectors(&papers, recipe, |_| {});
        let seconds = started.elapsed().as_secs_f64();
        let index = VectorIndex::build(embedder.dims(), vectors, VectorParams::default(), || {});
        let report = eval::evaluate(&format!("{recipe:?}"), &queries, |q| {
            let hits = index.search(&embedder.embed_query(q), 100, None);
            Ok(hits
                .iter()
                .map(|(n, _)| papers[n.index()].arxiv_id.clone())
                .collect())
        })?;
        let groups: Vec<String> = report
            .by_group
            .iter()
            .map(|(g, m)| format!("{g} {:.3}", m.ndcg10))
            .collect();
        println!(
            "{:<20} nDCG@10 {:.3}  MRR@10 {:.3}  R@100 {:.3}  [{}]  embed {:.1}s",
            report.method,
            report.overall.ndcg10,
            report.overall.mrr10,
            report.overall.recall100,
            groups.join(", "),
            seconds
        );
    }
    Ok(())
}
