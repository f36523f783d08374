//! Where exact search stops being faster than HNSW: synthetic collections of N unit vectors made
//! from the real paper vectors plus noise. cargo run --release --example sweep_ann_scale
use paperscope::embed::{Embedder, normalize};
use paperscope::paper::PaperNumber;
use paperscope::store::Store;
use paperscope::vectors::{VectorIndex, VectorParams};

fn main() -> anyhow::Result<()> {
    let store = Store::open(std::path::Path::new("index"))?;
    let embedder = Embedder::shipped()?;
    let base = store.vectors(&embedder)?;
    let n0 = base.len() as u32;
    for n in [8_000u32, 16_000, 32_000, 64_000] {
        let vectors: Vec<Vec<f32>> = (0..n)
            .map(|i| {
                let src = base
                    .vector_of(PaperNumber(i % n0))
                    .map(<[f32]>::to_vec)
                    .unwrap_or_default();
                let mut v: Vec<f32> = src
                    .iter()
                    .enumerate()
                    .map(|(d, x)| {
                        x + 0.02 * (((i as usize * 31 + d * 17) % 101) as f32 / 50.0 - 1.0)
                    })
                    .collect();
                normalize(&mut v);
                v
            })
            .collect();
        let queries: Vec<Vec<f32>> = vectors
            .iter()
            .step_by((n / 500) as usize)
            .cloned()
            .collect();
        let t = std::time::Instant::now();
        let index = VectorIndex::build(
            base.dims(),
            vectors,
            VectorParams {
                exact_below: 0,
                ..VectorParams::default()
            },
            || {},
        );
        let build = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        for q in &queries {
            std::hint::black_box(index.search_exact(q, 10, None));
        }
        let exact = t.elapsed().as_secs_f64() * 1e6 / queries.len() as f64;
        let t = std::time::Instant::now();
        for q in &queries {
            std::hint::black_box(index.search(q, 10, None));
        }
        let graph = t.elapsed().as_secs_f64() * 1e6 / queries.len() as f64;
        println!(
            "n={n:>6} build {build:>6.1}s  exact {exact:>7.0} µs  hnsw(ef=64) {graph:>7.0} µs"
        );
    }
    Ok(())
}
