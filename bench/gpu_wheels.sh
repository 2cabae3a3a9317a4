#!/usr/bin/env bash
# Download, here, the wheels bench/gpu_check.sh needs on a GPU machine without internet.
#
#   bash bench/gpu_wheels.sh        # from the repo root, after python3 bootstrap.py
#
# The lent GPU image has Python 3.12 with torch, transformers, accelerate, safetensors,
# huggingface-hub, numpy, pillow and nvidia-ml-py, but not diffusers nor what i2v's
# settings import (pydantic, pydantic-settings, python-dotenv) nor ftfy (Wan's prompt
# cleaning). The versions are those of this checkout's .venv, so both machines run the
# same code. The wheels land in .whl, which .git/info/exclude keeps out of git; carry
# .whl along with the run.
set -eu -o pipefail

VENV_PYTHON=${VENV_PYTHON:-.venv/bin/python}
EXCLUDE=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$EXCLUDE")"
grep -qx '/.whl/' "$EXCLUDE" 2>/dev/null || echo '/.whl/' >> "$EXCLUDE"
mkdir -p .whl
PACKAGES=(diffusers pydantic pydantic-core pydantic-settings annotated-types typing-inspection
          python-dotenv ftfy wcwidth)
PINS=()
for name in "${PACKAGES[@]}"; do
    version=$("$VENV_PYTHON" -c "import importlib.metadata as m; print(m.version('$name'))")
    PINS+=("$name==$version")
done
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl "${PINS[@]}"
ls -l .whl
