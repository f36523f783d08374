#!/usr/bin/env bash
# paperscope beside hnswlib, faiss, numpy and bm25s on the same vectors and texts, same machine,
# same run. From a clean clone:
#
#   benches/peers/run.sh                      # data/ (8,320 papers): ~2 min the first time (pip)
#   benches/peers/run.sh DIGESTS_DIR          # another collection (e.g. the scale generator's 100k)
#
# Environment: PEERS_DIR (work directory, default target/peers), PYTHON (default python3),
# EFS (ef sweep, default 16,32,64,128,256), QUERY_STRIDE (every Nth paper's English title or
# Chinese summary is a query, default 8), PEERS_JSON (also write the summary there), PEERS_BM25=0
# (skip bm25s: its Python tokenising of 100k texts through jieba takes many minutes), PEERS_PLOT
# (a PNG of recall@10 against queries/s per engine), PEERS_MODEL (embedding model, default static:
# the 256-dim vectors the tables of BENCHMARKS.md were measured on; e5 takes minutes to embed).
set -euo pipefail
cd "$(dirname "$0")/../.."
digests="${1:-data/digests}"
work="${PEERS_DIR:-target/peers}"
efs="${EFS:-16,32,64,128,256}"
stride="${QUERY_STRIDE:-8}"
venv="$work/venv"
# Queries run on one thread everywhere: numpy's BLAS would otherwise spread one query over cores.
export OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
export PAPERSCOPE_MODEL="${PEERS_MODEL:-static}"
mkdir -p "$work"
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.installed-2" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        hnswlib==0.8.0 faiss-cpu==1.15.1 numpy bm25s==0.3.16 jieba==0.42.1 matplotlib
    touch "$venv/.installed-2"
fi
cargo build --release --quiet --bin paperscope --example peers
bin=target/release/paperscope
index="$work/index-$(basename "$digests")-$PAPERSCOPE_MODEL"
export_dir="$work/export-$(basename "$digests")-$PAPERSCOPE_MODEL"
if [ ! -f "$index/manifest.json" ]; then
    "$bin" --index "$index" index "$digests" >/dev/null
fi
# The ANN queries are texts embedded by paperscope as a search embeds them (as `eval ann` does):
# every Nth paper's English title or Chinese one-line summary, alternately.
"$bin" --index "$index" export --format jsonl --out "$export_dir" >/dev/null
"$venv/bin/python" - "$export_dir/papers.jsonl" "$stride" > "$work/ann_queries.tsv" <<'PY'
import json, sys
stride = int(sys.argv[2])
with open(sys.argv[1], encoding="utf-8") as f:
    for i, line in enumerate(l for n, l in enumerate(f) if n % stride == 0):
        p = json.loads(line)
        text = p["title_en"] if i % 2 == 0 else p["summary_zh"]
        text = " ".join(text.split())
        if text:
            print(f"a{i}\t{text}")
PY
"$bin" --index "$index" export --format jsonl --out "$export_dir" --queries "$work/ann_queries.tsv" >/dev/null
target/release/examples/peers "$export_dir" "$index" tests/queries.tsv "$efs" > "$work/paperscope.json"
exec "$venv/bin/python" benches/peers/peers.py "$export_dir" "$work/paperscope.json" tests/queries.tsv "$efs"
