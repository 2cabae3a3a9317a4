#!/usr/bin/env bash
# Restart the workers started by start_worker.sh or start_all.sh, one at a time: a running job
# finishes first (within I2V_STOP_GRACE_SECONDS) or goes back to the queue.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# From the checkout, so its .env (I2V_* settings) is read.
cd "$ROOT"
exec "${I2V_VENV:-$ROOT/.venv}/bin/i2v" restart worker
