#!/usr/bin/env bash
# The one script for a GPU machine: the CUDA tests, then the engine benchmark on the GPU
# (frames_per_s of the encoder and frames_per_s_all_heads of the encoder with all seven heads,
# batch 32, autocast; target >= 300 for echocare_swin_b on an H100), the 300-frame cine
# pipeline on the GPU, and the lite student's CPU figures on two of the machine's cores
# (taskset). Each benchmark prints JSON as its last line; results are collected in $OUT (or
# bench/out) as gpu_*.json.
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

"$PY" bench/pipeline.py --device cuda 2> "$DEST/gpu_pipeline.log" | tail -n 1 | tee "$DEST/gpu_pipeline.json"
# distil (or reuse) the student with every core, then measure it on two cores as on a laptop
"$PY" bench/lite.py > /dev/null 2> "$DEST/gpu_lite_train.log"
taskset -c 0,1 "$PY" bench/lite.py 2> "$DEST/gpu_lite.log" | tail -n 1 | tee "$DEST/gpu_lite_2cores.json"
exit "$tests_rc"
