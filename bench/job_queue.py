"""Queue benchmark: submit→claim latency and no-op throughput, i2v's store versus RQ + Redis.

    python bench/job_queue.py [--jobs 1000] [--latency-jobs 200] [--postgres URL] [--redis URL]

For each backend (i2v on SQLite, i2v on PostgreSQL, RQ with SimpleWorker on
Redis) and for 1 and 4 worker processes it measures, in the same run:

* latency: jobs submitted one at a time at a steady pace to idle workers; the
  time from submission to a worker starting it (p50, p99);
* throughput: a pre-filled queue of no-op jobs drained by the workers (jobs/s).

i2v workers poll an empty queue every ``--poll`` seconds (RQ blocks on Redis
instead), so the poll interval bounds i2v's idle latency. Writes a JSON file
to bench/results/job_queue.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
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
from rq_tasks import noop  # noqa: E402

from i2v.jobs import JobSpec, JobStatus  # noqa: E402
from i2v.store import JobStore, open_store_url  # noqa: E402

RESULTS = _HERE / "results"


# --- i2v ------------------------------------------------------------------------------


def i2v_worker(url: str, name: str, poll: float, stop: Any) -> None:
    """Claim and finish no-op jobs until told to stop."""
    store = open_store_url(url, migrate=False)
    while not stop.is_set():
        lease = store.claim(name)
        if lease is None:
            time.sleep(poll)
            continue
        store.succeed(lease.job.id, lease.token, result={}, video=b"")
    store.close()


def _drained(store: JobStore) -> bool:
    return store.count_jobs(statuses=[JobStatus.QUEUED, JobStatus.RUNNING]) == 0


def _start_workers(url: str, workers: int, poll: float) -> tuple[list[Any], Any]:
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    procs = [
        ctx.Process(target=i2v_worker, args=(url, f"w{n}", poll, stop)) for n in range(workers)
    ]
    for proc in procs:
        proc.start()
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
    time.sleep(2.0)  # let the spawned workers start polling
    ids = []
    for _ in range(latency_jobs):
        ids.append(store.submit(JobSpec(), b"").id)
        time.sleep(pace)
    _wait_drained(store)
    _stop_workers(procs, stop)
    latencies = []
    for job_id in ids:
        job = store.get(job_id)
        assert job.started_at and job.created_at
        latencies.append((job.started_at - job.created_at).total_seconds())
    store.close()
    return _summary(latencies, throughput)


def _wait_drained(store: JobStore) -> tuple[float, float]:
    """Wait until no job is queued or running; return (first claim, last finish) times."""
    while not _drained(store):
        time.sleep(0.05)
    done = store.list_jobs(statuses=[JobStatus.SUCCEEDED], limit=100_000)
    starts = [j.started_at.timestamp() for j in done if j.started_at]
    finishes = [j.finished_at.timestamp() for j in done if j.finished_at]
    return min(starts), max(finishes)


# --- RQ -------------------------------------------------------------------------------


def rq_worker(redis_url: str, burst: bool) -> None:
    """An RQ SimpleWorker (no fork per job) on the bench queue."""
    from redis import Redis
    from rq import Queue, SimpleWorker

    conn = Redis.from_url(redis_url)
    SimpleWorker([Queue("i2v-bench", connection=conn)], connection=conn).work(
        burst=burst, logging_level="WARNING", with_scheduler=False
    )


def run_rq(
    redis_url: str, workers: int, jobs: int, latency_jobs: int, pace: float
) -> dict[str, float]:
    """Measure RQ + Redis with ``workers`` SimpleWorker processes, the same way."""
    from redis import Redis
    from rq import Queue

    conn = Redis.from_url(redis_url)
    conn.flushdb()
    queue = Queue("i2v-bench", connection=conn)
    ctx = multiprocessing.get_context("spawn")

    enqueued = [queue.enqueue(noop, result_ttl=600) for _ in range(jobs)]
    procs = [ctx.Process(target=rq_worker, args=(redis_url, True)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    for job in enqueued:
        job.refresh()
    first = min(j.started_at for j in enqueued if j.started_at)
    last = max(j.ended_at for j in enqueued if j.ended_at)
    throughput = jobs / (last - first).total_seconds()

    procs = [ctx.Process(target=rq_worker, args=(redis_url, False)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    time.sleep(2.0)
    paced = []
    for _ in range(latency_jobs):
        paced.append(queue.enqueue(noop, result_ttl=600))
        time.sleep(pace)
    deadline = time.time() + 60
    while time.time() < deadline and any(
        j.get_status(refresh=True) != "finished" for j in paced[-5:]
    ):
        time.sleep(0.05)
    latencies = []
    for job in paced:
        job.refresh()
        if job.started_at and job.enqueued_at:
            latencies.append((job.started_at - job.enqueued_at).total_seconds())
    for proc in procs:
        proc.terminate()
        proc.join()
    conn.flushdb()
    return _summary(latencies, throughput)


# --- report ---------------------------------------------------------------------------


def _summary(latencies: list[float], throughput: float) -> dict[str, float]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return {
        "latency_p50_ms": round(statistics.median(ordered) * 1000, 1),
        "latency_p99_ms": round(p99 * 1000, 1),
        "throughput_jobs_per_s": round(throughput, 1),
        "samples": len(ordered),
    }


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
    parser.add_argument("--poll", type=float, default=0.02, help="i2v idle poll interval (s)")
    parser.add_argument(
        "--pace", type=float, default=0.02, help="seconds between paced submissions"
    )
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--workers", default="1,4")
    args = parser.parse_args()

    new_pg = _fresh_postgres(args.postgres)
    tmp = Path(tempfile.mkdtemp(prefix="i2v-bench-"))
    rows: list[dict[str, Any]] = []
    for workers in [int(w) for w in args.workers.split(",")]:
        backends: list[tuple[str, Callable[[], dict[str, float]]]] = [
            (
                "i2v sqlite",
                lambda w=workers: run_i2v(
                    f"sqlite:///{(tmp / f'q{w}.db').as_posix()}",
                    w,
                    args.jobs,
                    args.latency_jobs,
                    args.poll,
                    args.pace,
                ),
            ),
            (
                "i2v postgresql",
                lambda w=workers: run_i2v(
                    new_pg(), w, args.jobs, args.latency_jobs, args.poll, args.pace
                ),
            ),
            (
                "rq + redis",
                lambda w=workers: run_rq(args.redis, w, args.jobs, args.latency_jobs, args.pace),
            ),
        ]
        for name, measure in backends:
            print(f"measuring {name} with {workers} worker(s)...", file=sys.stderr, flush=True)
            rows.append({"backend": name, "workers": workers, **measure()})

    header = f"{'backend':<16}{'workers':>8}{'p50 ms':>10}{'p99 ms':>10}{'jobs/s':>10}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['backend']:<16}{row['workers']:>8}{row['latency_p50_ms']:>10}"
            f"{row['latency_p99_ms']:>10}{row['throughput_jobs_per_s']:>10}"
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "job_queue.json"
    out.write_text(
        json.dumps({"poll_seconds": args.poll, "jobs": args.jobs, "rows": rows}, indent=2)
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
