#!/usr/bin/env bash
# Install i2v into .venv: PyTorch (CUDA build unless --cpu), i2v with the diffusion extra, then check.
#   scripts/linux/install.sh [--cpu] [--dry-run]
# I2V_CUDA picks the PyTorch CUDA build (default cu128); I2V_VENV the virtual environment.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VENV="${I2V_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
INDEX="https://download.pytorch.org/whl/${I2V_CUDA:-cu128}"
DRY=""
for arg in "$@"; do
    case "$arg" in
        --cpu) INDEX="https://download.pytorch.org/whl/cpu" ;;
        --dry-run) DRY=1 ;;
        *) echo "usage: $0 [--cpu] [--dry-run]" >&2; exit 2 ;;
    esac
done

run() {
    echo "+ $*"
    if [ -z "$DRY" ]; then "$@"; fi
}

[ -x "$VENV/bin/python" ] || run "$PYTHON" -m venv "$VENV"
run "$VENV/bin/python" -m pip install --upgrade pip
run "$VENV/bin/python" -m pip install torch --index-url "$INDEX"
run "$VENV/bin/python" -m pip install -e "${ROOT}[diffusion]"
# The doctor says what is still missing (driver, weights, database); a FAIL is not an install error.
run "$VENV/bin/i2v" doctor || true
