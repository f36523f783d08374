//! Open an index, search it, print the results: the smallest program on paperscope's library.
//!
//! cargo run --release --example search -- "hallucination benchmark"
//! (uses the index in index/; `cargo run --release -- index` builds it)

use std::path::Path;

use paperscope::query::{Filters, SearchQuery};
use paperscope::search::Mode;
use paperscope::{Engine, ModelSource, Needs};

fn main() -> anyhow::Result<()> {
    let words: Vec<String> = std::env::args().skip(1).collect();
    let query = SearchQuery::parse(&words.join(" "))?;
    let engine = Engine::open(
        Path::new("index"),
        &ModelSource::default(),
        Needs::WordsAndMeaning,
    )?;
    let response = engine.search(&query, &Filters::default(), 10, Mode::Hybrid)?;
    for result in &response.results {
        println!(
            "{:>2}. {}  {}\n    {}",
            result.rank, result.arxiv_id, result.title_en, result.title_zh
        );
    }
    println!("{} matching papers ({})", response.total, response.mode);
    Ok(())
}
