"""The GPU fit benchmark runs its real one-process-per-plan path on the CPU with tiny configs.

What a GPU machine would run, minus the GPU: each (model, plan) row in a fresh
spawned process, rows written to the JSON as they finish, plans that need a GPU
reported as skipped with the reason, and a plan that fails in its process reported
as a row while the run goes on.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

pytestmark = pytest.mark.slow


def run_bench(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    out = tmp_path / "gpu_fit.json"
    command = [sys.executable, "-m", "bench.gpu_fit", "--tiny", "--out", str(out), *args]
    done = subprocess.run(
        command, check=False, cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done, json.loads(out.read_text())


def test_tiny_rows_run_plans_the_cpu_can_hold_and_skip_gpu_plans_with_the_reason(
    tmp_path: Path,
) -> None:
    pytest.importorskip("diffusers")
    plans = ["bf16-all-tiled", "fp8-all-tiled", "bf16-group-tiled"]
    done, result = run_bench(
        tmp_path, "--models", "ltx-distilled", "wan2.2-5b", "--steps", "2", "--plans", *plans
    )
    rows = {(row["model"], row["plan"]): row for row in result["rows"]}
    assert len(result["rows"]) == 6 and result["tiny"] is True
    for model in ("ltx-distilled", "wan2.2-5b"):
        for plan in ("bf16-all-tiled", "fp8-all-tiled"):
            row = rows[(model, plan)]
            assert row["status"] == "ok", row
            assert row["frames"] == 9 and row["steps"] == 2
            assert row["job_s"] >= row["decode_s"] > 0 and row["s_per_step"] > 0
        status = rows[(model, "bf16-group-tiled")]["status"]
        assert status.startswith("skipped: ") and "CUDA GPU" in status, status
    assert "s/step" in done.stdout and "skipped: " in done.stdout


def test_a_plan_that_fails_in_its_process_is_a_row_written_at_once_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    pytest.importorskip("diffusers")
    out = tmp_path / "gpu_fit.json"
    command = [sys.executable, "-m", "bench.gpu_fit", "--tiny", "--out", str(out)]
    command += ["--models", "ltx-50step", "--steps", "2"]
    command += ["--plans", "bf16-warp-tiled", "bf16-all-tiled", "bf16-sequential-tiled"]
    seen: list[int] = []
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as bench:
        assert bench.stdout is not None
        for line in bench.stdout:
            if line.startswith("{"):
                # A row is printed after it is written: the file already holds it.
                seen.append(len(json.loads(out.read_text())["rows"]))
        assert bench.wait(timeout=900) == 0
    assert seen == [1, 2, 3]
    failed, ran, skipped = json.loads(out.read_text())["rows"]
    assert failed["plan"] == "bf16-warp-tiled"
    assert failed["status"].startswith("error: ValueError: ")
    assert "bf16-warp-tiled" in failed["status"]
    assert (ran["plan"], ran["status"]) == ("bf16-all-tiled", "ok")
    assert skipped["status"].startswith("skipped: ")
