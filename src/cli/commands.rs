//! One function per command: arguments in, library calls, output through `print`.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use paperscope::compose::{self, Selection};
use paperscope::digest::{self, Format, OnBadFile};
use paperscope::eval;
use paperscope::hybrid::Fusion;
use paperscope::query::Filters;
use paperscope::references::Reference;
use paperscope::search::{Mode, Page, RelatedRequest, SearchRequest, TopicLevel};
use paperscope::topics::{Representation, TopicParams};
use paperscope::update::{self, UpdateOptions};
use paperscope::{Engine, ModelSource, Needs, Store};

use super::args::{FilterArgs, FusionArgs, PageArgs, ResultFormat};
use super::print;
use super::progress::Bars;

/// Where the index is built from on first use when no index was named.
pub const DEFAULT_DATA: &str = "data/digests";
/// The index used when none is named.
pub const DEFAULT_INDEX: &str = "index";

/// The global options every command shares.
pub struct Context {
    /// The index directory.
    pub index: PathBuf,
    /// Whether `--index` (or `$PAPERSCOPE_INDEX`) named it.
    pub explicit_index: bool,
    /// The embedding model.
    pub model: ModelSource,
    /// `--json`.
    pub json: bool,
}

/// How `search` and `related` list their results.
pub struct Listing {
    /// `-n/--limit`.
    pub limit: usize,
    /// `--offset` and `--sort`.
    pub page: PageArgs,
    /// `--explain`.
    pub explain: bool,
    /// `--format` (JSON when `--json`).
    pub format: ResultFormat,
}

impl Listing {
    /// The listing `search` and `related` were asked for.
    pub fn new(limit: usize, page: PageArgs, explain: bool, format: ResultFormat) -> Self {
        Listing {
            limit,
            page,
            explain,
            format,
        }
    }

    fn page(&self) -> Page {
        Page {
            offset: self.page.offset,
            limit: self.limit,
            sort: self.page.sort.into(),
        }
    }
}

impl Context {
    /// The format a listing is printed in: `--json` means JSON for every command.
    pub fn format(&self, format: ResultFormat) -> ResultFormat {
        if self.json {
            ResultFormat::Json
        } else {
            format
        }
    }

    /// The engine `topics` and `topic` need at `level`: the words only, unless the coarse level
    /// has to be merged from the vectors (an index written before it was stored).
    fn topics_engine(&self, level: TopicLevel) -> Result<Engine> {
        let engine = self.engine(Needs::Words)?;
        if level == TopicLevel::Coarse && !engine.store().has_coarse_topics() {
            return self.engine(Needs::Meaning);
        }
        Ok(engine)
    }

    fn bars(&self) -> Bars {
        Bars::new(self.json)
    }

    /// The default index is built from the sample data on first use so that a newcomer's
    /// first command works in a clone. Where there is no sample data (an installed binary run
    /// anywhere else) nothing is written: the error says how to make or name an index. An
    /// index named explicitly must exist.
    fn ensure_index(&self) -> Result<()> {
        self.ensure_index_then(false)
    }

    /// [`Context::ensure_index`]; with `defer_embedding`, a new index is ready once its words
    /// are (the caller finishes the vectors: the server, in the background).
    fn ensure_index_then(&self, defer_embedding: bool) -> Result<()> {
        if !self.explicit_index && !Store::exists(&self.index) {
            let data = PathBuf::from(DEFAULT_DATA);
            if digest::find_digests(std::slice::from_ref(&data))
                .files
                .is_empty()
            {
                bail!(
                    "no index at {} and no digests at {} to build one from: make one with \
                     `paperscope index DIR` (DIR: your digest files), or name one with --index \
                     DIR or $PAPERSCOPE_INDEX",
                    print::dir(&self.index),
                    print::dir(&data)
                );
            }
            eprintln!(
                "No index at {} yet: building it from {} (once).",
                print::dir(&self.index),
                print::dir(&data)
            );
            let report = index_with(
                self,
                &[PathBuf::from(DEFAULT_DATA)],
                false,
                OnBadFile::Skip,
                defer_embedding,
            )?;
            eprintln!("{}", print::index_summary(&report));
        }
        Ok(())
    }

