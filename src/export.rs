//! Exporting the index for an existing distributed engine (Qdrant, Milvus, OpenSearch) or any
//! other loader (JSON lines): every paper with all its fields, its vector exactly as the index
//! holds it (f32, unit length, so dot product = cosine), and what the engine needs to load and
//! search them as paperscope does — the collection schema or index mapping with English and
//! Chinese analysis, the vector index parameters, and the fusion settings.
//!
//! ```text
//! out/
//!   export.json          what was exported: generation, model, metric, fusion, files
//!   papers.jsonl         jsonl:      {number, ...paper, month, yyyymm, categories, text, vector,
//!                                     vector_latin, vector_han}
//!   collection.json      qdrant:     PUT /collections/<name> body, and its payload indexes
//!   points.jsonl         qdrant:     {id, vector, payload}
//!   schema.json          milvus:     fields (BM25 function over a jieba-analysed text), indexes
//!   rows.jsonl           milvus:     one row per paper
//!   index.json           opensearch: settings + mapping (knn_vector HNSW, english, smartcn)
//!   bulk.ndjson          opensearch: the _bulk body
//!   search_pipeline.json opensearch: min-max normalisation and paperscope's weights
//!   hybrid_query.json    opensearch: a hybrid query in the shape paperscope searches
//!   queries.jsonl        when queries are given: {qid, query, vector, field} (paperscope's query
//!                        vectors, and the vector field each searches)
//! ```
//!
//! A query searches the paper vectors, or where the index keeps views per query script
//! ([`crate::vectors::views`]), the view of its script (`vector_latin`, `vector_han`, by inner
//! product): Qdrant gets named vectors, Milvus and OpenSearch more vector fields.
//!
//! An incremental export (`since_generation`) holds only the papers added or changed after that
//! generation; paper numbers never change, so loading it as an upsert brings the engine up to
//! date (papers are never removed from an index).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};

use crate::atomic::{write_atomically, write_streaming_atomically};
use crate::error::{Error, Result};
use crate::fulltext::combined_texts;
use crate::hybrid::{Fusion, as_written};
use crate::paper::{Paper, PaperNumber};
use crate::progress::{Progress, stage};
use crate::query::SearchQuery;
use crate::search::{Engine, FUSION_DEPTH, Meaning};
use crate::store::ModelInfo;
use crate::vectors::VectorParams;
use crate::vectors::views::Script;

/// The collection / index name written into the loaders' files.
pub const COLLECTION: &str = "paperscope";

/// Which engine an export is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One JSON object per paper (fields, text, vector), for any loader.
    Jsonl,
    /// Qdrant: collection config, payload indexes, points.
    Qdrant,
    /// Milvus: collection schema with a BM25 function over jieba-analysed text, rows.
    Milvus,
    /// OpenSearch: index mapping, bulk NDJSON, hybrid search pipeline.
    Opensearch,
}

impl ExportFormat {
    /// Every format, in the order they are listed to users.
    pub const ALL: [ExportFormat; 4] = [
        ExportFormat::Jsonl,
        ExportFormat::Qdrant,
        ExportFormat::Milvus,
        ExportFormat::Opensearch,
    ];

    /// The format's name as users write it.
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Qdrant => "qdrant",
            ExportFormat::Milvus => "milvus",
            ExportFormat::Opensearch => "opensearch",
        }
    }
}

impl std::str::FromStr for ExportFormat {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self> {
        ExportFormat::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(value.trim()))
            .ok_or_else(|| {
                Error::invalid(
                    "format",
                    format!("unknown value {value:?} (jsonl, qdrant, milvus, opensearch)"),
                )
            })
    }
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The engine the files are for.
    pub format: ExportFormat,
    /// Only papers added or changed after this generation (all papers when `None`).
    pub since_generation: Option<u64>,
    /// Queries (id, text) whose vectors are written to `queries.jsonl`, so that the engine can
    /// be searched with exactly the vectors paperscope searches with.
    pub queries: Vec<(String, String)>,
}

