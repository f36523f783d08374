//! The `paperscope` command line: parses arguments, calls the library, prints.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use paperscope::digest;
use paperscope::digest::compose::{self, Format};
use paperscope::digest::render::Section;
use paperscope::embed::Embedder;
use paperscope::eval::{self, Report};
use paperscope::fulltext;
use paperscope::hybrid::Fusion;
use paperscope::query::{Filters, SearchQuery};
use paperscope::search::{Engine, Mode, RelatedTo, SearchResponse};
use paperscope::stats;
use paperscope::store::{self, Progress, Store, Update, UpdateOptions};
use paperscope::topics::{self, TopicModel, TopicParams};
use paperscope::vectors::VectorIndex;

const DEFAULT_INDEX: &str = "index";
const DEFAULT_DATA: &str = "data/digests";

#[derive(Parser)]
#[command(
    name = "paperscope",
    version,
    about = "Search and topics for bilingual arXiv paper digests"
)]
struct Cli {
    /// Index directory [default: index, or $PAPERSCOPE_INDEX]
    #[arg(long, global = true, env = "PAPERSCOPE_INDEX")]
    index: Option<PathBuf>,
    /// Print one JSON document instead of text
    #[arg(long, global = true)]
    json: bool,
    /// Embedding model directory [default: the model shipped in data/model]
    #[arg(long, global = true, env = "PAPERSCOPE_MODEL")]
    model: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Add or update papers from digest files or directories of them
    Index {
        /// Digest .md files or directories [default: data/digests]
        inputs: Vec<PathBuf>,
        /// Re-embed every paper (needed after changing the embedding model)
        #[arg(long)]
        rebuild: bool,
    },
    /// Search the papers (English, Chinese or both; "phrases", -excluded)
    Search {
        /// The query; several words may be given without quotes
        #[arg(required = true)]
        query: Vec<String>,
        #[command(flatten)]
        filters: FilterArgs,
        /// Number of results
        #[arg(short = 'n', long, default_value_t = 10)]
        limit: usize,
        /// Which ranking: hybrid (both, fused), bm25 (words) or vector (meaning, across languages)
        #[arg(long, value_enum, default_value_t = Mode::Hybrid)]
        mode: Mode,
        #[command(flatten)]
        fusion: FusionArgs,
        /// Show where each result came from (BM25 and vector ranks and scores)
        #[arg(long)]
        explain: bool,
    },
    /// Papers like a paper (or several together, or a text)
    Related {
        /// arXiv ids; several mean "papers like these together"
        ids: Vec<String>,
        /// Find papers like this text instead (e.g. an abstract)
        #[arg(long, conflicts_with = "ids")]
        text: Option<String>,
        #[command(flatten)]
        filters: FilterArgs,
        #[arg(short = 'n', long, default_value_t = 10)]
        limit: usize,
        #[command(flatten)]
        fusion: FusionArgs,
        #[arg(long)]
        explain: bool,
    },
    /// Show one paper in full
    Show {
        /// arXiv id, with or without version (2403.05266)
        arxiv_id: String,
    },
    /// Counts of papers per category and month
    Stats,
    /// The collection grouped into topics, labelled in English and Chinese
    Topics {
        /// Target number of topics (default: about sqrt(papers / 15))
        #[arg(long)]
        topics: Option<usize>,
        /// Topics smaller than this are merged into their neighbours
        #[arg(long, default_value_t = 10)]
        min_size: usize,
        /// Fit again instead of using the saved topic model
        #[arg(long)]
        refit: bool,
        /// Paper counts per topic and month
        #[arg(long)]
        over_time: bool,
        /// `coarse`: merge the closest topics into about a third as many broader ones
        #[arg(long, value_enum, default_value_t = Level::Fine)]
        level: Level,
    },
    /// Write a digest in the input's Markdown format (or HTML / JSON), optionally by topic
    Digest {
        /// One section per topic, topics by size, papers by closeness to the topic centre
        #[arg(long)]
        by_topic: bool,
        #[command(flatten)]
        filters: FilterArgs,
        /// Only papers matching this search (hybrid), best first
        #[arg(long)]
        query: Option<String>,
        /// Only the papers listed in this file (one arXiv id per line)
        #[arg(long)]
        ids: Option<PathBuf>,
        /// Papers kept from --query
        #[arg(short = 'n', long, default_value_t = 200)]
        limit: usize,
        /// Related papers listed after each entry (0 to omit)
        #[arg(long, default_value_t = 3)]
        related: usize,
        #[arg(long, value_enum, default_value_t = Format::Markdown)]
        format: Format,
        /// Write to this file (atomically) instead of stdout
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
    },
    /// The papers of one topic, closest to its centre first
    Topic {
        id: usize,
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: usize,
    },
    /// Measure retrieval quality and speed
    #[command(subcommand)]
    Eval(EvalCommand),
}

