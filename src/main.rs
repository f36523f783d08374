//! The `paperscope` command line: parses arguments, calls the library, prints.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use paperscope::digest;
use paperscope::embed::Embedder;
use paperscope::eval::{self, Report};
use paperscope::query::{Filters, SearchQuery};
use paperscope::search::{Engine, Mode, SearchResponse};
use paperscope::stats;
use paperscope::store::{self, Progress, Store, Update, UpdateOptions};
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
        /// Which ranking: bm25 (words) or vector (meaning, across languages)
        #[arg(long, value_enum, default_value_t = Mode::Bm25)]
        mode: Mode,
    },
    /// Show one paper in full
    Show {
        /// arXiv id, with or without version (2403.05266)
        arxiv_id: String,
    },
    /// Counts of papers per category and month
    Stats,
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

impl FilterArgs {
    fn filters(&self) -> paperscope::Result<Filters> {
        Filters::new(&self.category, self.since.as_deref(), self.until.as_deref())
    }
}

fn main() {
    let cli = Cli::parse();
    if let Err(error) = run(cli) {
        // One line: the library's errors already name their file, line, id or argument.
        let chain: Vec<String> = error.chain().map(|e| e.to_string()).collect();
        eprintln!("error: {}", chain.join(": "));
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
        } => {
            let query = SearchQuery::parse(&query.join(" "))?;
            let filters = filters.filters()?;
            if limit == 0 {
                anyhow::bail!("invalid argument -n/--limit: must be at least 1");
            }
            let loaded = load_for(&places, mode != Mode::Bm25)?;
            let response = loaded.engine().search(&query, &filters, limit, mode)?;
            print_search(&response, json)
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
            let loaded = load_for(&places, true)?;
            let engine = loaded.engine();
            let ids: Vec<String> = loaded
                .store
                .papers()?
                .into_iter()
                .map(|p| p.arxiv_id)
                .collect();
            let mut reports = Vec::new();
            for mode in [Mode::Bm25, Mode::Vector] {
                reports.push(eval::evaluate(mode.name(), &queries, |q| {
                    let (ranked, _) =
                        engine.rank(&SearchQuery::parse(q)?, &Filters::default(), 100, mode)?;
                    Ok(ranked
                        .iter()
                        .filter_map(|(n, _)| ids.get(*n as usize).cloned())
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
            let loaded = load_for(&places, true)?;
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
        Engine {
            store: &self.store,
            meaning: self.meaning.as_ref().map(|(e, v)| (e, v)),
        }
    }
}

/// Opens the index and, when `meaning` is wanted, loads the model on another thread meanwhile
/// (its tokenizer takes ~0.5 s to build).
fn load_for(places: &Places, meaning: bool) -> Result<Loaded> {
    if !meaning {
        return Ok(Loaded {
            store: open_store(places)?,
            meaning: None,
        });
    }
    std::thread::scope(|scope| {
        let model = scope.spawn(|| Embedder::load(&places.model));
        let store = open_store(places)?;
        let embedder = model
            .join()
            .map_err(|_| anyhow::anyhow!("loading the embedding model failed"))??;
        let vectors = store.vectors(&embedder)?;
        Ok(Loaded {
            store,
            meaning: Some((embedder, vectors)),
        })
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
    Ok(IndexSummary {
        loaded,
        papers_read,
        update,
        seconds: started.elapsed().as_secs_f64(),
    })
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

fn print_search(response: &SearchResponse, json: bool) -> Result<()> {
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
