#!/usr/bin/env bash
# The one prepared GPU check: run it on a machine with an NVIDIA GPU, from the repo root.
#
#   bash bench/gpu_check.sh [SECONDS]      # SECONDS: time it may take in all (default 540)
#
# It runs `python -m bench.gpu_fit --quick` (LTX distilled, 2 plans, 3 steps: about
# 5 minutes on one GPU), then, while time is left, the full set of models and plans
# with 3 steps each (the rows estimate the whole job from the measured seconds per step).
# Results, logs and the machine's description go to $OUT (default bench/results):
# gpu_fit_quick.json, gpu_fit_full.json, their .log files and machine.txt.
#
# On a machine without internet (a lent GPU machine): its image has torch,
# transformers, accelerate and nvidia-ml-py but not diffusers nor what i2v's settings
# import. Fetch those wheels here first with `bash bench/gpu_wheels.sh` (into .whl,
# kept out of git) and carry .whl along; this script installs them when .whl exists.
# With the device tool: run `bash bench/gpu_check.sh 540` with carry [".whl"] and
# timeout_s 600; the files come back from $OUT.
#
# Every row runs in its own process, so an out-of-memory or a crash is a row of the
# table, never the end of the run, and each row is in the JSON as soon as it ends.
set -u -o pipefail

BUDGET=${1:-540}
START=$(date +%s)
OUT=${OUT:-bench/results}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/i2v-site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/i2v-site
fi
# i2v itself runs from the source tree; the bench package from the repo root.
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}"

{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    python3 -c 'import torch, diffusers, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, "diffusers", diffusers.__version__, "transformers", transformers.__version__)'
} 2>&1 | tee "$OUT/machine.txt"

left() { echo $((BUDGET - ($(date +%s) - START))); }

# The quick run must finish inside 8 minutes; rows that hang are stopped at 4.
timeout $(( $(left) < 480 ? $(left) : 480 )) \
    python3 -m bench.gpu_fit --quick --row-timeout 240 --out "$OUT/gpu_fit_quick.json" \
    2>&1 | tee "$OUT/gpu_fit_quick.log"

# The full run only with at least 3 minutes left; it stops where the time ends,
# and the JSON keeps every row finished by then.
if [ "$(left)" -gt 180 ]; then
    timeout $(( $(left) - 15 )) \
        python3 -m bench.gpu_fit --steps 3 --row-timeout 300 --out "$OUT/gpu_fit_full.json" \
        2>&1 | tee "$OUT/gpu_fit_full.log"
fi
echo "gpu_check: done in $(( $(date +%s) - START )) s; results in $OUT"
