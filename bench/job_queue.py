"""Queue benchmark: submit→claim latency and no-op throughput, i2v's store versus RQ + Redis.

    python bench/job_queue.py [--jobs 1000] [--latency-jobs 200] [--postgres URL] [--redis URL]
        [--backends sqlite,postgresql,rq] [--rounds N] [--baseline-src DIR]

For each backend (i2v on SQLite, i2v on PostgreSQL, RQ with SimpleWorker on
Redis) and for 1 and 4 worker processes it measures, in the same run:

* latency: jobs submitted one at a time at a steady pace to idle workers; the
  time from submission to a worker starting it (p50, p99);
* throughput: a pre-filled queue of no-op jobs drained by the workers (jobs/s).

* idle CPU: a real idle ``i2v worker`` (Ken Burns engine; supervisor and its
  child process together) and an idle RQ worker, each sampled from
  ``/proc/<pid>/stat`` over ``--idle-seconds``, as a percentage of one core.

This machine's load moves absolute numbers a lot, so compare within one run:
``--baseline-src DIR`` (a checkout of an older commit, e.g. made with
``git worktree add /tmp/base main``) measures that code's PostgreSQL rows right
after the current ones, and ``--rounds N`` repeats everything interleaved and
reports each figure's median.

Idle i2v workers block on the store's change feed (LISTEN/NOTIFY on PostgreSQL,
``PRAGMA data_version`` on SQLite), as ``i2v worker`` does; RQ blocks on Redis.
Writes a JSON file to bench/results/job_queue.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

# RQ workers import their task by module name; make its folder importable (spawned
# children inherit sys.path).
_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE / "tasks"))

from i2v.jobs import JobSpec, JobStatus  # noqa: E402
from i2v.store import JobStore, open_store_url, wakeups  # noqa: E402
from idle_cpu import idle_i2v_worker  # noqa: E402
from queue_report import goals_met, median, p99, print_table, summary  # noqa: E402
from rq_queue import idle_rq_worker, run_rq  # noqa: E402
from together import start_together  # noqa: E402

RESULTS = _HERE / "results"
#: Backends by their option name, and how the table names them.
LABELS = {"sqlite": "i2v sqlite", "postgresql": "i2v postgresql", "rq": "rq + redis"}
BACKENDS = tuple(LABELS)
#: The table's name for the PostgreSQL rows measured with --baseline-src.
BASELINE = "i2v postgresql @baseline"


# --- i2v ------------------------------------------------------------------------------


def i2v_worker(url: str, name: str, poll: float, stop: Any, ready: Any, go: Any) -> None:
    """Claim and finish no-op jobs until told to stop, sleeping on the change feed when idle."""
    store = open_store_url(url, migrate=False)
    # Taken before the first look, so a job queued between a look and a wait still wakes us.
    queued = store.change_feed().waiter([wakeups.QUEUED])
    ready.put(name)
    go.wait()
    while not stop.is_set():
        lease = store.claim(name)
        if lease is None:
            queued.wait(poll)
            continue
        store.succeed(lease.job.id, lease.token, result={}, video=b"")
    store.close()


def _drained(store: JobStore) -> bool:
    return store.count_jobs(statuses=[JobStatus.QUEUED, JobStatus.RUNNING]) == 0


def _start_workers(url: str, workers: int, poll: float) -> tuple[list[Any], Any]:
    stop = multiprocessing.get_context("spawn").Event()
    procs = start_together(i2v_worker, [(url, f"w{n}", poll, stop) for n in range(workers)])
    return procs, stop


def _stop_workers(procs: list[Any], stop: Any) -> None:
    stop.set()
    for proc in procs:
        proc.join()


def run_i2v(
    url: str, workers: int, jobs: int, latency_jobs: int, poll: float, pace: float
) -> dict[str, float]:
    """Measure one i2v backend with ``workers`` worker processes."""
    store = open_store_url(url)

    # Throughput: fill the queue, then let the workers drain it.
    for _ in range(jobs):
        store.submit(JobSpec(), b"")
    procs, stop = _start_workers(url, workers, poll)
    first_claim, last_finish = _wait_drained(store)
    _stop_workers(procs, stop)
    throughput = jobs / (last_finish - first_claim)

    # Latency: idle workers, paced submissions.
    procs, stop = _start_workers(url, workers, poll)
    time.sleep(0.5)  # let the workers reach their idle wait
    ids, submits = [], []
    for _ in range(latency_jobs):
        started = time.perf_counter()
        ids.append(store.submit(JobSpec(), b"").id)
        submits.append(time.perf_counter() - started)
        time.sleep(pace)
    _wait_drained(store)
    _stop_workers(procs, stop)
    latencies = []
    for job_id in ids:
        job = store.get(job_id)
        assert job.started_at and job.created_at
        latencies.append((job.started_at - job.created_at).total_seconds())
    store.close()
    # The latency counts from the job's creation, inside submit(): how much of it
    # submit() itself takes (its writes and their commit) tells it from the wake-up.
    return summary(latencies, throughput) | {
        "submit_p50_ms": round(statistics.median(submits) * 1000, 1),
        "submit_p99_ms": round(p99(submits) * 1000, 1),
    }


def _wait_drained(store: JobStore) -> tuple[float, float]:
    """Wait until no job is queued or running; return (first claim, last finish) times."""
    while not _drained(store):
        time.sleep(0.05)
    done = store.list_jobs(statuses=[JobStatus.SUCCEEDED], limit=100_000)
    starts = [j.started_at.timestamp() for j in done if j.started_at]
    finishes = [j.finished_at.timestamp() for j in done if j.finished_at]
    return min(starts), max(finishes)


# --- the baseline and fresh databases ---------------------------------------------------


def run_baseline(args: argparse.Namespace, src: Path, workers: int) -> dict[str, float]:
    """Measure the i2v under ``src`` on PostgreSQL: this script, in a child using that code."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "rows.json"
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--backends=postgresql",
                f"--workers={workers}",
                f"--jobs={args.jobs}",
                f"--latency-jobs={args.latency_jobs}",
                f"--poll={args.poll}",
                f"--pace={args.pace}",
                "--idle-seconds=0",
                f"--postgres={args.postgres}",
                f"--rows-out={out}",
                f"--results={folder}",
            ],
            env={**os.environ, "PYTHONPATH": str(src.resolve() / "src")},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            raise RuntimeError(f"the baseline run failed:\n{child.stderr}")
        [row] = json.loads(out.read_text())
    return {k: v for k, v in row.items() if k not in ("backend", "workers", "idle_cpu_percent")}