#[derive(Subcommand)]
enum EvalCommand {
    /// MRR@10, nDCG@10, Recall@10/100 and latency over a judged query file
    Search {
        /// TSV: qid<TAB>query<TAB>id,id:2,... (see tests/queries.tsv)
        #[arg(long, default_value = "tests/queries.tsv")]
        queries: PathBuf,
    },
    /// Cross-lingual known-item test: each paper's Chinese summary must find its English side
    Crosslingual,
    /// Topic quality: NMI/ARI against arXiv categories, label coherence (NPMI) and diversity
    /// (fits afresh; the saved topic model is left as it is)
    Topics {
        #[arg(long)]
        topics: Option<usize>,
        #[arg(long, value_enum, default_value_t = topics::Representation::Lsa)]
        representation: topics::Representation,
    },
    /// HNSW recall@10 against exact search, and latency, for several ef values
    Ann {
        /// Use every Nth paper's vector as a query
        #[arg(long, default_value_t = 8)]
        stride: usize,
    },
}

#[derive(clap::Args)]
struct FilterArgs {
    /// Only papers in this category or archive (cs.CL, cs); comma-separated for several
    #[arg(long)]
    category: Vec<String>,
    /// Only papers first submitted in or after this month (YYYY-MM, YYYY-MM-DD or YYYY)
    #[arg(long)]
    since: Option<String>,
    /// Only papers first submitted in or before this month
    #[arg(long)]
    until: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Level {
    Fine,
    Coarse,
}

#[derive(clap::Args)]
struct FusionArgs {
    /// Fixed weight of the vector side in [0, 1] (default: set per query by how close the
    /// nearest paper is)
    #[arg(long)]
    alpha: Option<f32>,
    /// Reciprocal rank fusion (k = 60) instead of score fusion
    #[arg(long, conflicts_with = "alpha")]
    rrf: bool,
}

impl FusionArgs {
    fn fusion(&self) -> Result<Fusion> {
        self.fusion_or(Fusion::default())
    }

    fn fusion_or(&self, default: Fusion) -> Result<Fusion> {
        match (self.alpha, self.rrf) {
            (Some(a), _) if !(0.0..=1.0).contains(&a) => {
                anyhow::bail!("invalid argument --alpha: {a} is not between 0 and 1")
            }
            (Some(alpha), _) => Ok(Fusion::Convex { alpha }),
            (None, true) => Ok(Fusion::Rrf { k: 60.0 }),
            (None, false) => Ok(default),
        }
    }
}

impl FilterArgs {
    fn filters(&self) -> paperscope::Result<Filters> {
        Filters::new(&self.category, self.since.as_deref(), self.until.as_deref())
    }
}

fn main() {
    // Piping into `head` closes stdout early: end quietly as other command-line tools do,
    // instead of panicking on the failed write.
    #[cfg(unix)]
    // SAFETY: restoring the default action of a signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    if let Err(error) = run(cli) {
        // One line: the library's errors already name their file, line, id or argument.
        // Library errors already print their source; skip a cause the line already says.
        let mut line = String::new();
        for cause in error.chain().map(|e| e.to_string()) {
            if !line.contains(&cause) {
                line = if line.is_empty() {
                    cause
                } else {
                    format!("{line}: {cause}")
                };
            }
        }
        eprintln!("error: {line}");
        std::process::exit(1);
    }
}

/// Where the index and the model are, from the global options.
struct Places {
    index: PathBuf,
    explicit_index: bool,
    model: PathBuf,
}

