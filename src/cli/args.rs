//! Every command and flag of `paperscope`, defined once (clap derive). Completions are generated
//! from these definitions, and library errors name parameters that [`flag_for`] maps back here.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use paperscope::digest::Format;
use paperscope::search::{Mode, Sort, TopicLevel};
use paperscope::topics::Representation;

/// Search and topics for bilingual arXiv paper digests.
#[derive(Parser)]
// `help_expected`: every flag says what it does (checked by the test below); `next_line_help`:
// one help layout for every command, since value lists with descriptions (--mode, --level)
// force clap into the next-line layout wherever they appear.
#[command(
    name = "paperscope",
    version,
    help_expected = true,
    next_line_help = true
)]
pub struct Cli {
    /// Index directory [default: index, or $PAPERSCOPE_INDEX]
    #[arg(long, global = true, env = "PAPERSCOPE_INDEX")]
    pub index: Option<PathBuf>,
    /// Print one JSON document instead of text
    #[arg(long, global = true)]
    pub json: bool,
    /// Embedding model: `e5` (multilingual-e5-small) or `static` (both built into paperscope),
    /// or a model directory (`./e5` for a directory of that name); an index is searched with
    /// the model it was built with. Used by the commands that embed text (index, search,
    /// related, topics, digest, eval), ignored by show, stats and check [default: e5]
    #[arg(long, global = true, env = "PAPERSCOPE_MODEL")]
    pub model: Option<PathBuf>,
    /// Colour the output: auto (on a terminal, unless $NO_COLOR is set), always or never
    #[arg(long, global = true, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
    /// The command
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Subcommand)]
pub enum Command {
    /// Add or update papers from digest files or directories of them
    Index {
        /// Digest .md files or directories [default: data/digests]
        inputs: Vec<PathBuf>,
        /// Re-embed every paper and refit the topics (needed after changing the model)
        #[arg(long)]
        rebuild: bool,
        /// Fail on the first bad file (unreadable, not UTF-8, too large, no papers) and write
        /// nothing, instead of skipping it with a warning
        #[arg(long)]
        strict: bool,
        /// Then keep watching DIR (recursively): index digest files that appear or change in
        /// it once they stand still, until interrupted
        #[arg(long, value_name = "DIR")]
        watch: Option<PathBuf>,
    },
    /// Search the papers (English, Chinese or both; "phrases", -excluded)
    Search {
        /// The query; several words may be given without quotes
        #[arg(required = true)]
        query: Vec<String>,
        #[command(flatten)]
        filters: FilterArgs,
        /// Number of results
        #[arg(short = 'n', long, default_value_t = paperscope::search::DEFAULT_LIMIT, value_parser = whole_number)]
        limit: usize,
        #[command(flatten)]
        page: PageArgs,
        /// Which ranking: hybrid (both, fused), bm25 (words) or vector (meaning, across languages)
        #[arg(long, value_enum, default_value_t = ModeArg::Hybrid)]
        mode: ModeArg,
        #[command(flatten)]
        fusion: FusionArgs,
        /// Rank by the first stage only: no meaning feedback from the first results (which
        /// runs for questions and sentences in hybrid and vector modes)
        #[arg(long)]
        no_feedback: bool,
        /// Show where each result came from (BM25 and vector ranks and scores)
        #[arg(long)]
        explain: bool,
        /// Output format (--json is the same as --format json)
        #[arg(long, value_enum, default_value_t = ResultFormat::Text)]
        format: ResultFormat,
    },
    /// Papers like a paper (or several together, or a text)
    Related {
        /// arXiv ids or arxiv.org URLs; several mean "papers like these together"
        ids: Vec<String>,
        /// Find papers like this text instead (e.g. an abstract)
        #[arg(long, conflicts_with = "ids")]
        text: Option<String>,
        #[command(flatten)]
        filters: FilterArgs,
        /// Number of results
        #[arg(short = 'n', long, default_value_t = paperscope::search::DEFAULT_LIMIT, value_parser = whole_number)]
        limit: usize,
        #[command(flatten)]
        page: PageArgs,
        #[command(flatten)]
        fusion: FusionArgs,
        /// Show where each result came from (BM25 and vector ranks and scores)
        #[arg(long)]
        explain: bool,
        /// Output format (--json is the same as --format json)
        #[arg(long, value_enum, default_value_t = ResultFormat::Text)]
        format: ResultFormat,
    },
    /// Show one paper in full
    Show {
        /// arXiv id, with or without version, or as pasted (2403.05266v1, arXiv:2403.05266,
        /// https://arxiv.org/abs/2403.05266)
        arxiv_id: String,
    },
    /// Counts of papers per category and month
    Stats,
    /// The collection grouped into topics, labelled in English and Chinese
    Topics {
        /// Fit the topics again (in a new generation); continuing topics keep their ids
        #[arg(long)]
        refit: bool,
        /// With --refit: target number of topics (default: about sqrt(papers / 15))
        #[arg(long, requires = "refit")]
        topics: Option<usize>,
        /// With --refit: topics smaller than this are merged into their neighbours
        #[arg(long, requires = "refit", default_value_t = 10)]
        min_size: usize,
        /// Paper counts per topic and year (per month with --json)
        #[arg(long)]
        over_time: bool,
        /// `coarse`: merge the closest topics into about a third as many broader ones
        #[arg(long, value_enum, default_value_t = LevelArg::Fine)]
        level: LevelArg,
    },
    /// The papers of one topic, closest to its centre first
    Topic {
        /// Topic id, as `paperscope topics` lists them
        id: usize,
        /// Number of papers
        #[arg(short = 'n', long, default_value_t = 20, value_parser = whole_number)]
        limit: usize,
        /// The level the id belongs to
        #[arg(long, value_enum, default_value_t = LevelArg::Fine)]
        level: LevelArg,
        /// Output format (--json is the same as --format json)
        #[arg(long, value_enum, default_value_t = ResultFormat::Text)]
        format: ResultFormat,
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
        /// Only the papers listed in this file (one arXiv id per line), in its order
        #[arg(long)]
        ids: Option<PathBuf>,
        /// Papers kept from --query
        #[arg(short = 'n', long, default_value_t = paperscope::compose::DEFAULT_DIGEST_LIMIT, value_parser = whole_number)]
        limit: usize,
        /// Related papers listed after each entry (0 to omit)
        #[arg(long, default_value_t = paperscope::compose::DEFAULT_DIGEST_RELATED)]
        related: usize,
        /// Output format
        #[arg(long, value_enum, default_value_t = FormatArg::Markdown)]
        format: FormatArg,
        /// Write to this file (atomically) instead of stdout
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
    },
    /// Measure retrieval quality and speed
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Print a shell completion script (e.g. `paperscope completions bash > ~/.local/share/bash-completion/completions/paperscope`)
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Verify the whole index (every checksum, the counts of its parts) and say how to recover
    Check,
    /// The per-user embedding cache shared by every index on this machine
    /// ($PAPERSCOPE_CACHE moves it; PAPERSCOPE_CACHE=off turns it off)
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Serve the HTTP API and the web page over the index (built from data/ first if missing);
    /// picks up new generations written by `paperscope index` without a restart
    Serve {
        /// Address and port to listen on (port 0: any free port, printed at start)
        #[arg(long, default_value = "127.0.0.1:7878")]
        bind: std::net::SocketAddr,
        /// Also watch DIR (recursively): digest files that appear or change in it are indexed
        /// once they stand still, and served from then on
        #[arg(long, value_name = "DIR")]
        watch: Option<PathBuf>,
    },
    /// Serve the search, related, paper, topic, digest and stats tools to an assistant over MCP
    /// on stdin/stdout (what desktop assistants launch); `serve` offers them at /mcp
    Mcp,
    /// Write the papers, their vectors and the schema/mapping for another engine (Qdrant,
    /// Milvus, OpenSearch, or JSON lines), to load them there
    Export {
        /// The engine the files are for
        #[arg(long, value_enum)]
        format: ExportFormatArg,
        /// Directory to write into (created if missing; files of the same names are replaced)
        #[arg(long)]
        out: PathBuf,
        /// Only papers added or changed after this index generation (the one the last export
        /// printed and wrote into export.json; `stats` shows the index's current one)
        #[arg(long)]
        since_generation: Option<u64>,
        /// Also write paperscope's vectors of these queries to queries.jsonl (TSV:
        /// qid<TAB>query, further columns ignored, as in tests/queries.tsv)
        #[arg(long)]
        queries: Option<PathBuf>,
    },
}

