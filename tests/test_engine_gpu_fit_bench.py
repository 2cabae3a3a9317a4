"""The GPU fit benchmark runs end to end on tiny configs, so it is ready for a GPU machine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.slow
def test_gpu_fit_bench_runs_on_tiny_configs_and_writes_a_row_per_plan(tmp_path: Path) -> None:
    pytest.importorskip("diffusers")
    out = tmp_path / "gpu_fit.json"
    command = [sys.executable, "-m", "bench.gpu_fit", "--tiny", "--steps", "2", "--out", str(out)]
    command += ["--plans", "none", "model_offload"]
    done = subprocess.run(
        command, check=False, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert {(row["family"], row["plan"]) for row in rows} == {
        (family, plan) for family in ("ltx", "wan") for plan in ("none", "model_offload")
    }
    assert all(row["status"] == "ok" and row["frames"] == 9 for row in rows)
    assert "s/step" in done.stdout
