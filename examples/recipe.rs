//! Compares what a paper's vector is (English side, Chinese side, mean of both) on the judged
//! queries, vector-only and fused with BM25 (the figures in BENCHMARKS.md, "Semantic search
//! with e5"). Every side's vector comes from the index's embedding cache, so nothing is
//! re-embedded: `cargo run --release --example recipe` with INDEX (default index/) built with
//! the default model.

use std::path::Path;

use paperscope::analyze::strip_query_stop_words;
use paperscope::embed::cache::cached_or_embedded;
use paperscope::embed::{Recipe, dot, mean_direction};
use paperscope::eval::{self, JudgedQuery};
use paperscope::hybrid::{Fusion, fuse};
use paperscope::paper::PaperNumber;
use paperscope::query::SearchQuery;
use paperscope::search::{Mode, SearchRequest};
use paperscope::{Engine, ModelSource, Needs};

const QUERY_FILES: [&str; 3] = [
    "tests/queries.tsv",
    "tests/queries_heldout.tsv",
    "tests/queries_paraphrase.tsv",
];
const DEPTH: usize = 100;

fn main() -> anyhow::Result<()> {
    let index = std::env::var("INDEX").unwrap_or_else(|_| "index".into());
    let engine = Engine::open(
        Path::new(&index),
        &ModelSource::default(),
        Needs::WordsAndMeaning,
    )?;
    let embedder = &engine
        .meaning()
        .ok_or_else(|| anyhow::anyhow!("{index} has no vectors"))?
        .embedder;
    let papers = engine.papers()?;
    let ids: Vec<String> = papers.iter().map(|p| p.arxiv_id.clone()).collect();
    let cache = engine.store().embedding_cache(embedder)?;
    let texts: Vec<String> = papers.iter().flat_map(|p| Recipe::Sides.texts(p)).collect();
    let sides = cached_or_embedded(embedder, &cache, &texts, |_| {});
    let english: Vec<&[f32]> = sides.iter().step_by(2).map(|v| &v[..]).collect();
    let chinese: Vec<&[f32]> = sides.iter().skip(1).step_by(2).map(|v| &v[..]).collect();
    let both: Vec<Vec<f32>> = english
        .iter()
        .zip(&chinese)
        .map(|(e, c)| mean_direction(&[e, c]))
        .collect();
    let both: Vec<&[f32]> = both.iter().map(|v| &v[..]).collect();
    let unit_views: Vec<[Vec<f32>; 2]> = (0..english.len())
        .map(|i| {
            [
                mean_direction(&[english[i], both[i]]),
                mean_direction(&[chinese[i], both[i]]),
            ]
        })
        .collect();
    let recipes: [(&str, Scorer); 7] = [
        ("english side", &|q, _, i| dot(q, english[i])),
        ("chinese side", &|q, _, i| dot(q, chinese[i])),
        ("mean of both", &|q, _, i| dot(q, both[i])),
        ("max of sides", &|q, _, i| {
            dot(q, english[i]).max(dot(q, chinese[i]))
        }),
        ("query's script side", &|q, han, i| {
            dot(q, if han { chinese[i] } else { english[i] })
        }),
        ("script side + mean", &|q, han, i| {
            dot(q, if han { chinese[i] } else { english[i] }) + dot(q, both[i])
        }),
        ("unit(script side + mean)", &|q, han, i| {
            dot(q, &unit_views[i][usize::from(han)])
        }),
    ];
    // RERANK=N: the vector side is the mean-of-both top N rescored by the recipe (no index of
    // its own per recipe).
    let rerank: Option<usize> = std::env::var("RERANK").ok().and_then(|n| n.parse().ok());
    for file in QUERY_FILES {
        let queries = eval::load_queries(Path::new(file))?;
        println!("{file} ({} queries)", queries.len());
        let lists = bm25_lists(&engine, &queries, embedder)?;
        for (name, score) in &recipes {
            for alpha in [None, Some(0.3), Some(0.35), Some(0.4), Some(0.5)] {
                let method =
                    alpha.map_or(format!("{name} vector"), |a| format!("{name} convex {a}"));
                // `evaluate` asks the queries in order: the n-th call is the n-th list.
                let mut next = lists.iter().cycle();
                let report = eval::evaluate(&method, &queries, |_| {
                    let Some((bm25, qv, han)) = next.next() else {
                        return Ok(Vec::new());
                    };
                    let cosine = |p: PaperNumber| score(qv, *han, p.index());
                    let vector = match rerank {
                        None => nearest(&cosine, ids.len(), DEPTH),
                        Some(n) => rescored(
                            nearest(&|p| dot(qv, both[p.index()]), ids.len(), n),
                            &cosine,
                        ),
                    };
                    let ranked: Vec<PaperNumber> = match alpha {
                        None => vector.iter().map(|&(p, _)| p).collect(),
                        Some(alpha) => {
                            fuse(bm25, &vector, |p| Some(cosine(p)), Fusion::Convex { alpha })
                                .iter()
                                .map(|f| f.number)
                                .collect()
                        }
                    };
                    Ok(ranked.iter().map(|p| ids[p.index()].clone()).collect())
                })?;
                let script = |han: bool| {
                    let of: Vec<f64> = report
                        .queries
                        .iter()
                        .zip(&lists)
                        .filter(|(_, l)| l.2 == han)
                        .map(|(o, _)| o.metrics.ndcg10)
                        .collect();
                    of.iter().sum::<f64>() / of.len().max(1) as f64
                };
                println!(
                    "  {:<34} nDCG@10 {:.3}  Latin queries {:.3}  Han queries {:.3}",
                    report.method,
                    report.overall.ndcg10,
                    script(false),
                    script(true)
                );
            }
        }
    }
    Ok(())
}