/// `export --format` values.
#[derive(Clone, Copy, ValueEnum)]
pub enum ExportFormatArg {
    /// One JSON object per paper: fields, BM25 text, vector
    Jsonl,
    /// Qdrant: collection config, payload indexes, points
    Qdrant,
    /// Milvus: schema with a BM25 function over jieba-analysed text, rows
    Milvus,
    /// OpenSearch: index mapping, bulk NDJSON, hybrid search pipeline
    Opensearch,
}

impl From<ExportFormatArg> for paperscope::export::ExportFormat {
    fn from(arg: ExportFormatArg) -> Self {
        use paperscope::export::ExportFormat;
        match arg {
            ExportFormatArg::Jsonl => ExportFormat::Jsonl,
            ExportFormatArg::Qdrant => ExportFormat::Qdrant,
            ExportFormatArg::Milvus => ExportFormat::Milvus,
            ExportFormatArg::Opensearch => ExportFormat::Opensearch,
        }
    }
}

/// What to do with the shared embedding cache.
#[derive(Subcommand, Clone, Copy)]
pub enum CacheCommand {
    /// Where it is and how large (files, texts, bytes)
    Info,
    /// Drop damaged records, torn tails and second copies of a text
    Prune,
    /// Delete it (every text is embedded again when next needed)
    Clear,
}