fn run(cli: Cli) -> Result<()> {
    let places = Places {
        explicit_index: cli.index.is_some(),
        index: cli
            .index
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_INDEX)),
        model: cli.model.clone().unwrap_or_else(Embedder::default_dir),
    };
    let json = cli.json;
    match cli.command {
        Command::Index { inputs, rebuild } => {
            let inputs = if inputs.is_empty() {
                vec![PathBuf::from(DEFAULT_DATA)]
            } else {
                inputs
            };
            let embedder = Embedder::load(&places.model)?;
            let summary = run_index(&places.index, &inputs, &embedder, rebuild, json)?;
            if json {
                println!("{}", summary.to_json(&places.index));
            } else {
                println!("{}", summary.describe(&places.index));
            }
            Ok(())
        }
        Command::Search {
            query,
            filters,
            limit,
            mode,
            fusion,
            explain,
        } => {
            let query = SearchQuery::parse(&query.join(" "))?;
            let filters = filters.filters()?;
            let fusion = fusion.fusion()?;
            check_limit(limit)?;
            let loaded = load_for(&places, mode)?;
            let mode = if loaded.meaning.is_none() {
                Mode::Bm25
            } else {
                mode
            };
            let mut engine = loaded.engine();
            engine.fusion = fusion;
            let response = engine.search(&query, &filters, limit, mode)?;
            print_search(&response, json, explain)
        }
        Command::Related {
            ids,
            text,
            filters,
            limit,
            fusion,
            explain,
        } => {
            let target = match text {
                Some(text) => RelatedTo::Text(text),
                None if ids.is_empty() => {
                    anyhow::bail!("invalid argument: give arXiv ids or --text")
                }
                None => RelatedTo::Ids(ids),
            };
            let filters = filters.filters()?;
            check_limit(limit)?;
            let loaded = load_for(&places, Mode::Vector)?;
            let mut engine = loaded.engine();
            engine.fusion = fusion.fusion_or(paperscope::hybrid::RELATED_FUSION)?;
            let response = engine.related(&target, &filters, limit)?;
            print_search(&response, json, explain)
        }
        Command::Show { arxiv_id } => {
            let store = open_store(&places)?;
            let paper = store
                .text
                .paper_by_id(&arxiv_id)?
                .ok_or(paperscope::Error::UnknownId { id: arxiv_id })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&paper)?);
            } else {
                print_paper(&paper);
            }
            Ok(())
        }
        Command::Eval(EvalCommand::Search { queries }) => {
            let queries = eval::load_queries(&queries)?;
            let loaded = load_for(&places, Mode::Vector)?;
            let mut engine = loaded.engine();
            let ids: Vec<String> = loaded
                .store
                .papers()?
                .into_iter()
                .map(|p| p.arxiv_id)
                .collect();
            let mut reports = Vec::new();
            let runs = [
                ("bm25", Mode::Bm25, Fusion::default()),
                ("vector", Mode::Vector, Fusion::default()),
                ("hybrid", Mode::Hybrid, Fusion::default()),
                ("rrf", Mode::Hybrid, Fusion::Rrf { k: 60.0 }),
                ("alpha-0.3", Mode::Hybrid, Fusion::Convex { alpha: 0.3 }),
            ];
            for (name, mode, fusion) in runs {
                engine.fusion = fusion;
                reports.push(eval::evaluate(name, &queries, |q| {
                    let (ranked, _) =
                        engine.rank(&SearchQuery::parse(q)?, &Filters::default(), 100, mode)?;
                    Ok(ranked
                        .iter()
                        .filter_map(|r| ids.get(r.number as usize).cloned())
                        .collect())
                })?);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&reports)?);
            } else {
                print_eval(&reports, queries.len());
            }
            Ok(())
        }
        Command::Eval(EvalCommand::Crosslingual) => {
            let store = open_store(&places)?;
            let papers = store.papers()?;
            let embedder = Embedder::load(&places.model)?;
            let bar = Bars::new(json);
            bar.start("embedding", papers.len() * 5);
            let report = eval::crosslingual(&embedder, &papers, || bar.inc());
            bar.finish();
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_crosslingual(&report, embedder.model_id());
            }
            Ok(())
        }
        Command::Eval(EvalCommand::Ann { stride }) => {
            let loaded = load_for(&places, Mode::Vector)?;
            let Some((_, vectors)) = &loaded.meaning else {
                anyhow::bail!("the vector index is not loaded");
            };
            let report = eval::ann_recall(
                vectors,
                loaded.store.manifest.paper_count,
                &[16, 32, 64, 128, 256],
                stride,
            );
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "HNSW over {} papers (M={}, ef_construction={}): built in {:.2} s; {} queries",
                    report.papers,
                    vectors.params().m,
                    vectors.params().ef_construction,
                    report.build_seconds,
                    report.queries
                );
                println!("exact search: {:.0} µs/query", report.exact_latency_us);
                println!("{:>6} {:>10} {:>12}", "ef", "recall@10", "µs/query");
                for p in &report.curve {
                    println!("{:>6} {:>10.4} {:>12.0}", p.ef, p.recall10, p.latency_us);
                }
            }
            Ok(())
        }
        Command::Topics {
            topics,
            min_size,
            refit,
            over_time,
            level,
        } => {
            let params = TopicParams {
                topics,
                min_size,
                ..TopicParams::default()
            };
            let (store, papers, model) = topic_model(&places, params, refit, json)?;
            let model = match level {
                Level::Fine => model,
                Level::Coarse => {
                    let vectors = store.vectors(&Embedder::load(&places.model)?)?;
                    let by_paper = vectors.by_paper(papers.len());
                    topics::coarsen(&model, &papers, &by_paper, (model.topics.len() / 3).max(2))
                }
            };
            if over_time {
                let table = topics::over_time(&papers, &model);
                if json {
                    println!("{}", serde_json::to_string_pretty(&table)?);
                } else {
                    print_over_time(&model, &table);
                }
            } else if json {
                let topics: Vec<serde_json::Value> = model
                    .topics
                    .iter()
                    .map(|t| {
                        serde_json::json!({
                            "id": t.id, "size": t.size, "label_en": t.label_en,
                            "label_zh": t.label_zh, "representative": t.representative,
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "topics": topics,
                        "assignments": model.assignments,
                    }))?
                );
            } else {
                print_topics(&store, &model)?;
            }
            Ok(())
        }
        Command::Digest {
            by_topic,
            filters,
            query,
            ids,
            limit,
            related,
            format,
            output,
        } => {
            // `--json` means what it means for every command: one JSON document.
            let format = if json { Format::Json } else { format };
            let filters = filters.filters()?;
            if let Some(path) = &output {
                let dir = path
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                if !dir.is_dir() {
                    anyhow::bail!(
                        "invalid argument -o/--output: directory {} does not exist",
                        dir.display()
                    );
                }
            }
            let wanted_ids = ids.as_deref().map(compose::read_id_file).transpose()?;
            let (store, papers, model) = if by_topic {
                let (store, papers, model) =
                    topic_model(&places, TopicParams::default(), false, json)?;
                (store, papers, Some(model))
            } else {
                let store = open_store(&places)?;
                let papers = store.papers()?;
                (store, papers, None)
            };
            let embedder = Embedder::load(&places.model)?;
            let vectors = store.vectors(&embedder)?;
            let engine = Engine::new(&store, Some((&embedder, &vectors)));
            let mut chosen: Vec<usize> = match &query {
                Some(q) => {
                    let (ranked, _) =
                        engine.rank(&SearchQuery::parse(q)?, &filters, limit, Mode::Hybrid)?;
                    ranked.iter().map(|r| r.number as usize).collect()
                }
                None => (0..papers.len())
                    .filter(|&i| filters.matches(&papers[i]))
                    .collect(),
            };
            if let Some(wanted) = &wanted_ids {
                let by_id: std::collections::HashMap<&str, usize> = papers
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (p.arxiv_id.as_str(), i))
                    .collect();
                let unknown: Vec<&str> = wanted
                    .iter()
                    .filter(|id| !by_id.contains_key(id.as_str()))
                    .map(String::as_str)
                    .collect();
                if !unknown.is_empty() {
                    eprintln!(
                        "warning: {} ids of {} are not in the index: {}",
                        unknown.len(),
                        ids.as_deref()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default(),
                        unknown.join(", ")
                    );
                }
                let keep: std::collections::HashSet<usize> = wanted
                    .iter()
                    .filter_map(|id| by_id.get(id.as_str()).copied())
                    .collect();
                chosen.retain(|i| keep.contains(i));
            }
            if chosen.is_empty() {
                anyhow::bail!("no papers match the selection: nothing to write");
            }
            let selected: Vec<&paperscope::Paper> = chosen.iter().map(|&i| &papers[i]).collect();
            let sections = match &model {
                Some(model) => compose::by_topic(&selected, model),
                None => vec![Section {
                    title: None,
                    papers: selected.clone(),
                }],
            };
            let related_lists = related_lists(&engine, &selected, related)?;
            let related_of =
                |p: &paperscope::Paper| related_lists.get(&p.arxiv_id).cloned().unwrap_or_default();
            let text = compose::write(&sections, &related_of, format)?;
            match &output {
                Some(path) => {
                    compose::save(path, &text)?;
                    eprintln!(
                        "Wrote {} papers in {} sections to {}.",
                        selected.len(),
                        sections.len(),
                        path.display()
                    );
                }
                None => print!("{text}"),
            }
            Ok(())
        }
        Command::Topic { id, limit } => {
            let (store, _, model) = topic_model(&places, TopicParams::default(), false, json)?;
            let topic = model.topics.iter().find(|t| t.id == id).ok_or_else(|| {
                paperscope::Error::invalid(
                    "topic",
                    format!("no topic {id}: `paperscope topics` lists them"),
                )
            })?;
            let mut members: Vec<&topics::Assignment> = model
                .assignments
                .iter()
                .filter(|a| a.nearest == id)
                .collect();
            members.sort_by(|a, b| b.closeness.total_cmp(&a.closeness));
            let papers: Vec<paperscope::Paper> = members
                .iter()
                .take(limit)
                .map(|a| {
                    store
                        .text
                        .paper_by_id(&a.arxiv_id)
                        .map(Option::unwrap_or_default)
                })
                .collect::<paperscope::Result<_>>()?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"topic": topic, "papers": papers})
                    )?
                );
            } else {
                println!(
                    "Topic {} ({} papers): {} / {}",
                    topic.id,
                    topic.size,
                    topic.label_en[..topic.label_en.len().min(5)].join(" · "),
                    topic.label_zh[..topic.label_zh.len().min(5)].join(" · ")
                );
                for p in papers {
                    println!(
                        "  {}  {}\n              {}",
                        p.arxiv_id, p.title_en, p.title_zh
                    );
                }
            }
            Ok(())
        }
        Command::Eval(EvalCommand::Topics {
            topics,
            representation,
        }) => {
            let params = TopicParams {
                topics,
                representation,
                ..TopicParams::default()
            };
            let loaded = load_for(&places, Mode::Vector)?;
            let Some((_, vectors)) = &loaded.meaning else {
                anyhow::bail!("the vector index is not loaded");
            };
            let papers = loaded.store.papers()?;
            let by_paper = vectors.by_paper(papers.len());
            let model = fit_topics(&papers, &by_paper, params, json);
            let quality = eval::topic_quality(&papers, &model);
            if json {
                println!("{}", serde_json::to_string_pretty(&quality)?);
            } else {
                print_topic_quality(&quality);
            }
            Ok(())
        }
        Command::Stats => {
            let store = open_store(&places)?;
            let stats = stats::compute(&store.papers()?);
            if json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
            } else {
                print_stats(&stats);
            }
            Ok(())
        }
    }
}

