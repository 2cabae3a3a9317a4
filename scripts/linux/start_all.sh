#!/usr/bin/env bash
# Run the bot (if I2V_TELEGRAM_TOKEN is set) and one worker per GPU; Ctrl+C stops them gracefully.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# From the checkout, so its .env (I2V_* settings) is read.
cd "$ROOT"
exec "${I2V_VENV:-$ROOT/.venv}/bin/i2v" up "$@"