def _fresh_postgres(admin_url: str) -> Callable[[], str]:
    counter = iter(range(1000))

    def make() -> str:
        name = f"i2v_bench_{int(time.time())}_{next(counter)}"
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    return make


def main() -> None:
    """Run every backend with 1 and 4 workers; print a table and write JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--latency-jobs", type=int, default=200)
    parser.add_argument(
        "--poll", type=float, default=0.5, help="longest idle wait on the change feed (s)"
    )
    parser.add_argument(
        "--pace", type=float, default=0.02, help="seconds between paced submissions"
    )
    parser.add_argument(
        "--idle-seconds", type=float, default=20.0, help="idle CPU sample length; 0 skips it"
    )
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--workers", default="1,4")
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help=f"which backends to measure, of {', '.join(BACKENDS)}",
    )
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="a folder holding another i2v's src/ (a checkout of an older commit): its "
        "PostgreSQL rows are measured in the same run, each right after the current one",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure everything this many times, interleaved; report each figure's median",
    )
    parser.add_argument("--rows-out", type=Path, help="also write the rows alone to this JSON file")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for job_queue.json")
    args = parser.parse_args()

    new_pg = _fresh_postgres(args.postgres)
    tmp = Path(tempfile.mkdtemp(prefix="i2v-bench-"))
    chosen = args.backends.split(",")
    idle: dict[str, float | None] = dict.fromkeys(LABELS.values())
    if args.idle_seconds > 0 and Path("/proc/self/stat").exists():
        idle_runs: dict[str, Callable[[], float]] = {
            "sqlite": lambda: idle_i2v_worker(
                f"sqlite:///{(tmp / 'idle.db').as_posix()}", args.idle_seconds
            ),
            "postgresql": lambda: idle_i2v_worker(new_pg(), args.idle_seconds),
            "rq": lambda: idle_rq_worker(args.redis, args.idle_seconds),
        }
        for backend in chosen:
            print(f"measuring an idle {LABELS[backend]} worker...", file=sys.stderr, flush=True)
            idle[LABELS[backend]] = idle_runs[backend]()
    samples: dict[tuple[str, int], list[dict[str, float]]] = {}
    for round_ in range(args.rounds):
        for workers in [int(w) for w in args.workers.split(",")]:
            runs: dict[str, Callable[[], dict[str, float]]] = {
                "sqlite": lambda w=workers, r=round_: run_i2v(
                    f"sqlite:///{(tmp / f'q{w}-{r}.db').as_posix()}",
                    w,
                    args.jobs,
                    args.latency_jobs,
                    args.poll,
                    args.pace,
                ),
                "postgresql": lambda w=workers: run_i2v(
                    new_pg(), w, args.jobs, args.latency_jobs, args.poll, args.pace
                ),
                "rq": lambda w=workers: run_rq(
                    args.redis, w, args.jobs, args.latency_jobs, args.pace
                ),
            }
            measures = [(LABELS[b], runs[b]) for b in chosen]
            if args.baseline_src is not None:
                at = chosen.index("postgresql") + 1 if "postgresql" in chosen else 0
                measures.insert(
                    at,
                    (BASELINE, lambda w=workers: run_baseline(args, args.baseline_src, w)),
                )
            for name, measure in measures:
                print(
                    f"round {round_ + 1}: measuring {name} with {workers} worker(s)...",
                    file=sys.stderr,
                    flush=True,
                )
                samples.setdefault((name, workers), []).append(measure())
    rows = [
        {"backend": name, "workers": workers, **median(runs), "idle_cpu_percent": idle.get(name)}
        for (name, workers), runs in samples.items()
    ]
    if args.rows_out is not None:
        args.rows_out.write_text(json.dumps(rows, indent=2))

    print_table(rows)
    goals = goals_met(rows)
    print()
    for text, met in goals:
        print(f"{'met    ' if met else 'NOT met'}  {text}")
    args.results.mkdir(exist_ok=True)
    out = args.results / "job_queue.json"
    out.write_text(
        json.dumps(
            {
                "wait_seconds": args.poll,
                "jobs": args.jobs,
                "rounds": args.rounds,
                "idle_seconds": args.idle_seconds,
                "rows": rows,
                "goals": [{"goal": text, "met": met} for text, met in goals],
            },
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
