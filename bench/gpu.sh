#!/usr/bin/env bash
# The one script for a GPU machine: the CUDA tests, then the engine benchmark on the GPU
# (adds frames_per_s at batch 32 with autocast). Each benchmark prints JSON as its last line;
# results are collected in $OUT (or bench/out) as gpu_*.json.
#   PYTHON=/path/to/python bench/gpu.sh      # a python with a CUDA build of torch
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}"
DEST="${OUT:-bench/out}"
mkdir -p "$DEST"
export QT_QPA_PLATFORM=offscreen

"$PY" - <<'PYEOF'
import torch, sys
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if not torch.cuda.is_available():
    sys.exit("bench/gpu.sh needs a CUDA build of torch and a GPU")
print(torch.cuda.get_device_name(0))
PYEOF
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true

# a failing CUDA test is reported in the exit status, after the benchmark has still run
tests_rc=0
"$PY" -m pytest tests/engine/model -m cuda -q -p no:cacheprovider 2>&1 | tee "$DEST/gpu_tests.txt" || tests_rc=$?

"$PY" bench/engine.py --device cuda --fps-batch 32 --repeat 10 2> "$DEST/gpu_engine.log" \
  | tail -n 1 | tee "$DEST/gpu_engine.json"
exit "$tests_rc"