    fn engine(&self, needs: Needs) -> Result<Engine> {
        self.ensure_index()?;
        match Engine::open(&self.index, &self.model, needs) {
            Ok(engine) => {
                if engine.meaning_error().is_some() {
                    self.same_model(engine.store())?;
                }
                Ok(engine)
            }
            Err(error @ paperscope::Error::ModelMismatch { .. }) => {
                self.same_model(&Store::open(&self.index)?)?;
                Err(error.into())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// An index is searched with the model that built it. With another built-in model a hybrid
    /// search could only answer by keywords, which is not what was asked for: refuse, naming
    /// the `--model` that fits. (A model directory is compared by the library, whose error or
    /// warning names both models.)
    fn same_model(&self, store: &Store) -> Result<()> {
        let ModelSource::Shipped(asked) = &self.model else {
            return Ok(());
        };
        let (asked, built) = (*asked, store.manifest.model.kind);
        if built != asked {
            bail!(
                "index {} was built with the {} model, and this command would use {}: add \
                 `--model {}`, or embed the index again for {} with `paperscope --model {} \
                 index --index {} --rebuild <digests>`",
                print::dir(&self.index),
                built.name(),
                asked.name(),
                built.name(),
                asked.name(),
                asked.name(),
                self.index.display()
            );
        }
        Ok(())
    }
}

fn index_with(
    ctx: &Context,
    inputs: &[PathBuf],
    rebuild: bool,
    on_bad_file: OnBadFile,
    defer_embedding: bool,
) -> Result<update::IndexReport> {
    let embedder = ctx.model.load()?;
    // Ctrl-C while embedding keeps what was embedded (the next run continues from it).
    super::progress::stop_on_signals();
    let options = UpdateOptions {
        rebuild,
        shared_cache: paperscope::embed::cache::shared_cache_dir(),
        defer_embedding,
        ..UpdateOptions::default()
    };
    let report = update::index_files_with(
        &ctx.index,
        inputs,
        on_bad_file,
        &embedder,
        options,
        &ctx.bars(),
    )
    .map_err(|e| {
        anyhow::Error::new(e).context(format!("index {} was left as it was", ctx.index.display()))
    })?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    if let update::Update::Written { notices, .. } = &report.update {
        for notice in notices {
            eprintln!("warning: {notice}");
        }
    }
    for skipped in &report.skipped {
        eprintln!("{}", print::skipped(skipped));
    }
    Ok(report)
}

impl FilterArgs {
    fn filters(&self) -> paperscope::Result<Filters> {
        Filters::new(&self.category, self.since.as_deref(), self.until.as_deref())
    }
}

impl FusionArgs {
    /// The fusion the flags ask for; `None` when they ask for none (the request's default).
    fn asked(&self) -> Option<Fusion> {
        match (self.alpha, self.rrf) {
            (Some(alpha), _) => Some(Fusion::Convex { alpha }),
            (None, true) => Some(Fusion::Rrf { k: 60.0 }),
            (None, false) => None,
        }
    }
}

/// `index`: add or update papers from digests. Bad files are skipped with a warning unless
/// `strict`, when the first one fails the run before anything is written.
pub fn index(ctx: &Context, inputs: Vec<PathBuf>, rebuild: bool, strict: bool) -> Result<()> {
    let inputs = if inputs.is_empty() {
        let data = PathBuf::from(DEFAULT_DATA);
        if !data.is_dir() {
            bail!(
                "no digests named, and no {} here to index by default: give the digest files \
                 or directories (`paperscope index DIR`)",
                print::dir(&data)
            );
        }
        vec![data]
    } else {
        inputs
    };
    let on_bad_file = if strict {
        OnBadFile::Fail
    } else {
        OnBadFile::Skip
    };
    let report = index_with(ctx, &inputs, rebuild, on_bad_file, false)?;
    if ctx.json {
        print::json(&report)
    } else {
        println!("{}", print::index_summary(&report));
        Ok(())
    }
}

/// How `search` ranks: the mode, the fusion flags, and whether meaning feedback may follow.
pub struct Ranking<'a> {
    /// Words, meaning or both.
    pub mode: Mode,
    /// `--alpha` / `--rrf`.
    pub fusion: &'a FusionArgs,
    /// Not `--no-feedback`.
    pub feedback: bool,
}

/// `search`: ranked papers for a query.
pub fn search(
    ctx: &Context,
    query: &[String],
    filters: &FilterArgs,
    how: &Listing,
    ranking: Ranking,
) -> Result<()> {
    let mode = ranking.mode;
    let request = SearchRequest::new(query.join(" "))
        .mode(mode)
        .filters(filters.filters()?)
        .page(how.page())
        .fusion_if(ranking.fusion.asked())
        .feedback(ranking.feedback);
    // Checked before the engine opens: a mistyped value fails at once, not after the load.
    request.check()?;
    let engine = ctx.engine(Needs::for_mode(mode))?;
    let response = engine.search(&request)?;
    let printed = print::search(&response, how.format, how.explain);
    exiting(engine);
    printed
}

/// The command ends the process next: tearing down the engine (85 MB of model weights, the
/// text index's readers) would only delay an exit that frees it all at once.
fn exiting(engine: Engine) {
    std::mem::forget(engine);
}

/// `related`: papers like some papers or a text.
pub fn related(
    ctx: &Context,
    ids: Vec<String>,
    text: Option<String>,
    filters: &FilterArgs,
    how: &Listing,
    fusion: &FusionArgs,
) -> Result<()> {
    let request = RelatedRequest::from_parts(ids, text)?
        .filters(filters.filters()?)
        .page(how.page())
        .fusion_if(fusion.asked());
    request.check()?;
    let engine = ctx.engine(Needs::Meaning)?;
    let response = engine.related(&request)?;
    let printed = print::search(&response, how.format, how.explain);
    exiting(engine);
    printed
}

/// `show`: one paper in full.
pub fn show(ctx: &Context, arxiv_id: &str) -> Result<()> {
    let paper = ctx.engine(Needs::Words)?.paper(arxiv_id)?;
    if ctx.json {
        print::json(&paper)
    } else {
        print::paper(&paper);
        Ok(())
    }
}

/// `stats`: counts per category and month, and the index generation they are of (the number
/// `export --since-generation` takes).
pub fn stats(ctx: &Context) -> Result<()> {
    let engine = ctx.engine(Needs::Words)?;
    let stats = paperscope::stats::compute(&engine.papers()?);
    let generation = engine.store().manifest.generation;
    let papers_with_vectors = engine.store().manifest.papers_with_vectors();
    // A cache this user cannot read does not fail the command: it is reported as unavailable.
    let cache = super::cache::usage().unwrap_or(None);
    if ctx.json {
        let mut view = serde_json::to_value(print::StatsView {
            generation,
            papers_with_vectors,
            stats: &stats,
        })?;
        view["embedding_cache"] = serde_json::to_value(&cache)?;
        print::json(&view)
    } else {
        print::stats(&stats, generation, papers_with_vectors);
        super::cache::print_usage(cache.as_ref());
        Ok(())
    }
}

/// `topics`: the topics (after a refit, when asked), or their papers over time.
pub fn topics(
    ctx: &Context,
    refit: Option<TopicParams>,
    over_time: bool,
    level: TopicLevel,
) -> Result<()> {
    if let Some(params) = refit {
        ctx.ensure_index()?;
        let embedder = ctx.model.load()?;
        let done = update::refit_topics(&ctx.index, &embedder, params, &ctx.bars())?;
        if !ctx.json {
            eprintln!(
                "Refitted {} topics over {} papers ({} kept their ids) in generation {}.",
                done.topics, done.papers, done.kept_ids, done.generation
            );
        }
    }
    let engine = ctx.topics_engine(level)?;
    let model = engine.topics(level)?;
    if over_time {
        let table = paperscope::topics::over_time(&engine.papers()?, &model);
        return if ctx.json {
            print::json(&table)
        } else {
            print::over_time(&model, &table);
            Ok(())
        };
    }
    if ctx.json {
        print::json(&paperscope::topics::TopicsView::of(&model))
    } else {
        print::topics(&engine, &model)
    }
}

/// `topic`: one topic's papers.
pub fn topic(
    ctx: &Context,
    id: usize,
    limit: usize,
    level: TopicLevel,
    format: ResultFormat,
) -> Result<()> {
    let engine = ctx.topics_engine(level)?;
    let model = engine.topics(level)?;
    if !model.topics.iter().any(|t| t.id == id) {
        let list = match level {
            TopicLevel::Fine => "paperscope topics",
            TopicLevel::Coarse => "paperscope topics --level coarse",
        };
        return Err(paperscope::Error::invalid(
            "topic",
            format!("no topic {id} at this level: `{list}` lists them"),
        )
        .into());
    }
    let (topic, papers) = engine.topic(&model, id, limit)?;
    if let Some(references) = format.references() {
        let rows: Vec<Reference> = papers.iter().map(Reference::of_paper).collect();
        print::export(&rows, references);
        return Ok(());
    }
    match format {
        ResultFormat::Json => print::json(&paperscope::topics::TopicPapers {
            topic: topic.clone(),
            papers,
        }),
        _ => {
            print::topic(topic, &papers);
            Ok(())
        }
    }
}

/// `digest`: a new digest of chosen papers.
pub fn digest(
    ctx: &Context,
    mut selection: Selection,
    ids_file: Option<&Path>,
    filters: &FilterArgs,
    format: Format,
    output: Option<&Path>,
) -> Result<()> {
    // `--json` means what it means for every command: one JSON document.
    let format = if ctx.json { Format::Json } else { format };
    selection.filters = filters.filters()?;
    selection.ids = ids_file.map(compose::read_id_file).transpose()?;
    selection.check()?;
    let engine = ctx.engine(Needs::Meaning)?;
    let composed = compose::compose(&engine, &selection, &ctx.bars())?;
    if !composed.unknown_ids.is_empty() {
        eprintln!(
            "warning: {} ids of {} are not in the index: {}",
            composed.unknown_ids.len(),
            ids_file
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            composed.unknown_ids.join(", ")
        );
    }
    let text = composed.write(format)?;
    match output {
        Some(path) => {
            paperscope::atomic::write_atomically(path, text.as_bytes())?;
            eprintln!(
                "Wrote {} papers in {} sections to {}.",
                composed.paper_count(),
                composed.section_count(),
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// `eval search`: retrieval quality of every ranking method on a judged query file.
pub fn eval_search(ctx: &Context, queries: &Path) -> Result<()> {
    let queries = eval::load_queries(queries)?;
    let engine = ctx.engine(Needs::Meaning)?;
    let reports = eval::evaluate_methods(&engine, &queries)?;
    if ctx.json {
        print::json(&reports)
    } else {
        print::eval(&reports, queries.len());
        Ok(())
    }
}

/// `eval crosslingual`: the known-item test across languages.
pub fn eval_crosslingual(ctx: &Context, stride: usize) -> Result<()> {
    let engine = ctx.engine(Needs::Meaning)?;
    let papers = engine.papers()?;
    let Some(meaning) = engine.meaning() else {
        bail!("the vector index is not loaded");
    };
    let cache = engine.store().embedding_cache(&meaning.embedder)?;
    let report = eval::crosslingual(&meaning.embedder, &cache, &papers, stride, &ctx.bars());
    if ctx.json {
        print::json(&report)
    } else {
        print::crosslingual(&report, meaning.embedder.model_id());
        Ok(())
    }
}

/// `eval related`: precision@10 of `related` per judgement file, by its default scoring and by
/// today's fusion (`Fusion::RELATED`) beside it; for judged query files also reading lists of
/// two seeds, scored as a whole and as the mean of each seed's scores.
pub fn eval_related(ctx: &Context, queries: &[PathBuf], sets: &[PathBuf]) -> Result<()> {
    use paperscope::hybrid::Fusion;
    use paperscope::search::RelatedParams;
    let mut engine = ctx.engine(Needs::Meaning)?;
    let mut cases = Vec::new();
    for path in queries {
        let judged = eval::load_queries(path)?;
        cases.push((
            path.display().to_string(),
            eval::cases_from_queries(&judged),
        ));
        let lists = eval::list_cases_from_queries(&judged, 2);
        cases.push((format!("{} (lists of 2)", path.display()), lists));
    }
    for path in sets {
        let judged = eval::load_queries(path)?;
        cases.push((path.display().to_string(), eval::cases_from_sets(&judged)));
    }
    let mut reports = Vec::new();
    for (name, cases) in &cases {
        let default = eval::evaluate_related(&engine, cases, None)?;
        let today = eval::evaluate_related(&engine, cases, Some(Fusion::RELATED))?;
        reports.push((name.clone(), default, today));
    }
    // The other way to score a reading list, for comparison with the default.
    let default_whole = RelatedParams::default().whole_list;
    let other = if default_whole {
        "mean of seeds"
    } else {
        "as a whole"
    };
    let mut lists_by_mean = Vec::new();
    engine.set_related_params(RelatedParams {
        whole_list: !default_whole,
        ..RelatedParams::default()
    });
    for (name, cases) in cases.iter().filter(|(n, _)| n.ends_with("(lists of 2)")) {
        let mean = eval::evaluate_related(&engine, cases, None)?;
        lists_by_mean.push((
            name.replace("lists of 2", &format!("lists of 2, {other}")),
            mean,
        ));
    }
    if ctx.json {
        let mut by_file: Vec<serde_json::Value> = reports
            .iter()
            .map(|(name, report, today)| {
                serde_json::json!({"file": name, "report": report, "today": today})
            })
            .collect();
        by_file.extend(
            lists_by_mean
                .iter()
                .map(|(name, report)| serde_json::json!({"file": name, "report": report})),
        );
        print::json(&by_file)
    } else {
        print::related_quality(&reports, &lists_by_mean);
        Ok(())
    }
}

/// `eval ann`: HNSW recall against exact search.
pub fn eval_ann(ctx: &Context, stride: usize) -> Result<()> {
    let engine = ctx.engine(Needs::Meaning)?;
    let Some(meaning) = engine.meaning() else {
        bail!("the vector index is not loaded");
    };
    let report = eval::ann_recall(
        &engine,
        &[16, 32, 64, 128, 192, 256, 512, 1024, 1152, 1536],
        stride,
    )?;
    if ctx.json {
        print::json(&report)
    } else {
        print::ann(&report, meaning.vectors.params());
        Ok(())
    }
}

/// `eval topics`: quality of a fresh fit (the index's topics are left as they are).
pub fn eval_topics(
    ctx: &Context,
    topics: Option<usize>,
    representation: Representation,
) -> Result<()> {
    let params = TopicParams {
        topics,
        representation,
        ..TopicParams::default()
    };
    let engine = ctx.engine(Needs::Meaning)?;
    let papers = engine.papers()?;
    let Some(meaning) = engine.meaning() else {
        bail!("the vector index is not loaded");
    };
    let by_paper = meaning.vectors.by_paper(papers.len());
    let model = update::fit_topics(&papers, &by_paper, params, &ctx.bars());
    let quality = eval::topic_quality(&papers, &model);
    if ctx.json {
        print::json(&quality)
    } else {
        print::topic_quality(&quality);
        Ok(())
    }
}

/// `check`: verifies the whole index; exits 1 (after the report) when anything is wrong.
pub fn check(ctx: &Context) -> Result<()> {
    if !ctx.index.exists() {
        return Err(paperscope::Error::IndexMissing {
            path: ctx.index.clone(),
        }
        .into());
    }
    let report = paperscope::store::check(&ctx.index);
    let cache = super::cache::usage().unwrap_or(None);
    if ctx.json {
        let mut view = serde_json::to_value(&report)?;
        view["embedding_cache"] = serde_json::to_value(&cache)?;
        print::json(&view)?;
    } else {
        print::check(&report);
        super::cache::print_usage(cache.as_ref());
    }
    match &report.recover {
        Some(command) => bail!(
            "index {} is damaged ({} problem(s)); recover with `{command}`",
            ctx.index.display(),
            report.problems.len()
        ),
        None => Ok(()),
    }
}

/// `serve`: the HTTP API and web page, until interrupted. Prints the address it listens on
/// (with `--json`, as `{"url": ...}`) once it accepts connections.
pub fn serve(ctx: &Context, bind: std::net::SocketAddr, watch: Option<&Path>) -> Result<()> {
    if let Some(dir) = watch {
        // The directory is checked, and what it holds indexed, before the server opens.
        check_watch_dir(dir)?;
    }
    ctx.ensure_index_then(true)?;
    let state = paperscope::server::AppState::open(&ctx.index, &ctx.model)?;
    let engine = state.engine();
    if engine.meaning_error().is_some() {
        ctx.same_model(engine.store())?;
    }
    let listener = paperscope::server::bind(bind)?;
    let url = format!("http://{}/", listener.local_addr()?);
    print::serving(ctx.json, &url, &engine)?;
    if !engine.store().manifest.vectors_complete() {
        finish_in_background(ctx, engine.store().manifest.papers_with_vectors());
    }
    drop(engine);
    if let Some(dir) = watch {
        let embedder = ctx.model.load()?;
        let (dir, index, json) = (dir.to_path_buf(), ctx.index.clone(), ctx.json);
        // The watcher writes generations; the server's live engine switches to each one.
        std::thread::spawn(move || {
            let stop = std::sync::atomic::AtomicBool::new(false);
            let options = paperscope::watch::WatchOptions::default();
            let mut log = |event| print::watch_event(json, &event);
            if let Err(e) =
                paperscope::watch::watch(&dir, &index, &embedder, options, &stop, &mut log)
            {
                eprintln!("error: {e}");
            }
        });
    }
    paperscope::server::run(listener, state)?;
    Ok(())
}

/// Embeds what the served index lacks on a thread of its own, so a lab's server becomes fully
/// hybrid without anyone running a command; a writer holding the lock (an `index` run) is
/// waited for, and whatever it leaves unfinished is taken up.
fn finish_in_background(ctx: &Context, covered: usize) {
    let (index, model) = (ctx.index.clone(), ctx.model.clone());
    std::thread::spawn(move || {
        let embedder = match model.load() {
            Ok(embedder) => embedder,
            Err(e) => return eprintln!("error: cannot embed the rest of the index: {e}"),
        };
        eprintln!(
            "Meaning covers {} papers so far: embedding the rest in the background.",
            print::count(covered)
        );
        let options = UpdateOptions {
            shared_cache: paperscope::embed::cache::shared_cache_dir(),
            ..UpdateOptions::default()
        };
        // Half the cores (at least one): the server's queries keep the others.
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get() / 2)
            .max(1);
        let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
            Ok(pool) => pool,
            Err(e) => return eprintln!("error: cannot embed the rest of the index: {e}"),
        };
        loop {
            let finished = pool.install(|| {
                update::finish_embedding(&index, &embedder, &options, &paperscope::progress::Quiet)
            });
            match finished {
                Ok(update::Update::Written {
                    generation, papers, ..
                }) => {
                    return eprintln!(
                        "Meaning covers all {} papers now (generation {generation}).",
                        print::count(papers)
                    );
                }
                Ok(update::Update::Unchanged { .. }) => return,
                Err(paperscope::Error::IndexLocked { .. }) => {
                    std::thread::sleep(std::time::Duration::from_secs(5));
                }
                Err(e) => return eprintln!("error: embedding the rest of the index: {e}"),
            }
        }
    });
}

fn check_watch_dir(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        bail!("--watch {}: not a directory", print::dir(dir));
    }
    Ok(())
}

/// `index --watch DIR`: the inputs first (when any are given), then DIR as files appear or
/// change in it, until interrupted (each write is a whole generation, so an interruption
/// leaves the index as the last write left it).
pub fn index_and_watch(
    ctx: &Context,
    inputs: Vec<PathBuf>,
    rebuild: bool,
    strict: bool,
    dir: &Path,
) -> Result<()> {
    check_watch_dir(dir)?;
    if !inputs.is_empty() || rebuild {
        index(ctx, inputs, rebuild, strict)?;
    }
    let embedder = ctx.model.load()?;
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut log = |event| print::watch_event(ctx.json, &event);
    paperscope::watch::watch(
        dir,
        &ctx.index,
        &embedder,
        paperscope::watch::WatchOptions::default(),
        &stop,
        &mut log,
    )?;
    Ok(())
}

/// `mcp`: the MCP tools on stdin/stdout until the client closes stdin. Stdout carries the
/// protocol only; the index must exist (building one here would outlast an assistant's wait
/// for the server to start).
pub fn mcp(ctx: &Context) -> Result<()> {
    if !Store::exists(&ctx.index) {
        return Err(paperscope::Error::IndexMissing {
            path: ctx.index.clone(),
        }
        .into());
    }
    let live =
        paperscope::search::LiveEngine::open(&ctx.index, &ctx.model, Needs::WordsAndMeaning)?;
    if live.current().meaning_error().is_some() {
        ctx.same_model(live.current().store())?;
    }
    paperscope::mcp::serve_stdio(live)?;
    Ok(())
}

/// `export`: the papers, their vectors and the loader's files for another engine.
pub fn export(
    ctx: &Context,
    format: paperscope::export::ExportFormat,
    out: &Path,
    since_generation: Option<u64>,
    queries: Option<&Path>,
) -> Result<()> {
    let queries = match queries {
        Some(path) => paperscope::export::load_query_texts(path)?,
        None => Vec::new(),
    };
    let options = paperscope::export::ExportOptions {
        format,
        since_generation,
        queries,
    };
    let engine = ctx.engine(Needs::Meaning)?;
    let report = paperscope::export::export(&engine, out, &options, &ctx.bars())?;
    if ctx.json {
        print::json(&report)
    } else {
        print::export_report(&report);
        Ok(())
    }
}
