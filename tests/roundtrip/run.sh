#!/usr/bin/env bash
# The export round trip, from a clean clone: builds paperscope, indexes data/, exports for Milvus
# and Qdrant (with paperscope's vectors of the queries of tests/queries.tsv), loads the exports
# into Milvus Lite and Qdrant's local mode (a virtualenv made here from PyPI) and checks that
# their vector top-10 agrees with `paperscope search --mode vector` (overlap >= 0.9); reports the
# hybrid overlap with Milvus' BM25 over jieba-analysed text.
#
#   tests/roundtrip/run.sh            # ~2 min the first time (pip), then ~1 min
# The cli test binary runs it (tests/cli/roundtrip.rs) with the binary it built and the index of
# data/ the tests share, so CI neither builds nor indexes again.
# Environment: ROUNDTRIP_DIR (work directory, default target/roundtrip), PYTHON (default python3),
# PAPERSCOPE_BIN (a built binary: then no build), ROUNDTRIP_INDEX (an index of data/ to read,
# default $ROUNDTRIP_DIR/index, built when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
work="${ROUNDTRIP_DIR:-target/roundtrip}"
venv="$work/venv"
mkdir -p "$work"
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.installed-1" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        pymilvus==3.0.2 milvus-lite==3.2.2 qdrant-client==1.20.0 jieba==0.42.1 numpy
    touch "$venv/.installed-1"
fi
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
exec "$venv/bin/python" tests/roundtrip/roundtrip.py "$bin" "$index" "$work"
