#!/usr/bin/env bash
# Regenerate the embedding cache shipped in data/embeddings/ (what makes a first index of the
# sample data embed nothing) after the model's vectors changed: a new model file, or a passage
# kernel whose vectors differ (the cache key carries both, so an old seed is simply not found
# and every text of data/ would be embedded again by the tests and the README's first command).
#
#   tools/seed_cache.sh [WORK_DIR]
#
# Indexes data/digests/ into WORK_DIR/index with the per-user cache pointed at an empty
# WORK_DIR/cache, then copies the cache file that run wrote (exactly data/'s texts, each once)
# into data/embeddings/. The kernel is the one this CPU picks (PAPERSCOPE_KERNEL caps it; `f32`
# gives the f32 path's seed, kept for CPUs without AVX2). Seeds of other keys are left alone.
# ~16,640 texts: ~10 minutes on 2 idle AVX2 cores.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
if [ -e "$work/index" ] || [ -n "$(ls -A "$work/cache" 2>/dev/null)" ]; then
    echo "seed_cache: $work/index or $work/cache already exists; give an empty WORK_DIR" >&2
    exit 1
fi
cd "$repo"
cargo build --release --quiet
# The seeds in data/embeddings/ are read by the index only under their own key, so the old
# one never fills the new cache; the shared cache starts empty.
PAPERSCOPE_CACHE="$work/cache" target/release/paperscope index --index "$work/index" data/digests
shopt -s nullglob
files=("$work"/cache/*.vecache)
if [ "${#files[@]}" -ne 1 ]; then
    echo "seed_cache: expected one cache file in $work/cache, found ${#files[@]}" >&2
    exit 1
fi
cp "${files[0]}" data/embeddings/
echo "seed_cache: data/embeddings/$(basename "${files[0]}") ($(du -h "${files[0]}" | cut -f1))"