/// The measurements.
#[derive(Subcommand)]
pub enum EvalCommand {
    /// MRR@10, nDCG@10, Recall@10/100 and latency over a judged query file
    Search {
        /// TSV: qid<TAB>query<TAB>id,id:2,... (see tests/queries.tsv)
        #[arg(long, default_value = "tests/queries.tsv")]
        queries: PathBuf,
    },
    /// Cross-lingual known-item test: each paper's Chinese summary must find its English side
    Crosslingual {
        /// Use every Nth paper's texts as queries (all papers stay documents)
        #[arg(long, default_value_t = 1)]
        stride: usize,
    },
    /// Topic quality: NMI/ARI against arXiv categories, label coherence (NPMI) and diversity
    /// (fits afresh; the saved topic model is left as it is)
    Topics {
        /// Target number of topics (default: about sqrt(papers / 15))
        #[arg(long)]
        topics: Option<usize>,
        /// What papers are clustered by
        #[arg(long, value_enum, default_value_t = RepresentationArg::Lsa)]
        representation: RepresentationArg,
    },
    /// `related` precision@10: seeds from judged queries (each highly relevant paper) and from
    /// judged related sets (qid<TAB>seed id<TAB>id,id:2,...)
    Related {
        /// Judged query files whose highly relevant papers are seeds
        #[arg(long, default_values = ["tests/queries.tsv", "tests/queries_heldout.tsv"])]
        queries: Vec<PathBuf>,
        /// Judged related-set files
        #[arg(long)]
        sets: Vec<PathBuf>,
    },
    /// HNSW recall@10 against exact search, and latency, for several ef values
    Ann {
        /// Use every Nth paper's vector as a query
        #[arg(long, default_value_t = 8)]
        stride: usize,
    },
}

/// Category and date filters, shared by the commands that choose papers.
#[derive(clap::Args)]
pub struct FilterArgs {
    /// Only papers in this category or archive (cs.CL, cs); comma-separated for several
    #[arg(long)]
    pub category: Vec<String>,
    /// Only papers first submitted in or after this month (YYYY-MM, YYYY-MM-DD or YYYY)
    #[arg(long)]
    pub since: Option<String>,
    /// Only papers first submitted in or before this month
    #[arg(long)]
    pub until: Option<String>,
}

/// Paging and order, shared by `search` and `related`.
#[derive(clap::Args)]
pub struct PageArgs {
    /// Skip this many results first (the next page: --offset 10 with -n 10)
    #[arg(long, default_value_t = 0, value_parser = whole_number)]
    pub offset: usize,
    /// Order: relevance, or date (newest first among the 100 most relevant, ties by score)
    #[arg(long, value_enum, default_value_t = SortArg::Relevance)]
    pub sort: SortArg,
}

/// `--sort` values.
#[derive(Clone, Copy, ValueEnum)]
pub enum SortArg {
    /// Best first
    Relevance,
    /// Newest first by month of first submission (from the arXiv id), ties best first
    Date,
}

impl From<SortArg> for Sort {
    fn from(arg: SortArg) -> Sort {
        match arg {
            SortArg::Relevance => Sort::Relevance,
            SortArg::Date => Sort::Date,
        }
    }
}

/// `--format` values of the commands that list papers.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResultFormat {
    /// For reading in a terminal
    Text,
    /// One JSON document
    Json,
    /// One @misc entry per paper, for a reference manager
    Bibtex,
    /// A CSL-JSON array, for Zotero, Mendeley or a citeproc processor
    CslJson,
    /// RIS records, for EndNote, Zotero or Mendeley
    Ris,
    /// A header and one row per paper (RFC 4180 quoting)
    Csv,
}

