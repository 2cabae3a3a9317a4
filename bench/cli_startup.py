"""CLI start-up benchmark: wall time of short ``i2v`` commands, run as real processes.

    python bench/cli_startup.py [--runs 15] [--compare-ref main]

Runs ``i2v --help``, ``i2v jobs`` and ``i2v job ID`` (on a SQLite store in a temp
folder with a few jobs) as separate processes, ``--runs`` times each,
interleaved, and reports the median and best wall time. With ``--compare-ref``
it also runs the same commands from a copy of that git ref's sources (made with ``git
archive`` into a temp folder, imported through PYTHONPATH), so before and after
are measured side by side on the same loaded machine. The commands run in the temp
folder, so no ``.env`` of the caller's changes what they read; both trees are compiled
to bytecode first, as an installed package is. Writes
bench/results/cli_startup.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from i2v.jobs import JobSpec
from i2v.store import open_store_url

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
#: The goal from issue 13, for each command.
GOAL_SECONDS = 0.25


def _checkout(ref: str, folder: Path) -> Path:
    """A copy of ``ref``'s ``src`` folder (``git archive``), to import through PYTHONPATH."""
    folder.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "src"], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder / "src"


def _time(command: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, check=False, capture_output=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.decode(errors='replace')}")
    return elapsed


def main() -> None:
    """Time each command from each source tree; print a table and write JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--compare-ref", default=None, help="git ref to measure as 'before'")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="i2v-bench-cli-"))
    url = f"sqlite:///{(tmp / 'i2v.db').as_posix()}"
    store = open_store_url(url)
    job_id = store.submit(JobSpec(prompt="a cup of coffee"), b"photo").id
    for _ in range(4):
        store.submit(JobSpec(), b"photo")
    store.close()

    trees = {"this tree": ROOT / "src"}
    if args.compare_ref:
        trees = {f"{args.compare_ref}": _checkout(args.compare_ref, tmp / "before"), **trees}
    for src in trees.values():
        # Bytecode, as an installed package has it (pip compiles on install), even where
        # PYTHONDONTWRITEBYTECODE keeps each run from writing its own.
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=True)
    commands = {"i2v --help": ["--help"], "i2v jobs": ["jobs"], "i2v job ID": ["job", job_id]}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("I2V_")}
    base_env.update({"I2V_DATABASE_URL": url, "I2V_DATA_DIR": str(tmp / "data")})

    samples: dict[tuple[str, str], list[float]] = {(t, c): [] for t in trees for c in commands}
    # The floor under any command: Python itself; the CLI framework with sqlite3 (all that
    # `i2v job ID` needs besides i2v's own modules); that plus Rich's table (`i2v jobs`);
    # and what `i2v jobs` imported before it read SQLite without SQLAlchemy and pydantic.
    floors = {
        "python": "pass",
        "typer+sqlite": "import typer, typer.main, sqlite3, json",
        "+rich table": "import typer, typer.main, sqlite3, json, rich.console, rich.table",
        "old libs": "import typer, typer.main, sqlalchemy, pydantic_settings, rich.table",
    }
    samples.update({("floor", name): [] for name in floors})
    for _ in range(args.runs):
        for tree, src in trees.items():
            env = {**base_env, "PYTHONPATH": str(src)}
            for name, argv in commands.items():
                command = [sys.executable, "-m", "i2v", *argv]
                samples[tree, name].append(_time(command, env, tmp))
        for name, code in floors.items():
            samples["floor", name].append(_time([sys.executable, "-c", code], base_env, tmp))

    rows = [
        {
            "tree": tree,
            "command": name,
            "median_s": round(statistics.median(values), 3),
            "best_s": round(min(values), 3),
            "runs": len(values),
        }
        for (tree, name), values in samples.items()
    ]
    header = f"{'tree':<12}{'command':<14}{'median s':>10}{'best s':>10}{'goal':>10}"
    print(header)
    print("-" * len(header))
    for row in rows:
        met = "met" if row["median_s"] <= GOAL_SECONDS else "NOT met"
        if row["tree"] == "floor":
            met = "-"
        print(
            f"{row['tree']:<12}{row['command']:<14}{row['median_s']:>10}{row['best_s']:>10}"
            f"{met:>10}"
        )
    if args.compare_ref:
        print()
        for name in commands:
            before = samples[args.compare_ref, name]
            after = samples["this tree", name]
            ratio = statistics.median(before) / statistics.median(after)
            print(f"{name}: {ratio:.2f}x faster than {args.compare_ref} (median)")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "cli_startup.json"
    out.write_text(json.dumps({"goal_seconds": GOAL_SECONDS, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