/// What an export wrote. In JSON as it is.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    /// The format.
    pub format: ExportFormat,
    /// The directory written.
    pub out: PathBuf,
    /// The index generation exported.
    pub generation: u64,
    /// The generation the export starts after, for an incremental export.
    pub since_generation: Option<u64>,
    /// Papers exported.
    pub papers: usize,
    /// Papers in the index.
    pub papers_in_index: usize,
    /// Query vectors written.
    pub queries: usize,
    /// Files written, relative to `out`.
    pub files: Vec<String>,
    /// What the reader should know, each one line (e.g. an index without a change record).
    pub notes: Vec<String>,
    /// Wall time.
    pub seconds: f64,
}

/// One paper as every format carries it: all the record's fields, the fields an engine filters
/// on, the text its BM25 indexes (paperscope's combined field: titles twice, summary, both
/// abstracts) and the vector.
#[derive(Serialize)]
struct Record<'a> {
    number: PaperNumber,
    #[serde(flatten)]
    paper: &'a Paper,
    month: Option<String>,
    yyyymm: Option<u32>,
    categories: Vec<String>,
    text: String,
    changed_in: u64,
    #[serde(skip)]
    vector: &'a [f32],
    /// The paper's views per query script (Latin, Han), when the index keeps them.
    #[serde(skip)]
    views: Option<[Vec<f32>; 2]>,
}

/// Everything the files of one export are made from.
struct Export<'a> {
    records: Vec<Record<'a>>,
    model: &'a ModelInfo,
    params: VectorParams,
    fusion: Fusion,
    /// Whether papers carry views per query script.
    has_views: bool,
}

/// Writes the papers of `engine`'s index (all, or those changed after
/// `options.since_generation`), their vectors and the files `options.format` loads with, into
/// `out` (created if needed; files of the same names are replaced, each atomically).
pub fn export(
    engine: &Engine,
    out: &Path,
    options: &ExportOptions,
    progress: &dyn Progress,
) -> Result<ExportReport> {
    let started = Instant::now();
    let store = engine.store();
    let generation = store.manifest.generation;
    if let Some(since) = options.since_generation.filter(|&n| n > generation) {
        return Err(Error::invalid(
            "since_generation",
            format!("{since} is after the index's generation {generation} (give 0..={generation})"),
        ));
    }
    store.require_all_vectors("an export")?;
    let meaning = engine.meaning().ok_or_else(|| {
        Error::invalid(
            "index",
            format!(
                "an export needs the vector index, which is not loaded: {}",
                engine.meaning_error().unwrap_or("not asked for")
            ),
        )
    })?;
    let vectors = &meaning.vectors;
    prepare_out(out)?;
    let mut notes = Vec::new();
    let stamps = match store.changed_in()? {
        Some(stamps) => stamps,
        None => {
            if options.since_generation.is_some() {
                notes.push(
                    "the index does not record when papers changed (written by an older \
                     paperscope): every paper is exported; the next `index` run records it"
                        .to_string(),
                );
            }
            vec![generation; store.manifest.paper_count]
        }
    };
    let papers = store.papers()?;
    let records = stage(progress, "exporting", papers.len(), || {
        select(
            &papers,
            &stamps,
            meaning,
            options.since_generation,
            progress,
        )
    })?;
    let export = Export {
        records,
        model: &store.manifest.model,
        params: vectors.params(),
        fusion: engine.fusion(),
        has_views: meaning.views.is_some(),
    };
    let mut files = match options.format {
        ExportFormat::Jsonl => write_jsonl(out, &export)?,
        ExportFormat::Qdrant => write_qdrant(out, &export)?,
        ExportFormat::Milvus => write_milvus(out, &export)?,
        ExportFormat::Opensearch => write_opensearch(out, &export)?,
    };
    if !options.queries.is_empty() {
        files.push(write_queries(engine, out, &options.queries)?);
    }
    files.push("export.json".into());
    let report = ExportReport {
        format: options.format,
        out: out.to_path_buf(),
        generation,
        since_generation: options.since_generation,
        papers: export.records.len(),
        papers_in_index: papers.len(),
        queries: options.queries.len(),
        files,
        notes,
        seconds: started.elapsed().as_secs_f64(),
    };
    write_json(&out.join("export.json"), &describe(&report, &export))?;
    Ok(report)
}

