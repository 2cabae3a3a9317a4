#!/usr/bin/env python3
"""Set up i2v in a local virtual environment and run it: the README's two commands.

    python3 bootstrap.py demo    # make a video from the bundled photo
    python3 bootstrap.py test    # lint, type-check, check the layers, run the tests

It needs only Python 3.10+; everything else is installed into ./.venv (Windows too).
Set I2V_TORCH_SPEC to choose the PyTorch build the tests install (default torch==2.13.0).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
EXTRAS = {"demo": "", "test": "[dev,api,diffusion]"}


def run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    """Run a command, echoing it; stop with its exit code if it fails."""
    print("+", " ".join(str(a) for a in args), flush=True)
    code = subprocess.call([str(a) for a in args], cwd=ROOT, env=env)
    if code:
        sys.exit(code)


def ensure_venv(extras: str) -> None:
    """Create .venv and install i2v with ``extras``, skipping work already done."""
    if sys.version_info < (3, 10):  # noqa: UP036 - this file must run on old Pythons to say so
        sys.exit(f"i2v needs Python 3.10 or newer; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        venv.EnvBuilder(with_pip=True, upgrade_deps=False).create(VENV)
    stamp_text = (ROOT / "pyproject.toml").read_bytes() + extras.encode()
    stamp = VENV / f".i2v-installed-{hashlib.sha256(stamp_text).hexdigest()[:16]}"
    if stamp.exists():
        return
    pip = [PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    if "diffusion" in extras:
        # A CPU build is enough for the tests; a GPU machine installs its CUDA build itself.
        run(*pip, os.environ.get("I2V_TORCH_SPEC", "torch==2.13.0"))
    run(*pip, "-e", f".{extras}")
    stamp.touch()


def demo() -> None:
    """Make a video from the bundled photo and print where it is."""
    ensure_venv(EXTRAS["demo"])
    out = ROOT / "out" / "coffee.mp4"
    env = {**os.environ}
    env.setdefault("I2V_DATA_DIR", str(ROOT / "out" / "data"))
    run(
        BIN / "i2v",
        "generate",
        ROOT / "examples" / "coffee.png",
        "-o",
        out,
        "--prompt",
        "steam rising from a cup of coffee",
        env=env,
    )


def test() -> None:
    """Lint, type-check, check the import layers and run the whole test suite."""
    ensure_venv(EXTRAS["test"])
    run(PYTHON, "-m", "ruff", "check", "src", "tests", "bench", "bootstrap.py")
    run(PYTHON, "-m", "ruff", "format", "--check", "src", "tests", "bench", "bootstrap.py")
    run(PYTHON, "-m", "mypy")
    run(BIN / "lint-imports")
    run(PYTHON, "-m", "pytest", *sys.argv[2:])


if __name__ == "__main__":
    commands = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: python3 {Path(__file__).name} demo|test [pytest arguments]")
    commands[sys.argv[1]]()