/// A query's BM25 top list, its vector, and whether it has Han characters.
type QueryLists = (Vec<(PaperNumber, f32)>, Vec<f32>, bool);

/// Each query's BM25 top list and its query vector, computed once for every recipe.
fn bm25_lists(
    engine: &Engine,
    queries: &[JudgedQuery],
    embedder: &paperscope::embed::Embedder,
) -> anyhow::Result<Vec<QueryLists>> {
    queries
        .iter()
        .map(|q| {
            let query = SearchQuery::parse(&q.query)?;
            let request = SearchRequest::new(q.query.as_str())
                .mode(Mode::Bm25)
                .limit(DEPTH);
            let bm25 = engine
                .rank(&request)?
                .ranked
                .iter()
                .map(|r| (r.number, r.score))
                .collect();
            let qv = embedder.embed_query(&strip_query_stop_words(&query.positive_text()));
            let han = q.query.chars().any(paperscope::text::is_han);
            Ok((bm25, qv, han))
        })
        .collect()
}

/// A paper's score for a query: (query vector, query has Han characters, paper index).
type Scorer<'a> = &'a dyn Fn(&[f32], bool, usize) -> f32;

/// `candidates` scored again by `cosine`, best first, the first `DEPTH`.
fn rescored(
    candidates: Vec<(PaperNumber, f32)>,
    cosine: &dyn Fn(PaperNumber) -> f32,
) -> Vec<(PaperNumber, f32)> {
    let mut scored: Vec<(PaperNumber, f32)> = candidates
        .into_iter()
        .map(|(p, _)| (p, cosine(p)))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.truncate(DEPTH);
    scored
}

/// The `keep` best of `papers` papers by `cosine`, exactly.
fn nearest(
    cosine: &dyn Fn(PaperNumber) -> f32,
    papers: usize,
    keep: usize,
) -> Vec<(PaperNumber, f32)> {
    let mut scored: Vec<(PaperNumber, f32)> = (0..papers)
        .map(|i| {
            (
                PaperNumber::from_index(i),
                cosine(PaperNumber::from_index(i)),
            )
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.truncate(keep);
    scored
}