/// Creates `out` when missing; refuses a path that is something other than a directory.
fn prepare_out(out: &Path) -> Result<()> {
    if out.exists() && !out.is_dir() {
        return Err(Error::invalid(
            "out",
            format!("{} exists and is not a directory", out.display()),
        ));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::write(out, e))
}

/// The records of the papers changed after `since` (all when `None`), in number order.
fn select<'a>(
    papers: &'a [Paper],
    stamps: &[u64],
    meaning: &'a Meaning,
    since: Option<u64>,
    progress: &dyn Progress,
) -> Result<Vec<Record<'a>>> {
    let vectors = &meaning.vectors;
    let mut records = Vec::new();
    for (i, paper) in papers.iter().enumerate() {
        progress.inc();
        let changed_in = stamps.get(i).copied().unwrap_or_default();
        if since.is_some_and(|n| changed_in <= n) {
            continue;
        }
        let number = PaperNumber::from_index(i);
        let vector = vectors
            .vector_of(number)
            .ok_or_else(|| Error::IndexCorrupt {
                path: PathBuf::from("vectors"),
                reason: format!("paper {} has no vector", paper.arxiv_id),
            })?;
        let views = meaning
            .views
            .as_ref()
            .map(|views| Script::ALL.map(|script| views.view(script, number)));
        let views = match views {
            None => None,
            Some([Some(latin), Some(han)]) => Some([latin, han]),
            Some(_) => {
                return Err(Error::IndexCorrupt {
                    path: PathBuf::from("vectors"),
                    reason: format!("paper {} has no views", paper.arxiv_id),
                });
            }
        };
        let year_month = paper.year_month();
        records.push(Record {
            number,
            paper,
            month: year_month.map(|(y, m)| format!("{y}-{m:02}")),
            yyyymm: year_month.map(|(y, m)| y * 100 + m),
            categories: paper.categories(),
            text: combined_texts(paper).join("\n"),
            changed_in,
            vector,
            views,
        });
    }
    Ok(records)
}

/// The record with its vector, as a JSON object (the shape `papers.jsonl` and payloads use).
fn record_json(record: &Record<'_>, with_vector: bool) -> Result<Value> {
    let mut value = serde_json::to_value(record).map_err(|e| Error::IndexCorrupt {
        path: PathBuf::from(&record.paper.source_file),
        reason: format!("cannot serialise paper {}: {e}", record.paper.arxiv_id),
    })?;
    if with_vector && let Value::Object(map) = &mut value {
        map.insert("vector".into(), json!(record.vector));
        for (script, view) in Script::ALL.iter().zip(record.views.iter().flatten()) {
            map.insert(script.field().into(), json!(view));
        }
    }
    Ok(value)
}

/// Writes `values` to `out/name`, one JSON document per line, streamed (100k papers' vectors
/// as JSON values at once would take gigabytes).
fn write_lines(
    out: &Path,
    name: &str,
    values: impl Iterator<Item = Result<Value>>,
) -> Result<String> {
    write_streaming_atomically(&out.join(name), |w: &mut dyn Write| {
        for value in values {
            serde_json::to_writer(&mut *w, &value.map_err(std::io::Error::other)?)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    })?;
    Ok(name.to_string())
}

fn write_json(path: &Path, value: &Value) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::IndexCorrupt {
        path: path.to_path_buf(),
        reason: format!("cannot serialise: {e}"),
    })?;
    write_atomically(path, &bytes)
}

fn write_jsonl(out: &Path, export: &Export<'_>) -> Result<Vec<String>> {
    let lines = export.records.iter().map(|r| record_json(r, true));
    Ok(vec![write_lines(out, "papers.jsonl", lines)?])
}

