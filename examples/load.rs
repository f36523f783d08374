//! Load test of `paperscope serve` over loopback: the server as its own process, clients on
//! threads, each phase reporting throughput, p50/p99 latency, errors and the server's memory.
//!
//! cargo build --release && cargo run --release --example load -- [--index index] [--seconds 20]
//!   [--clients 32] [--json]
//!
//! Phases: one client alone for the latency of bm25 and of hybrid searches (the `took` of a
//! request includes the HTTP round trip), and of hybrid searches with queries never seen; 32 clients of hybrid searches only (throughput); then
//! the mixed load (search, related, paper) for `--seconds`, with the server's resident memory
//! (VmRSS) and its peak (VmHWM) read from /proc at its start, middle and end.
//! Queries are those of tests/queries.tsv, ids the papers they judge relevant; the unseen-query
//! phase asks queries no phase asked before, so each pays its query embedding.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;

struct Options {
    index: PathBuf,
    seconds: u64,
    clients: usize,
    json: bool,
}

fn options() -> Result<Options> {
    let mut options = Options {
        index: PathBuf::from("index"),
        seconds: 20,
        clients: 32,
        json: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().context("a value after the flag");
        match arg.as_str() {
            "--index" => options.index = PathBuf::from(value()?),
            "--seconds" => options.seconds = value()?.parse()?,
            "--clients" => options.clients = value()?.parse()?,
            "--json" => options.json = true,
            other => bail!("unknown argument {other} (see the doc comment)"),
        }
    }
    Ok(options)
}

/// The server process; killed when dropped.
struct ServerProcess {
    child: Child,
    base: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(index: &PathBuf) -> Result<ServerProcess> {
    let binary =
        std::env::var("PAPERSCOPE_BIN").unwrap_or_else(|_| "target/release/paperscope".into());
    let mut child = Command::new(&binary)
        .args(["--json", "--index"])
        .arg(index)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {binary}"))?;
    let stdout = child.stdout.take().context("server stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let ready: serde_json::Value = serde_json::from_str(&line)
        .with_context(|| format!("the server's first line: {line:?}"))?;
    let base = ready["url"]
        .as_str()
        .context("url")?
        .trim_end_matches('/')
        .to_string();
    Ok(ServerProcess { child, base })
}

/// VmRSS and VmHWM of `pid`, in MiB.
fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The requests of each kind, cycled through by the clients.
struct Requests {
    hybrid: Vec<String>,
    bm25: Vec<String>,
    related: Vec<String>,
    paper: Vec<String>,
    /// Hybrid searches whose query text the server has not embedded before (each used once).
    unseen: Vec<String>,
}

/// The (query, judged ids) rows of a judged query file.
fn judged_rows(path: &str) -> Result<Vec<(String, Vec<String>)>> {
    let text = std::fs::read_to_string(path).context(path.to_string())?;
    Ok(text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let query = cols.nth(1)?.to_string();
            let ids = cols
                .next()?
                .split(',')
                .map(|id| id.split(':').next().unwrap_or(id).to_string())
                .collect();
            Some((query, ids))
        })
        .collect())
}

/// Queries no other phase asks: the held-out and paraphrase queries, then every ordered pair of
/// two tuned queries (a researcher refining a search), so that each one pays its embedding.
fn unseen_queries(rows: &[(String, Vec<String>)]) -> Result<Vec<String>> {
    let mut queries: Vec<String> = Vec::new();
    for file in ["tests/queries_heldout.tsv", "tests/queries_paraphrase.tsv"] {
        queries.extend(judged_rows(file)?.into_iter().map(|(q, _)| q));
    }
    for (a, _) in rows {
        queries.extend(
            rows.iter()
                .filter(|(b, _)| b != a)
                .map(|(b, _)| format!("{a} {b}")),
        );
    }
    Ok(queries
        .iter()
        .map(|q| format!("/api/search?q={}", encode(q)))
        .collect())
}

fn requests() -> Result<Requests> {
    let rows = judged_rows("tests/queries.tsv")?;
    let ids: Vec<&String> = rows
        .iter()
        .flat_map(|(_, ids)| ids.iter().take(2))
        .collect();
    Ok(Requests {
        hybrid: rows
            .iter()
            .map(|(q, _)| format!("/api/search?q={}", encode(q)))
            .collect(),
        bm25: rows
            .iter()
            .map(|(q, _)| format!("/api/search?q={}&mode=bm25", encode(q)))
            .collect(),
        related: ids
            .iter()
            .map(|id| format!("/api/related?ids={id}"))
            .collect(),
        paper: ids.iter().map(|id| format!("/api/papers/{id}")).collect(),
        unseen: unseen_queries(&rows)?,
    })
}

/// What one phase measured.
#[derive(Serialize)]
struct Phase {
    name: String,
    clients: usize,
    seconds: f64,
    requests: usize,
    errors: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Server memory (VmRSS, VmHWM in MiB) at the start, middle and end.
    memory_mib: Vec<(f64, f64)>,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at].as_secs_f64() * 1000.0
}

