"""Chaos run: routine faults against real processes, then count what became of every job.

    python bench/chaos.py [--cycles 20] [--jobs-per-cycle 2] [--faults kill-worker,kill-child,stall,outage]

It starts a private PostgreSQL cluster (never the shared server) and ``i2v up`` with two
workers running real Ken Burns jobs (each frame held back a little, so jobs are caught
mid-way), with short stall and lease settings. Each cycle submits a few jobs, waits until
one is generating, and does one fault, in turn:

* ``kill-worker``: kill -9 of a worker's supervisor process (``i2v up`` starts a new one);
* ``kill-child``: kill -9 of a worker's GPU child process (the worker starts a new one);
* ``stall``: SIGSTOP of a GPU child past the stall timeout, then SIGCONT;
* ``outage``: a restart of the PostgreSQL server (down ``--outage-seconds``).

Then it waits for the queue to drain and prints a table: jobs submitted, succeeded,
failed (with the reason), lost (never finished), run twice (stored more than once,
from the workers' logs), and a histogram of attempts. Writes bench/results/chaos.json.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"
RESULTS = HERE / "results"
# The private cluster and the slowed Ken Burns engine live with the tests.
sys.path.insert(0, str(TESTS))

from i2v.jobs import JobSpec, JobStatus  # noqa: E402
from i2v.launcher.children import i2v_command  # noqa: E402
from i2v.store import JobStore, open_store_url  # noqa: E402
from private_postgres import PrivatePostgres, private_postgres  # noqa: E402

FAULTS = ("kill-worker", "kill-child", "stall", "outage")
PHOTO = (TESTS / "data" / "coffee.png").read_bytes()
#: A small real Ken Burns video: 1 s at 8 fps, 96x64.
SPEC = {"width": 96, "height": 64, "duration_seconds": 1.0, "fps": 8, "engine": "kenburns"}
SETTINGS = {
    "I2V_ENGINE": "kenburns",
    "I2V_ENGINE_FACTORY": "bot_engines:slow_kenburns",
    "I2V_WORKER_HEARTBEAT_SECONDS": "1",
    # Longer than an outage, so a restart of the database costs no attempt.
    "I2V_WORKER_LEASE_SECONDS": "20",
    "I2V_STALL_TIMEOUT_SECONDS": "3",
    "I2V_CANCEL_GRACE_SECONDS": "1",
    "I2V_MIN_JOB_SECONDS": "60",
    "I2V_MAX_JOB_SECONDS": "120",
    "I2V_STOP_GRACE_SECONDS": "5",
}


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception:  # the database may be down mid-fault; look again
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


@contextmanager
def i2v_up(
    data_dir: Path, url: str, log_path: Path, workers: int
) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("I2V_")},
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        "I2V_DATA_DIR": str(data_dir),
        "I2V_DATABASE_URL": url,
        **SETTINGS,
    }
    with log_path.open("wb") as log:
        command = i2v_command("up", "--workers", str(workers), "--only", "worker")
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def worker_pids(data_dir: Path) -> list[int]:
    """The worker supervisors' pids, from i2v up's status file."""
    for path in (data_dir / "run").glob("up-*.json"):
        try:
            children = json.loads(path.read_text())["children"]
        except (OSError, ValueError, KeyError):
            return []
        return [int(c["pid"]) for c in children if c.get("pid") and c["state"] == "running"]
    return []


def generating_child(store: JobStore, data_dir: Path) -> int | None:
    """The pid of a live worker's GPU child that is generating a job right now, if any."""
    busy = {j.worker_id for j in store.list_jobs(statuses=[JobStatus.RUNNING]) if j.stage}
    # A worker killed a moment ago still looks alive in the store; i2v up knows better.
    live = set(worker_pids(data_dir))
    for worker in store.list_workers(alive_only=True):
        child = worker.child_pid
        if worker.id not in busy or not child or worker.pid not in live:
            continue
        # The child of a worker killed a moment ago lives on for a while, orphaned: skip it.
        if proc_status(child).get("PPid") == str(worker.pid) and is_running(child):
            return child
    return None