/// The index, and the model with the vectors when a command needs meaning.
struct Loaded {
    store: Store,
    meaning: Option<(Embedder, VectorIndex)>,
}

impl Loaded {
    fn engine(&self) -> Engine<'_> {
        Engine::new(&self.store, self.meaning.as_ref().map(|(e, v)| (e, v)))
    }
}

/// The saved topic model, fitted (and saved) on first use or when asked to refit; papers
/// indexed since the fit are assigned to the nearest existing topic without a refit.
fn topic_model(
    places: &Places,
    params: TopicParams,
    refit: bool,
    quiet: bool,
) -> Result<(Store, Vec<paperscope::Paper>, TopicModel)> {
    let loaded = load_for(places, Mode::Vector)?;
    let Some((_, vectors)) = &loaded.meaning else {
        anyhow::bail!("the vector index is not loaded");
    };
    let papers = loaded.store.papers()?;
    if papers.is_empty() {
        anyhow::bail!(
            "index {} is empty: nothing to group into topics",
            places.index.display()
        );
    }
    let vectors_by_paper = vectors.by_paper(papers.len());
    let saved = if refit {
        None
    } else {
        loaded.store.load_topics()?
    };
    let model = match saved {
        Some(mut model) => {
            if topics::extend(&mut model, &papers, &vectors_by_paper) {
                loaded.store.save_topics(&model)?;
            }
            model
        }
        None => {
            let model = fit_topics(&papers, &vectors_by_paper, params, quiet);
            loaded.store.save_topics(&model)?;
            model
        }
    };
    Ok((loaded.store, papers, model))
}