/// `clients` threads request `pick(client, n)` in a loop for `seconds`.
fn phase(
    name: &str,
    server: &ServerProcess,
    clients: usize,
    seconds: f64,
    pick: impl Fn(usize, usize) -> String + Send + Sync + 'static,
) -> Phase {
    let pick = Arc::new(pick);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let pid = server.child.id();
    let mut memory_mib = vec![memory(pid)];
    let threads: Vec<_> = (0..clients)
        .map(|client| {
            let (pick, stop, base) = (pick.clone(), stop.clone(), server.base.clone());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(30))
                    .build();
                let (mut took, mut errors) = (Vec::new(), 0);
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let url = format!("{base}{}", pick(client, n));
                    let begun = Instant::now();
                    match agent.get(&url).call().map(|r| r.into_string()) {
                        Ok(Ok(_)) => took.push(begun.elapsed()),
                        _ => errors += 1,
                    }
                    n += 1;
                }
                (took, errors)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds / 2.0));
    memory_mib.push(memory(pid));
    std::thread::sleep(Duration::from_secs_f64(seconds / 2.0));
    stop.store(true, Ordering::Relaxed);
    let (mut took, mut errors) = (Vec::new(), 0);
    for thread in threads {
        let (t, e) = thread.join().unwrap_or_default();
        took.extend(t);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    memory_mib.push(memory(pid));
    took.sort();
    Phase {
        name: name.to_string(),
        clients,
        seconds: elapsed,
        requests: took.len() + errors,
        errors,
        per_second: took.len() as f64 / elapsed,
        p50_ms: percentile(&took, 0.5),
        p99_ms: percentile(&took, 0.99),
        memory_mib,
    }
}

fn main() -> Result<()> {
    let options = options()?;
    let requests = Arc::new(requests()?);
    let server = start_server(&options.index)?;
    // Warm up: the first topic map, page cache of the index files.
    let agent = ureq::agent();
    for path in requests.hybrid.iter().chain(&requests.related).take(60) {
        agent.get(&format!("{}{path}", server.base)).call()?;
    }
    let cycle = |list: fn(&Requests) -> &Vec<String>| {
        let requests = requests.clone();
        move |client: usize, n: usize| {
            let list = list(&requests);
            list[(client * 7 + n) % list.len()].clone()
        }
    };
    let short = (options.seconds as f64 / 4.0).max(2.0);
    let unseen = |clients: usize| {
        let requests = requests.clone();
        // Client c's n-th request is entry n * clients + c: no two requests share a query
        // until the list runs out.
        move |client: usize, n: usize| {
            requests.unseen[(n * clients + client) % requests.unseen.len()].clone()
        }
    };
    let mut phases = vec![
        phase(
            "bm25 search, 1 client",
            &server,
            1,
            short,
            cycle(|r| &r.bm25),
        ),
        phase(
            "hybrid search, 1 client",
            &server,
            1,
            short,
            cycle(|r| &r.hybrid),
        ),
        phase(
            "hybrid search, unseen queries, 1 client",
            &server,
            1,
            short,
            unseen(1),
        ),
        phase(
            "hybrid search",
            &server,
            options.clients,
            options.seconds as f64 / 2.0,
            cycle(|r| &r.hybrid),
        ),
    ];
    let mixed = {
        let requests = requests.clone();
        move |client: usize, n: usize| {
            // Of 10 requests: 4 hybrid, 2 bm25, 2 related, 2 paper.
            let list = match n % 10 {
                0..=3 => &requests.hybrid,
                4 | 5 => &requests.bm25,
                6 | 7 => &requests.related,
                _ => &requests.paper,
            };
            list[(client * 7 + n) % list.len()].clone()
        }
    };
    phases.push(phase(
        "mixed: 40% hybrid, 20% bm25, 20% related, 20% paper",
        &server,
        options.clients,
        options.seconds as f64,
        mixed,
    ));
    if options.json {
        println!("{}", serde_json::to_string_pretty(&phases)?);
        return Ok(());
    }
    println!(
        "{:<52} {:>7} {:>6} {:>8} {:>6} {:>8} {:>8}  server RSS / peak MiB (start, middle, end)",
        "phase", "clients", "s", "requests", "errors", "req/s", "p50 ms"
    );
    for p in &phases {
        let memory: Vec<String> = p
            .memory_mib
            .iter()
            .map(|(rss, peak)| format!("{rss:.0}/{peak:.0}"))
            .collect();
        println!(
            "{:<52} {:>7} {:>6.1} {:>8} {:>6} {:>8.0} {:>8.2}  p99 {:.2} ms; {}",
            p.name,
            p.clients,
            p.seconds,
            p.requests,
            p.errors,
            p.per_second,
            p.p50_ms,
            p.p99_ms,
            memory.join(", ")
        );
    }
    Ok(())
}
