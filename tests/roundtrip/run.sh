#!/usr/bin/env bash
# The export round trip, from a clean clone: builds paperscope, indexes data/, exports for Milvus
# and Qdrant (with paperscope's vectors of the queries of tests/queries.tsv), loads the exports
# into Milvus Lite and Qdrant's local mode (the tests' virtualenv from PyPI) and checks that
# their vector top-10 agrees with `paperscope search --mode vector` (overlap >= 0.9); reports the
# hybrid overlap with Milvus' BM25 over jieba-analysed text.
#
#   tests/roundtrip/run.sh            # ~2 min the first time (pip), then ~1 min
# The cli test binary runs it (tests/cli/roundtrip.rs) with the binary it built and the index of
# data/ the tests share, so CI neither builds nor indexes again.
# Environment: ROUNDTRIP_DIR (work directory, default target/roundtrip), ROUNDTRIP_PYTHON (a
# Python with tests/python/requirements.txt; default: tests/python/venv.sh makes one in
# $ROUNDTRIP_DIR/venv with PYTHON, default python3), PAPERSCOPE_BIN (a built binary: then no
# build), ROUNDTRIP_INDEX (an index of data/ to read, default $ROUNDTRIP_DIR/index, built when
# missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
work="${ROUNDTRIP_DIR:-target/roundtrip}"
mkdir -p "$work"
python="${ROUNDTRIP_PYTHON:-$(tests/python/venv.sh "$work/venv")}"
bin="${PAPERSCOPE_BIN:-}"
if [ -z "$bin" ]; then
    cargo build --release --quiet
    bin=target/release/paperscope
fi
index="${ROUNDTRIP_INDEX:-$work/index}"
if [ ! -f "$index/manifest.json" ]; then
    "$bin" --index "$index" index data/digests >/dev/null
fi
for format in milvus qdrant; do
    "$bin" --index "$index" export --format "$format" --out "$work/$format" --queries tests/queries.tsv >/dev/null
done
exec "$python" tests/roundtrip/roundtrip.py "$bin" "$index" "$work"