fn fit_topics(
    papers: &[paperscope::Paper],
    vectors: &[Vec<f32>],
    params: TopicParams,
    quiet: bool,
) -> TopicModel {
    let bars = Bars::new(quiet);
    bars.start("topics", 4);
    let model = topics::fit(papers, vectors, params, &|_stage| bars.inc());
    bars.finish();
    model
}

fn print_topic_quality(q: &eval::TopicQuality) {
    println!(
        "{} topics over {} papers, fitted in {:.1} s",
        q.topics, q.papers, q.fit_seconds
    );
    println!(
        "NMI {:.3}, ARI {:.3} against arXiv categories ({} papers whose entry names one)",
        q.nmi, q.ari, q.labelled_papers
    );
    println!(
        "label coherence (NPMI of the top 10): English {:.3}, Chinese {:.3}",
        q.npmi_en, q.npmi_zh
    );
    println!(
        "label diversity (unique share of the top 25, both languages): {:.3}",
        q.diversity
    );
    println!(
        "outliers {:.1}%, largest topic {:.1}% of papers",
        100.0 * q.outlier_share,
        100.0 * q.largest_topic_share
    );
}

fn print_topics(store: &Store, model: &TopicModel) -> Result<()> {
    let outliers = model.assignments.iter().filter(|a| a.topic < 0).count();
    println!(
        "{} topics over {} papers ({} outliers, shown under their nearest topic)\n",
        model.topics.len(),
        model.assignments.len(),
        outliers
    );
    for t in &model.topics {
        let en = t
            .label_en
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join(" · ");
        let zh = t
            .label_zh
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join(" · ");
        println!("{:>3}  {:>5} papers  {en} / {zh}", t.id, t.size);
        for id in &t.representative {
            if let Some(p) = store.text.paper_by_id(id)? {
                println!(
                    "       {}  {}",
                    p.arxiv_id,
                    fulltext::truncate_chars(&p.title_en, 90)
                );
            }
        }
    }
    Ok(())
}

