#!/usr/bin/env bash
# Run the Telegram bot, restarted if it crashes; Ctrl+C stops it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# From the checkout, so its .env (I2V_* settings) is read.
cd "$ROOT"
exec "${I2V_VENV:-$ROOT/.venv}/bin/i2v" up --only bot "$@"