fn write_qdrant(out: &Path, export: &Export<'_>) -> Result<Vec<String>> {
    let paper = json!({"size": export.model.dims, "distance": "Cosine", "on_disk": true});
    // Views are searched by inner product (they are not unit vectors), by name.
    let vectors = if export.has_views {
        let view = json!({"size": export.model.dims, "distance": "Dot", "on_disk": true});
        json!({"vector": paper, "vector_latin": view, "vector_han": view})
    } else {
        paper
    };
    let collection = json!({
        "name": COLLECTION,
        "create": {
            "vectors": vectors,
            "hnsw_config": {"m": export.params.m, "ef_construct": export.params.ef_construction},
        },
        "search_params": {"hnsw_ef": export.params.search_ef(), "exact": false},
        "payload_indexes": [
            {"field_name": "arxiv_id", "field_schema": "keyword"},
            {"field_name": "categories", "field_schema": "keyword"},
            {"field_name": "yyyymm", "field_schema": "integer"},
            {"field_name": "text", "field_schema": {
                "type": "text", "tokenizer": "multilingual", "lowercase": true}},
        ],
    });
    write_json(&out.join("collection.json"), &collection)?;
    let lines = export.records.iter().map(|r| {
        let vector = match &r.views {
            Some([latin, han]) => {
                json!({"vector": r.vector, "vector_latin": latin, "vector_han": han})
            }
            None => json!(r.vector),
        };
        Ok(json!({"id": r.number, "vector": vector, "payload": record_json(r, false)?}))
    });
    let points = write_lines(out, "points.jsonl", lines)?;
    Ok(vec!["collection.json".into(), points])
}

/// Milvus' VARCHAR limit, in bytes.
const MILVUS_VARCHAR: usize = 65_535;

fn write_milvus(out: &Path, export: &Export<'_>) -> Result<Vec<String>> {
    let p = export.params;
    let mut schema = json!({
        "collection_name": COLLECTION,
        "fields": [
            {"name": "number", "data_type": "INT64", "is_primary": true},
            {"name": "arxiv_id", "data_type": "VARCHAR", "max_length": 64},
            {"name": "yyyymm", "data_type": "INT32"},
            {"name": "text", "data_type": "VARCHAR", "max_length": MILVUS_VARCHAR,
             "enable_analyzer": true,
             // jieba segments the Chinese and keeps the English words whole; lowercase as
             // paperscope's analyzers do.
             "analyzer_params": {"tokenizer": "jieba", "filter": ["lowercase"]}},
            {"name": "sparse", "data_type": "SPARSE_FLOAT_VECTOR"},
            {"name": "vector", "data_type": "FLOAT_VECTOR", "dim": export.model.dims},
            {"name": "paper", "data_type": "JSON"},
        ],
        "functions": [
            {"name": "text_bm25", "type": "BM25", "input_field_names": ["text"],
             "output_field_names": ["sparse"]},
        ],
        "indexes": [
            {"field_name": "vector", "index_type": "HNSW", "metric_type": "IP",
             "params": {"M": p.m, "efConstruction": p.ef_construction}},
            {"field_name": "sparse", "index_type": "SPARSE_INVERTED_INDEX",
             "metric_type": "BM25"},
        ],
        "search_params": {
            "vector": {"metric_type": "IP", "params": {"ef": p.search_ef()}},
            "sparse": {"metric_type": "BM25"},
        },
    });
    if export.has_views {
        for script in Script::ALL {
            let field = json!({"name": script.field(), "data_type": "FLOAT_VECTOR",
                               "dim": export.model.dims});
            let index = json!({"field_name": script.field(), "index_type": "HNSW",
                               "metric_type": "IP",
                               "params": {"M": p.m, "efConstruction": p.ef_construction}});
            for (list, item) in [("fields", field), ("indexes", index)] {
                if let Value::Array(items) = &mut schema[list] {
                    items.push(item);
                }
            }
        }
    }
    write_json(&out.join("schema.json"), &schema)?;
    let lines = export.records.iter().map(|r| {
        let mut row = json!({
            "number": r.number,
            "arxiv_id": r.paper.arxiv_id,
            "yyyymm": r.yyyymm.unwrap_or_default(),
            "text": cut_to_bytes(&r.text, MILVUS_VARCHAR),
            "vector": r.vector,
            "paper": record_json(r, false)?,
        });
        for (script, view) in Script::ALL.iter().zip(r.views.iter().flatten()) {
            row[script.field()] = json!(view);
        }
        Ok(row)
    });
    let rows = write_lines(out, "rows.jsonl", lines)?;
    Ok(vec!["schema.json".into(), rows])
}