fn print_over_time(
    model: &TopicModel,
    table: &std::collections::BTreeMap<usize, std::collections::BTreeMap<String, usize>>,
) {
    let months: std::collections::BTreeSet<&String> =
        table.values().flat_map(|m| m.keys()).collect();
    let years: std::collections::BTreeSet<&str> = months.iter().map(|m| &m[..4]).collect();
    print!("{:<44}", "topic");
    for y in &years {
        print!(" {y:>6}");
    }
    println!();
    for t in &model.topics {
        let label = fulltext::truncate_chars(
            &t.label_en
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(" · "),
            38,
        );
        print!("{:>3} {label:<40}", t.id);
        for y in &years {
            let count: usize = table.get(&t.id).map_or(0, |m| {
                m.iter()
                    .filter(|(k, _)| k.starts_with(y))
                    .map(|(_, v)| v)
                    .sum()
            });
            print!(" {count:>6}");
        }
        println!();
    }
    println!("\n(per month: --json)");
}

/// Up to `n` related papers `(id, title)` for each selected paper, computed in parallel.
fn related_lists(
    engine: &Engine,
    selected: &[&paperscope::Paper],
    n: usize,
) -> Result<std::collections::HashMap<String, Vec<(String, String)>>> {
    use rayon::prelude::*;
    if n == 0 {
        return Ok(Default::default());
    }
    let bars = Bars::new(false);
    bars.start("related", selected.len());
    let lists = selected
        .par_iter()
        .map(|p| {
            let response = engine.related(
                &RelatedTo::Ids(vec![p.arxiv_id.clone()]),
                &Filters::default(),
                n,
            );
            bars.inc();
            response.map(|r| {
                let list = r
                    .results
                    .into_iter()
                    .map(|x| (x.arxiv_id, x.title_en))
                    .collect();
                (p.arxiv_id.clone(), list)
            })
        })
        .collect::<paperscope::Result<_>>()?;
    bars.finish();
    Ok(lists)
}

fn check_limit(limit: usize) -> Result<()> {
    if limit == 0 {
        anyhow::bail!("invalid argument -n/--limit: must be at least 1");
    }
    Ok(())
}

/// Opens the index and, for the modes that need meaning, loads the model on another thread
/// meanwhile (its tokenizer takes ~0.5 s to build). Hybrid falls back to BM25, with a warning,
/// when the vectors cannot be used; vector mode fails.
fn load_for(places: &Places, mode: Mode) -> Result<Loaded> {
    if mode == Mode::Bm25 {
        return Ok(Loaded {
            store: open_store(places)?,
            meaning: None,
        });
    }
    std::thread::scope(|scope| {
        let model = scope.spawn(|| Embedder::load(&places.model));
        let store = open_store(places)?;
        let meaning = model
            .join()
            .map_err(|_| {
                paperscope::Error::invalid("--model", "loading the embedding model failed")
            })
            .and_then(|loaded| loaded)
            .and_then(|embedder| store.vectors(&embedder).map(|vectors| (embedder, vectors)));
        match meaning {
            Ok(meaning) => Ok(Loaded {
                store,
                meaning: Some(meaning),
            }),
            Err(error) if mode == Mode::Hybrid => {
                eprintln!("warning: {error}; answering with BM25 only");
                Ok(Loaded {
                    store,
                    meaning: None,
                })
            }
            Err(error) => Err(error.into()),
        }
    })
}

/// Opens the index; the default location is built from the sample data on first use so that a
/// newcomer's first command works. An index named explicitly must exist.
fn open_store(places: &Places) -> Result<Store> {
    if !places.explicit_index && !Store::exists(&places.index) {
        eprintln!(
            "No index at {}/ yet: building it from {DEFAULT_DATA}/ (once).",
            places.index.display()
        );
        let embedder = Embedder::load(&places.model)?;
        let summary = run_index(
            &places.index,
            &[PathBuf::from(DEFAULT_DATA)],
            &embedder,
            false,
            false,
        )?;
        eprintln!("{}", summary.describe(&places.index));
    }
    Ok(Store::open(&places.index)?)
}

/// Progress bars on stderr, one stage at a time; nothing when stderr is not a terminal.
struct Bars {
    bar: Mutex<ProgressBar>,
    quiet: bool,
}

impl Bars {
    fn new(quiet: bool) -> Self {
        Bars {
            bar: Mutex::new(ProgressBar::hidden()),
            quiet: quiet || !std::io::stderr().is_terminal(),
        }
    }
}

impl Progress for Bars {
    fn start(&self, stage: &'static str, total: usize) {
        if self.quiet {
            return;
        }
        let bar = ProgressBar::new(total as u64).with_message(stage);
        let style = ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        if let Ok(mut current) = self.bar.lock() {
            *current = bar;
        }
    }
    fn inc(&self) {
        if let Ok(bar) = self.bar.lock() {
            bar.inc(1);
        }
    }
    fn finish(&self) {
        if let Ok(bar) = self.bar.lock() {
            bar.finish_and_clear();
        }
    }
}

