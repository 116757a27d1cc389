#!/usr/bin/env bash
# The GPU check of issue 28, in one command on a device machine (prepared by benchmarks/gpu_prepare.sh):
#   1. env:   nvidia-smi, library versions                          -> $OUT/env.txt
#   2. tests: tests/test_cuda_device.py on the GPU (bf16 default, OOM halving with a real allocation,
#             pinned memory, fp32 vectors never reused for bf16, memory handed back, MiniLM fp32 vs
#             the GPU default on stsb_multi_mt de and en within 0.001)  -> $OUT/tests.txt
#   3. bench: benchmarks/bench_encode.py, baseline vs harness on MiniLM and the BERT-large stand-in,
#             all-language workload, with a profile of each harness run -> $OUT/gpu.md, gpu.json, profile.md
# Every stage runs under its own time limit and writes what it has; a failing stage does not stop the next.
# GPU_CHECK_BUDGET_S (default 480) bounds the whole script; BENCH_MODELS, BENCH_REPEATS override the bench.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
BUDGET=${GPU_CHECK_BUDGET_S:-480}
START=$SECONDS
left() { echo $((BUDGET - (SECONDS - START))); }
PY=${PYTHON:-python3}

if compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
        --find-links .whl pydantic pydantic-core annotated-types typing-inspection typing-extensions \
        langcodes pytest pluggy iniconfig pygments >"$OUT/pip.txt" 2>&1 \
        || echo "pip install of .whl failed (see pip.txt)"
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export HARNESS_MINILM_DIR=${HARNESS_MINILM_DIR:-$PWD/.bench/minilm-fp16}
export HARNESS_DATA_DIR=${HARNESS_DATA_DIR:-$PWD/.bench/data/sts}

{
    nvidia-smi || true
    "$PY" - <<'PY'
import platform
import torch
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda)
print("device", torch.cuda.get_device_name() if torch.cuda.is_available() else "none")
for name in ("transformers", "sentence_transformers", "tokenizers", "numpy", "scipy", "pydantic", "pytest"):
    try:
        print(name, __import__(name).__version__)
    except Exception as exc:  # the stage reports what is missing, the next stages still run
        print(name, "missing:", exc)
PY
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

echo "== tests ($(left) s left)"
timeout "$(( $(left) < 200 ? $(left) : 200 ))" "$PY" -m pytest -p no:cacheprovider -o addopts= -rA -q -s \
    tests/test_cuda_device.py >"$OUT/tests.txt" 2>&1
echo "tests: exit $?" >>"$OUT/tests.txt"
tail -25 "$OUT/tests.txt"

echo "== bench ($(left) s left)"
read -r -a models <<<"${BENCH_MODELS:-minilm gbert-large}"
model_args=()
for m in "${models[@]}"; do model_args+=(--model "$m"); done
timeout "$(left)" "$PY" benchmarks/bench_encode.py --device cuda --data-dir "$HARNESS_DATA_DIR" \
    --minilm "$HARNESS_MINILM_DIR" "${model_args[@]}" --workload all-stsb --repeats "${BENCH_REPEATS:-2}" \
    --out "$OUT/gpu.md" --json "$OUT/gpu.json" --profile "$OUT/profile.md" >"$OUT/bench.txt" 2>&1
echo "bench: exit $?" >>"$OUT/bench.txt"
tail -40 "$OUT/bench.txt"
echo "== done in $((SECONDS - START)) s; files in $OUT"