/// `text` cut to at most `limit` bytes at a character boundary.
fn cut_to_bytes(text: &str, limit: usize) -> &str {
    let mut end = text.len().min(limit);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The fields BM25 searches in OpenSearch, weighted as paperscope's combined field (titles
/// twice).
const OPENSEARCH_FIELDS: [&str; 6] = [
    "title_en^2",
    "title_zh^2",
    "summary_zh",
    "summary_en",
    "abstract_zh",
    "abstract_en",
];

fn write_opensearch(out: &Path, export: &Export<'_>) -> Result<Vec<String>> {
    let p = export.params;
    let english = json!({"type": "text", "analyzer": "english"});
    // smartcn is the analysis-smartcn plugin (`opensearch-plugin install analysis-smartcn`);
    // analysis-ik's `ik_max_word` is the usual alternative.
    let chinese = json!({"type": "text", "analyzer": "smartcn"});
    let keyword = json!({"type": "keyword"});
    let knn = |space: &str| {
        json!({
            "type": "knn_vector",
            "dimension": export.model.dims,
            "method": {
                "name": "hnsw", "engine": "faiss", "space_type": space,
                "parameters": {"m": p.m, "ef_construction": p.ef_construction},
            },
        })
    };
    let mut index = json!({
        "settings": {"index": {"knn": true, "knn.algo_param.ef_search": p.search_ef()}},
        "mappings": {
            "dynamic": false,
            "properties": {
                "number": {"type": "long"},
                "arxiv_id": keyword, "url": keyword, "category": keyword,
                "categories": keyword, "listings": keyword, "month": keyword,
                "announce_type": keyword, "yyyymm": {"type": "integer"},
                "title_en": english, "summary_en": english, "abstract_en": english,
                "title_zh": chinese, "summary_zh": chinese, "abstract_zh": chinese,
                "vector": knn("innerproduct"),
            },
        },
    });
    if export.has_views {
        for script in Script::ALL {
            index["mappings"]["properties"][script.field()] = knn("innerproduct");
        }
    }
    write_json(&out.join("index.json"), &index)?;
    let weights = opensearch_weights(export.fusion);
    let pipeline = json!({
        "description": format!(
            "paperscope's fusion ({}): BM25 and cosine min-max normalised, weighted {:.2} / {:.2}",
            export.fusion.name(), weights[0], weights[1]
        ),
        "phase_results_processors": [{"normalization-processor": {
            "normalization": {"technique": "min_max"},
            "combination": {"technique": "arithmetic_mean",
                            "parameters": {"weights": weights}},
        }}],
    });
    write_json(&out.join("search_pipeline.json"), &pipeline)?;
    let query = json!({
        "size": 10,
        "_source": {"excludes": ["vector", "vector_latin", "vector_han"]},
        "query": {"hybrid": {"queries": [
            {"multi_match": {"query": "<query text>", "fields": OPENSEARCH_FIELDS}},
            {"knn": {"<the query's field (queries.jsonl)>": {
                "vector": "<the query's vector (queries.jsonl)>", "k": FUSION_DEPTH}}},
        ]}},
    });
    write_json(&out.join("hybrid_query.json"), &query)?;
    let lines = export.records.iter().flat_map(|r| {
        [
            Ok(json!({"index": {"_index": COLLECTION, "_id": r.paper.arxiv_id}})),
            record_json(r, true),
        ]
    });
    let bulk = write_lines(out, "bulk.ndjson", lines)?;
    Ok(vec![
        "index.json".into(),
        "search_pipeline.json".into(),
        "hybrid_query.json".into(),
        bulk,
    ])
}

/// The BM25 / vector weights a fixed-weight engine gets for `fusion`: the adaptive fusion's
/// weight when the nearest paper is close (its most trusting setting, which is what it
/// applies to the queries whose vectors matter).
fn opensearch_weights(fusion: Fusion) -> [f64; 2] {
    let alpha = match fusion {
        Fusion::Adaptive { max_alpha, .. } => max_alpha,
        other => other.alpha(1.0),
    };
    // As a person wrote the weight (0.35, not the f32's 0.3499999940395355), and summing to 1.
    let alpha = as_written(alpha);
    [((1.0 - alpha) * 1e6).round() / 1e6, alpha]
}

/// The queries of a TSV file, `qid<TAB>query[<TAB>anything]` per line (tests/queries.tsv's
/// layout, judgments optional); blank lines and `#` comments are skipped.
pub fn load_query_texts(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut queries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split('\t');
        match (fields.next(), fields.next()) {
            (Some(qid), Some(query)) if !qid.trim().is_empty() && !query.trim().is_empty() => {
                queries.push((qid.trim().to_string(), query.trim().to_string()));
            }
            _ => {
                return Err(Error::BadLine {
                    path: path.to_path_buf(),
                    line: i + 1,
                    reason: "expected `qid<TAB>query`".into(),
                });
            }
        }
    }
    Ok(queries)
}