struct IndexSummary {
    loaded: digest::Loaded,
    papers_read: usize,
    update: Update,
    seconds: f64,
}

impl IndexSummary {
    fn to_json(&self, index_dir: &Path) -> serde_json::Value {
        let (changed, papers, embedded) = match self.update {
            Update::Unchanged { papers } => (false, papers, 0),
            Update::Written {
                papers, embedded, ..
            } => (true, papers, embedded),
        };
        serde_json::json!({
            "index": index_dir,
            "files": self.loaded.files,
            "entries": self.loaded.entries,
            "papers_read": self.papers_read,
            "duplicates": self.loaded.duplicates,
            "warnings": self.loaded.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
            "changed": changed,
            "papers": papers,
            "embedded": embedded,
            "seconds": self.seconds,
        })
    }

    fn describe(&self, index_dir: &Path) -> String {
        let l = &self.loaded;
        let read = format!(
            "Read {} entries from {} files: {} papers ({} duplicate entries merged, {} warnings).",
            l.entries,
            l.files,
            self.papers_read,
            l.duplicates,
            l.warnings.len()
        );
        let result = match self.update {
            Update::Unchanged { papers } => {
                format!("Index {} unchanged: {papers} papers.", index_dir.display())
            }
            Update::Written {
                generation,
                papers,
                added,
                updated,
                embedded,
            } => format!(
                "Index {} generation {generation}: {papers} papers ({added} added, {updated} updated, {embedded} embedded) in {:.1} s.",
                index_dir.display(),
                self.seconds
            ),
        };
        format!("{read}\n{result}")
    }
}

/// Papers added to an index whose topics were fitted join their nearest topics, so yesterday's
/// topics keep their ids and labels (`topics --refit` fits again).
fn extend_topics(index_dir: &Path, embedder: &Embedder) -> Result<()> {
    let store = Store::open(index_dir)?;
    let Some(mut model) = store.load_topics()? else {
        return Ok(());
    };
    let vectors = store.vectors(embedder)?;
    let papers = store.papers()?;
    let by_paper = vectors.by_paper(papers.len());
    if topics::extend(&mut model, &papers, &by_paper) {
        store.save_topics(&model)?;
    }
    Ok(())
}

