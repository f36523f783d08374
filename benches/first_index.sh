#!/usr/bin/env bash
# What a new user waits for: a first index of digests that no cache holds, with the default model.
# Prints the time until the papers are searchable by words, until every vector is made (fully
# hybrid), and the peak memory of the run.
#
#   benches/first_index.sh [DIGESTS_DIR] [WORK_DIR]
#
# DIGESTS_DIR defaults to data/digests (copied first, so the seed cache in data/embeddings is
# not beside them); the per-user cache is off (PAPERSCOPE_CACHE=off) and the index is new, so
# every text is embedded. WORK_DIR defaults to target/first-index (emptied first).
set -euo pipefail
cd "$(dirname "$0")/.."
digests="${1:-data/digests}"
work="${2:-target/first-index}"
cargo build --release --quiet --bin paperscope
rm -rf "$work"
mkdir -p "$work"
cp -r "$digests" "$work/digests"
grep -m1 'model name' /proc/cpuinfo | sed 's/.*: /cpu: /'
echo "flags: $(grep -o -w 'avx2\|avx512f\|avx512_vnni\|avx_vnni' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
PAPERSCOPE_CACHE=off /usr/bin/time -f '%M KB peak, %e s wall, %U s user, %S s sys' \
  -o "$work/time.txt" target/release/paperscope --json index --index "$work/index" \
  "$work/digests" > "$work/report.json"
python3 - "$work/report.json" "$work/time.txt" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
print(f"papers {report['papers']}, texts embedded {report['texts_embedded']}")
words = report.get('words_searchable_seconds')
print(f"searchable by words after {words:.1f} s" if words is not None else "words and vectors in one commit")
print(f"fully hybrid after {report['seconds']:.1f} s")
print(open(sys.argv[2]).read().strip())
EOF