/// Each query's vector and the field it searches: the view of its script where papers have
/// views, the paper vectors otherwise.
fn write_queries(engine: &Engine, out: &Path, queries: &[(String, String)]) -> Result<String> {
    let has_views = engine.meaning().is_some_and(|m| m.views.is_some());
    let lines = queries.iter().map(|(qid, text)| {
        let query = SearchQuery::parse(text)?;
        let vector = engine.query_vector(&query)?;
        let field = match has_views {
            true => Script::of(&query.positive_text()).field(),
            false => "vector",
        };
        Ok(json!({"qid": qid, "query": text, "vector": vector, "field": field}))
    });
    write_lines(out, "queries.jsonl", lines)
}

/// `export.json`: the report, and what a loader must know about the vectors and the search.
fn describe(report: &ExportReport, export: &Export<'_>) -> Value {
    json!({
        "paperscope": env!("CARGO_PKG_VERSION"),
        "collection": COLLECTION,
        "format": report.format,
        "generation": report.generation,
        "since_generation": report.since_generation,
        "papers": report.papers,
        "papers_in_index": report.papers_in_index,
        "queries": report.queries,
        "files": report.files,
        "vectors": {
            "model": export.model,
            "dtype": "f32",
            "dims": export.model.dims,
            // Unit vectors: inner product, cosine and 1 - L2²/2 rank alike.
            "metric": "cosine",
            "normalized": true,
        },
        "views": if export.has_views { json!({
            "fields": Script::ALL.map(Script::field),
            "metric": "inner product (views are not unit vectors)",
            "use": "a query with a Han character searches vector_han, any other vector_latin \
                    (queries.jsonl gives each query's field); the score is the mean of the \
                    query's cosine to the paper's side in its script and to the paper",
            "paperscope": "rescores the paper vectors' nearest candidates by the view; an exact \
                           search of the view gives the same top 10",
        }) } else { Value::Null },
        "vector_index": {
            "m": export.params.m,
            "ef_construction": export.params.ef_construction,
            "ef_search": export.params.search_ef(),
        },
        "fusion": {
            "method": export.fusion,
            "depth": FUSION_DEPTH,
            "bm25": "score / best score of the query",
            "vector": "cosine, min-max normalised over the candidates",
            "opensearch_weights": opensearch_weights(export.fusion),
        },
        "notes": report.notes,
    })
}