def proc_status(pid: int) -> dict[str, str]:
    """The fields of /proc/PID/status (Linux), or nothing if the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {k: v.split()[0] for k, _, v in (line.partition(":") for line in lines) if v.split()}


def is_running(pid: int) -> bool:
    """True if the process exists and is neither a zombie nor stopped."""
    return proc_status(pid).get("State", "Z") not in ("Z", "T", "X")


def worker_of(store: JobStore, child_pid: int) -> int | None:
    for worker in store.list_workers(alive_only=True):
        if worker.child_pid == child_pid:
            return worker.pid
    return None


def do_fault(
    kind: str, store: JobStore, server: PrivatePostgres, data_dir: Path, args: argparse.Namespace
) -> str:
    """Do one fault to a worker that is generating; return what was done."""
    child = wait_for(lambda: generating_child(store, data_dir), 120, "a job to be generating")
    if kind == "kill-child":
        os.kill(child, signal.SIGKILL)
        return f"kill -9 child {child}"
    if kind == "kill-worker":
        worker = worker_of(store, child)
        if worker is None:
            return "no worker found"
        os.kill(worker, signal.SIGKILL)
        # Its orphaned GPU child notices the closed pipe and exits by itself.
        return f"kill -9 worker {worker}"
    if kind == "stall":
        os.kill(child, signal.SIGSTOP)
        time.sleep(float(SETTINGS["I2V_STALL_TIMEOUT_SECONDS"]) + 2.0)
        # Its worker has killed it by now, as it should: then there is nothing to continue.
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGCONT)
        return f"SIGSTOP/SIGCONT child {child}"
    server.stop()
    time.sleep(args.outage_seconds)
    server.start()
    return f"PostgreSQL down {args.outage_seconds:g} s"


def run(args: argparse.Namespace) -> dict[str, Any]:
    faults = [f for f in args.faults.split(",") if f]
    folder = Path(tempfile.mkdtemp(prefix="i2v-chaos-"))
    data_dir = folder / "data"
    data_dir.mkdir()
    (data_dir / "slow.json").write_text(json.dumps({"step_seconds": args.step_seconds}))
    log_path = folder / "up.log"
    ids: list[str] = []
    done_faults: collections.Counter[str] = collections.Counter()
    began = time.monotonic()
    with private_postgres() as server:
        store = open_store_url(server.url)
        try:
            with i2v_up(data_dir, server.url, log_path, args.workers):
                wait_for(lambda: len(worker_pids(data_dir)) == args.workers, 60, "the workers")
                for cycle in range(args.cycles):
                    kind = faults[cycle % len(faults)]
                    for n in range(args.jobs_per_cycle):
                        spec = JobSpec(seed=cycle * 100 + n, **SPEC)  # type: ignore[arg-type]
                        ids.append(wait_for(lambda s=spec: store.submit(s, PHOTO).id, 60, "submit"))
                    what = do_fault(kind, store, server, data_dir, args)
                    done_faults[kind] += 1
                    print(f"cycle {cycle + 1}/{args.cycles}: {what}", flush=True)
                wait_for(
                    lambda: all(store.get(i).status.is_terminal for i in ids),
                    args.drain_seconds,
                    "the queue to drain",
                )
        except TimeoutError as exc:
            print(f"chaos: {exc}", flush=True)
        jobs = [store.get(i) for i in ids]
        store.close()
    log_text = log_path.read_text(errors="replace")
    stored = collections.Counter(re.findall(r"job (\w+): succeeded in", log_text))
    outcome = collections.Counter(j.status.value for j in jobs)
    reasons = collections.Counter(j.error_code or "?" for j in jobs if j.status is JobStatus.FAILED)
    return {
        "cycles": args.cycles,
        "faults": dict(done_faults),
        "workers": args.workers,
        "submitted": len(jobs),
        "succeeded": outcome.get(JobStatus.SUCCEEDED.value, 0),
        "failed": dict(reasons),
        "canceled": outcome.get(JobStatus.CANCELED.value, 0),
        "lost": sum(1 for j in jobs if not j.status.is_terminal),
        "run_twice": sum(1 for j in jobs if stored.get(j.id, 0) > 1),
        "attempts": dict(sorted(collections.Counter(j.attempts for j in jobs).items())),
        "outages_logged": len(re.findall(r"database outage began", log_text)),
        "workers_restarted": len(re.findall(r"ended unexpectedly", log_text)),
        "seconds": round(time.monotonic() - began, 1),
        "log": str(log_path),
    }


def print_table(result: dict[str, Any]) -> None:
    failed = ", ".join(f"{k}: {v}" for k, v in result["failed"].items()) or "none"
    attempts = ", ".join(f"{k}x: {v}" for k, v in result["attempts"].items())
    faults = ", ".join(f"{k} {v}" for k, v in result["faults"].items())
    rows = [
        ("cycles (faults)", f"{result['cycles']} ({faults})"),
        ("submitted", result["submitted"]),
        ("succeeded", result["succeeded"]),
        ("failed (reason)", failed),
        ("canceled", result["canceled"]),
        ("lost", result["lost"]),
        ("run twice", result["run_twice"]),
        ("attempts histogram", attempts),
        ("outages logged (start lines)", result["outages_logged"]),
        ("worker processes restarted", result["workers_restarted"]),
        ("wall time, s", result["seconds"]),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--jobs-per-cycle", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--outage-seconds", type=float, default=3.0)
    parser.add_argument("--step-seconds", type=float, default=0.15)
    parser.add_argument("--drain-seconds", type=float, default=600.0)
    parser.add_argument("--json", type=Path, default=RESULTS / "chaos.json")
    args = parser.parse_args()
    unknown = set(args.faults.split(",")) - set(FAULTS)
    if unknown:
        parser.error(
            f"unknown fault(s) {', '.join(sorted(unknown))}; choose from {', '.join(FAULTS)}"
        )
    result = run(args)
    print_table(result)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
