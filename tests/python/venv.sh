#!/usr/bin/env bash
# The one virtualenv of the tests' Python (tests/python/requirements.txt from PyPI), at DIR:
# made the first time, then reused while the requirements are the same; prints its python.
#
#   tests/python/venv.sh DIR    # ~1-2 min the first time (pip), then instant
#
# Made under a lock (DIR.lock, flock), so the test binaries and `.ci/run` (which starts it in
# the background while cargo compiles) make it once between them; the others wait and reuse it.
# PYTHON: the interpreter to make it with (default python3).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${1:?usage: tests/python/venv.sh DIR}"
requirements="$here/requirements.txt"
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$venv/.installed"; then
    rm -rf "$venv"
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
    cp "$requirements" "$venv/.installed"
fi
echo "$venv/bin/python"
