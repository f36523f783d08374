//! Open an index, search it, print the results: the smallest program on paperscope's library.
//!
//! cargo run --release --example search -- "hallucination benchmark"
//! (uses the index in index/; `cargo run --release -- index` builds it)

use std::path::Path;

use paperscope::{Engine, ModelSource, Needs, SearchRequest};

fn main() -> anyhow::Result<()> {
    let words: Vec<String> = std::env::args().skip(1).collect();
    let request = SearchRequest::new(words.join(" "));
    request.check()?;
    let engine = Engine::open(
        Path::new("index"),
        &ModelSource::default(),
        Needs::WordsAndMeaning,
    )?;
    let response = engine.search(&request)?;
    for result in &response.results {
        println!(
            "{:>2}. {}  {}\n    {}",
            result.rank, result.arxiv_id, result.title_en, result.title_zh
        );
    }
    println!("{} matching papers ({})", response.total, response.mode);
    Ok(())
}
