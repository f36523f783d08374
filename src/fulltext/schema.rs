//! The schema of the full-text index, and what a paper puts into its combined ranking field.

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

use crate::analyze::{CHINESE, ENGLISH, MIXED};
use crate::paper::Paper;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    pub number: Field,
    pub arxiv_id: Field,
    pub abstract_en: Field,
    pub abstract_zh: Field,
    pub all: Field,
    pub category: Field,
    pub month: Field,
    pub paper: Field,
}

fn text_field(tokenizer: &str) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    )
}

/// The schema. `title_en` .. `abstract_zh` hold nothing since nothing queried them (indexing
/// them was ~40% of the stage's CPU); they stay declared so that field numbers, and so indexes
/// written before (where they hold text), keep working with this code and the other way round.
pub(crate) fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let number = b.add_u64_field("number", INDEXED | FAST | STORED);
    let arxiv_id = b.add_text_field("arxiv_id", STRING | STORED);
    for (name, analyzer) in [
        ("title_en", ENGLISH),
        ("title_zh", CHINESE),
        ("summary_zh", CHINESE),
    ] {
        b.add_text_field(name, text_field(analyzer));
    }
    let fields = Fields {
        number,
        arxiv_id,
        abstract_en: b.add_text_field("abstract_en", text_field(ENGLISH)),
        abstract_zh: b.add_text_field("abstract_zh", text_field(CHINESE)),
        all: b.add_text_field("all", text_field(MIXED)),
        category: b.add_text_field("category", STRING),
        month: b.add_u64_field("month", INDEXED | FAST),
        paper: b.add_text_field("paper", STORED),
    };
    (b.build(), fields)
}

/// The values of the combined ranking field: titles twice (they say what the paper is about in
/// few words), then summary and abstracts. Separate values keep phrases from spanning two of them.
pub(crate) fn combined_texts(p: &Paper) -> Vec<&str> {
    let mut texts = vec![
        p.title_en.as_str(),
        p.title_en.as_str(),
        p.title_zh.as_str(),
        p.title_zh.as_str(),
        p.summary_zh.as_str(),
    ];
    texts.extend(p.summary_en.as_deref());
    texts.extend([p.abstract_zh.as_str(), p.abstract_en.as_str()]);
    texts.retain(|t| !t.is_empty());
    texts
}