/// Parses the inputs (all of them, before anything is written) and updates both indexes.
fn run_index(
    index_dir: &Path,
    inputs: &[PathBuf],
    embedder: &Embedder,
    rebuild: bool,
    quiet: bool,
) -> Result<IndexSummary> {
    let started = Instant::now();
    let files = digest::digest_files(inputs)?;
    let bars = Bars::new(quiet);
    bars.start("parsing", files.len());
    let mut loaded = digest::load(&files, || bars.inc())?;
    bars.finish();
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    let papers = std::mem::take(&mut loaded.papers);
    let papers_read = papers.len();
    let options = UpdateOptions {
        rebuild,
        ..UpdateOptions::default()
    };
    let update = store::update(index_dir, papers, embedder, options, &bars)
        .with_context(|| format!("index {} was left as it was", index_dir.display()))?;
    extend_topics(index_dir, embedder)?;
    Ok(IndexSummary {
        loaded,
        papers_read,
        update,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn describe_why(why: &paperscope::hybrid::Why) -> String {
    let bm25 = match (why.bm25_rank, why.bm25_score) {
        (Some(rank), Some(score)) => format!("bm25 #{rank} ({score:.2})"),
        _ => "bm25 -".to_string(),
    };
    let vector = match (why.vector_rank, why.cosine) {
        (Some(rank), Some(cosine)) => format!("vector #{rank} (cos {cosine:.3})"),
        (None, Some(cosine)) => format!("vector - (cos {cosine:.3})"),
        _ => "vector -".to_string(),
    };
    format!("why: {bm25}, {vector}, fused {:.3}", why.fused)
}

struct Style {
    on: bool,
}

impl Style {
    fn stdout() -> Self {
        Style {
            on: std::io::stdout().is_terminal(),
        }
    }
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    /// Matched terms: bold yellow on a terminal, `[term]` elsewhere.
    fn highlight(&self, text: &str, ranges: &[(usize, usize)]) -> String {
        let mut out = String::new();
        let mut at = 0;
        for &(start, end) in ranges {
            if start < at
                || end > text.len()
                || !text.is_char_boundary(start)
                || !text.is_char_boundary(end)
            {
                continue;
            }
            out.push_str(&text[at..start]);
            let term = &text[start..end];
            out.push_str(&if self.on {
                self.paint("1;33", term)
            } else {
                format!("[{term}]")
            });
            at = end;
        }
        out.push_str(&text[at..]);
        out
    }
}

fn print_search(response: &SearchResponse, json: bool, explain: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(response)?);
        return Ok(());
    }
    let style = Style::stdout();
    if response.results.is_empty() {
        println!("No papers match {:?}.", response.query);
        return Ok(());
    }
    for r in &response.results {
        let version = r.version.map(|v| format!("v{v}")).unwrap_or_default();
        println!(
            "{:>3}. {}{} {}  {}",
            r.rank,
            style.paint("36", &r.arxiv_id),
            version,
            style.paint("1", &r.title_en),
            style.paint("2", &format!("score {:.2}", r.score)),
        );
        println!("     {}", r.title_zh);
        if let Some(category) = &r.category {
            println!("     {}", style.paint("2", category));
        }
        println!("     {}", style.highlight(&r.snippet, &r.highlights));
        if explain {
            println!("     {}", style.paint("2", &describe_why(&r.why)));
        }
        println!();
    }
    println!(
        "{} of {} matching papers, {:.1} ms ({})",
        response.results.len(),
        response.total,
        response.took_ms,
        response.mode
    );
    Ok(())
}

fn print_eval(reports: &[Report], query_count: usize) {
    println!("{query_count} judged queries");
    println!(
        "{:<10} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9}",
        "method", "nDCG@10", "MRR@10", "R@10", "R@100", "p50 ms", "p99 ms"
    );
    for r in reports {
        let m = &r.overall;
        println!(
            "{:<10} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>9.2} {:>9.2}",
            r.method,
            m.ndcg10,
            m.mrr10,
            m.recall10,
            m.recall100,
            r.latency_p50_ms,
            r.latency_p99_ms
        );
    }
    println!("\nnDCG@10 by group:");
    let groups: Vec<&String> = reports
        .first()
        .map(|r| r.by_group.keys().collect())
        .unwrap_or_default();
    print!("{:<10}", "method");
    for g in &groups {
        print!(" {g:>8}");
    }
    println!();
    for r in reports {
        print!("{:<10}", r.method);
        for g in &groups {
            print!(" {:>8.3}", r.by_group.get(*g).map_or(0.0, |m| m.ndcg10));
        }
        println!();
    }
}

fn print_crosslingual(r: &eval::CrossLingual, model: &str) {
    println!(
        "Cross-lingual known-item retrieval over {} papers ({model}, {:.1} s)",
        r.papers, r.seconds
    );
    println!(
        "{:<44} {:>7} {:>7} {:>7}",
        "query -> documents", "R@1", "R@10", "MRR"
    );
    for (name, k) in [
        (
            "zh one-line summary -> en title+abstract",
            &r.zh_summary_to_en,
        ),
        (
            "  same, Latin-script words removed",
            &r.zh_summary_no_latin_to_en,
        ),
        ("en title -> zh title+summary+abstract", &r.en_title_to_zh),
    ] {
        println!("{name:<44} {:>7.3} {:>7.3} {:>7.3}", k.r1, k.r10, k.mrr);
    }
}

fn print_paper(p: &paperscope::Paper) {
    let style = Style::stdout();
    println!(
        "{} {}",
        style.paint("36", &p.versioned_id()),
        style.paint("1", &p.title_en)
    );
    println!("{}", p.title_zh);
    println!("{}", p.url);
    let categories = p.categories().join(", ");
    let month = p
        .year_month()
        .map(|(y, m)| format!("{y}-{m:02}"))
        .unwrap_or_default();
    println!(
        "{} {} {}",
        style.paint("2", &categories),
        month,
        p.announce_type.as_deref().unwrap_or("")
    );
    println!();
    println!("{}", style.paint("1", "摘要 (一句话)"));
    println!("{}", p.summary_zh);
    if let Some(summary_en) = &p.summary_en {
        println!("{summary_en}");
    }
    println!();
    println!("{}", style.paint("1", "Abstract"));
    println!("{}", p.abstract_en);
    println!();
    println!("{}", style.paint("1", "摘要"));
    println!("{}", p.abstract_zh);
    println!();
    println!(
        "{}",
        style.paint("2", &format!("from {}:{}", p.source_file, p.source_line))
    );
}

fn print_stats(s: &stats::Stats) {
    println!(
        "{} papers ({} with a Chinese abstract, {} with an English one)",
        s.papers, s.with_chinese_abstract, s.with_english_abstract
    );
    println!("\nBy category:");
    let mut categories: Vec<_> = s.by_category.iter().collect();
    categories.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (category, count) in categories {
        println!("  {category:<16} {count:>6}");
    }
    println!("\nBy month (first submission):");
    for (month, count) in &s.by_month {
        println!("  {month}  {count:>6}");
    }
}