impl ResultFormat {
    /// The reference format this is, for the formats that are exports.
    pub fn references(self) -> Option<paperscope::references::ReferenceFormat> {
        use paperscope::references::ReferenceFormat;
        match self {
            ResultFormat::Text | ResultFormat::Json => None,
            ResultFormat::Bibtex => Some(ReferenceFormat::Bibtex),
            ResultFormat::CslJson => Some(ReferenceFormat::CslJson),
            ResultFormat::Ris => Some(ReferenceFormat::Ris),
            ResultFormat::Csv => Some(ReferenceFormat::Csv),
        }
    }
}

/// `--color` values (ripgrep's convention).
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    /// On a terminal, unless $NO_COLOR is set
    Auto,
    /// Always, even into a pipe
    Always,
    /// Never
    Never,
}

/// How the two rankings are fused.
#[derive(clap::Args)]
pub struct FusionArgs {
    /// Weight of the vector side in [0, 1], BM25 taking the rest [default: 0.35 in search
    /// (with `--model static`: set per query by how close the nearest paper is)]; in related it
    /// chooses the older ranking (BM25 more-like-this and vectors) over the word and meaning
    /// similarities fused by z-scores
    #[arg(long)]
    pub alpha: Option<f32>,
    /// Reciprocal rank fusion (k = 60) instead of score fusion
    #[arg(long, conflicts_with = "alpha")]
    pub rrf: bool,
}

/// `--mode` values.
#[derive(Clone, Copy, ValueEnum)]
pub enum ModeArg {
    /// Both: each paper's BM25 and vector scores combined, weighted by --alpha
    Hybrid,
    /// Words: BM25 over the bilingual text
    Bm25,
    /// Meaning: nearest paper vectors, across languages
    Vector,
}

impl From<ModeArg> for Mode {
    fn from(arg: ModeArg) -> Mode {
        match arg {
            ModeArg::Hybrid => Mode::Hybrid,
            ModeArg::Bm25 => Mode::Bm25,
            ModeArg::Vector => Mode::Vector,
        }
    }
}

/// `--level` values.
#[derive(Clone, Copy, ValueEnum)]
pub enum LevelArg {
    /// The fitted topics
    Fine,
    /// About a third as many broader topics
    Coarse,
}

impl From<LevelArg> for TopicLevel {
    fn from(arg: LevelArg) -> TopicLevel {
        match arg {
            LevelArg::Fine => TopicLevel::Fine,
            LevelArg::Coarse => TopicLevel::Coarse,
        }
    }
}

/// `--format` values.
#[derive(Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// The input's Markdown digest format
    Markdown,
    /// One self-contained HTML page
    Html,
    /// Sections and papers as JSON
    Json,
}

impl From<FormatArg> for Format {
    fn from(arg: FormatArg) -> Format {
        match arg {
            FormatArg::Markdown => Format::Markdown,
            FormatArg::Html => Format::Html,
            FormatArg::Json => Format::Json,
        }
    }
}

/// `--representation` values.
#[derive(Clone, Copy, ValueEnum)]
pub enum RepresentationArg {
    /// LSA of the TF-IDF of the analyzers' terms (measured best)
    Lsa,
    /// The paper embedding vectors
    Vectors,
    /// Both, concatenated with equal weight
    Both,
}

impl From<RepresentationArg> for Representation {
    fn from(arg: RepresentationArg) -> Representation {
        match arg {
            RepresentationArg::Lsa => Representation::Lsa,
            RepresentationArg::Vectors => Representation::Vectors,
            RepresentationArg::Both => Representation::Both,
        }
    }
}

/// A count or position: one with more digits than this machine's whole numbers hold is called
/// too large, with the largest (not "not a number", as the standard parser's error reads).
fn whole_number(text: &str) -> Result<usize, String> {
    text.trim().parse::<usize>().map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow => {
            format!("too large (the largest is {})", usize::MAX)
        }
        _ => "not a whole number".to_string(),
    })
}

/// The flag a library parameter name comes from, for error messages.
pub fn flag_for(parameter: &str) -> String {
    match parameter {
        "limit" => "-n/--limit".into(),
        "arxiv_id" => "ARXIV_ID".into(),
        // `related`'s papers: the ids are its positional arguments, a text the alternative.
        "ids" => "ARXIV_ID (or --text)".into(),
        "output" => "-o/--output".into(),
        "query" => "QUERY".into(),
        "selection" => "the selection (--query, --ids, --category, --since, --until)".into(),
        "topic" => "ID".into(),
        other if other.chars().all(|c| c.is_ascii_lowercase() || c == '_') => {
            format!("--{}", other.replace('_', "-"))
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// clap's own consistency checks, and `help_expected`: a flag without help text fails here.
    #[test]
    fn every_flag_has_help() {
        Cli::command().debug_assert();
    }
}
