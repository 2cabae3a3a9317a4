#!/usr/bin/env bash
# Stop everything start_*.sh started on this machine, gracefully.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# From the checkout, so its .env (I2V_* settings) is read.
cd "$ROOT"
exec "${I2V_VENV:-$ROOT/.venv}/bin/i2v" down
