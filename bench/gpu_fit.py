"""Does a 720p x 6 s video fit a 12 GB card, and how fast? One fresh process per (model, plan).

Each row builds the full-size model from its published configs
(``bench/model_configs/full.json``) with random weights, so nothing is downloaded,
caps its process at ``--cap-gb`` of VRAM (what a 12 GB laptop card offers), places
the weights as the memory plan says, runs the denoising steps and the decode, and
reports: peak ``max_memory_allocated`` and ``max_memory_reserved``, the memory NVML
sees the process use (with the CUDA context), pinned host RAM, seconds per step,
decode seconds, the whole job's seconds, and whether it stayed under the cap.

Every row runs in its own spawned process (so it works on Windows too): an
out-of-memory error is the row ``oom``, any other failure ``error: ...``, a process
that dies or hangs ``error: ...`` too, and the run goes on. Each row is added to the
JSON file (``--out``) as soon as it finishes, so a run cut short keeps what it measured.

    python -m bench.gpu_fit --quick          # LTX distilled, 2 plans, 3 steps: < 8 min
    python -m bench.gpu_fit                  # LTX distilled, LTX 50-step, Wan 2.2 5B
    python -m bench.gpu_fit --tiny           # tiny configs on the CPU: checks the harness

Without a GPU, ``--tiny`` runs the same per-plan processes on tiny configs; plans
that place weights on a GPU are reported as ``skipped: <reason>``, never as passed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from bench import gpu_fit_row  # noqa: E402

MODELS = ("ltx-distilled", "ltx-50step", "wan2.2-5b")
#: Plans each model is measured under by default (names as i2v.engine.plans writes them:
#: weights-placement-vae): what I2V_MEMORY_PLAN=auto picks on a 12 GB card first, then its
#: neighbours, then one the planner expects to exceed the cap, to see the cap turn it into `oom`.
DEFAULT_PLANS = {
    "ltx-distilled": (
        "bf16-dit-framewise",
        "fp8-dit-framewise",
        "bf16-model-framewise",
        "bf16-group-framewise",
        "bf16-sequential-framewise",
        "bf16-all-framewise",
    ),
    "ltx-50step": ("bf16-dit-framewise", "fp8-dit-framewise", "bf16-group-framewise"),
    "wan2.2-5b": ("fp8-grouplow-tiled", "bf16-group-tiled", "fp8-dit-tiled", "bf16-model-tiled"),
}
#: --quick: the plan I2V_MEMORY_PLAN=auto picks for the default model on a 12 GB card with
#: 16 GB of RAM (bf16-dit-framewise), and its fp8 twin, the next leaner.
QUICK_PLANS = ("bf16-dit-framewise", "fp8-dit-framewise")
QUICK_STEPS = 3
#: A row that takes longer than this is stopped and reported as an error.
ROW_TIMEOUT_SECONDS = 900.0
COLUMNS = (
    ("model", 14, "model"),
    ("plan", 22, "plan"),
    ("est GB", 7, "estimated_peak_gb"),
    ("alloc GB", 9, "peak_allocated_gb"),
    ("resv GB", 8, "peak_reserved_gb"),
    ("nvml GB", 8, "nvml_process_gb"),
    ("pinned GB", 10, "pinned_host_gb"),
    ("s/step", 8, "s_per_step"),
    ("decode s", 9, "decode_s"),
    ("job s", 8, "job_s"),
    ("full job s", 11, "full_job_est_s"),
    ("cap", 5, "under_cap"),
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny configs; runs on the CPU")
    parser.add_argument("--quick", action="store_true", help="LTX distilled, 2 plans, 3 steps")
    parser.add_argument("--models", nargs="+", choices=MODELS, help="models to measure")
    parser.add_argument("--plans", nargs="+", help="plans to measure (default: per model)")
    parser.add_argument("--steps", type=int, help="denoising steps (default: the model's)")
    parser.add_argument(
        "--cap-gb", type=float, default=12.0, help="VRAM cap per process, GB of 1e9 bytes"
    )
    parser.add_argument("--row-timeout", type=float, default=ROW_TIMEOUT_SECONDS)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "gpu_fit.json")
    return parser.parse_args(argv)


def planned_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The (model, plan) rows to run, each a job description for one process."""
    models = args.models or (["ltx-distilled"] if args.quick else list(MODELS))
    steps = args.steps or (QUICK_STEPS if args.quick else None)
    jobs = []
    for model in models:
        plans = args.plans or (QUICK_PLANS if args.quick else DEFAULT_PLANS[model])
        for plan in plans:
            jobs.append(
                {
                    "model": model,
                    "plan": plan,
                    "tiny": args.tiny,
                    "steps": steps,
                    "cap_gb": args.cap_gb,
                }
            )
    return jobs


def run_row(job: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run one row in a fresh spawned process; whatever happens there comes back as a row."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=gpu_fit_row.child_main, args=(sender, job), name=f"gpu-fit {job['plan']}"
    )
    started = time.monotonic()
    process.start()
    sender.close()
    row: dict[str, Any] | None = None
    try:
        if receiver.poll(timeout):
            row = receiver.recv()
    except EOFError:
        row = None  # It died before answering; its exit code says how.
    finally:
        receiver.close()
    process.join(timeout=30 if row is not None else 5)
    if process.is_alive():
        process.kill()
        process.join()
    if row is None:
        took = time.monotonic() - started
        if took >= timeout:
            reason = f"error: no answer within {timeout:.0f} s; the process was stopped"
        else:
            reason = f"error: the process died (exit code {process.exitcode})"
        row = {"status": reason}
    return {"model": job["model"], "plan": job["plan"], **row}


def write_result(path: Path, header: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Write the whole result so far, atomically: a run cut short leaves valid JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({**header, "rows": rows}, indent=2) + "\n")
    os.replace(partial, path)


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a small fixed-width table, with each row's status at the end."""
    lines = ["".join(f"{title:<{width}}" for title, width, _ in COLUMNS) + "status"]
    for row in rows:
        cells = []
        for _, width, key in COLUMNS:
            value = row.get(key)
            if isinstance(value, bool):
                value = "yes" if value else "NO"
            cells.append(f"{'-' if value is None else value!s:<{width}}")
        lines.append("".join(cells) + str(row["status"]))
    return "\n".join(lines)


def header(args: argparse.Namespace) -> dict[str, Any]:
    """What the run was: machine, cap, mode."""
    return {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": platform.node(),
        "python": platform.python_version(),
        "cap_gb": args.cap_gb,
        "tiny": args.tiny,
        "quick": args.quick,
        "device": gpu_fit_row.describe_device(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run every row, one process each; print the table; exit 0 even when rows failed."""
    args = parse_args(argv)
    info = header(args)
    if info["device"] == "cpu" and not args.tiny:
        print("No CUDA GPU here; run with --tiny to check the harness on the CPU.", file=sys.stderr)
        return 2
    rows: list[dict[str, Any]] = []
    write_result(args.out, info, rows)
    for job in planned_rows(args):
        row = run_row(job, args.row_timeout)
        rows.append(row)
        write_result(args.out, info, rows)
        print(json.dumps(row), flush=True)
    print()
    print(table(rows))
    print(f"\n{len(rows)} rows written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
