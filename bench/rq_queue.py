"""RQ + Redis measured as bench/job_queue.py measures i2v: SimpleWorker processes, no fork per job."""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

from rq_tasks import noop

from idle_cpu import idle_percent
from queue_report import summary
from together import start_together


def rq_worker(redis_url: str, burst: bool, ready: Any = None, go: Any = None) -> None:
    """An RQ SimpleWorker (no fork per job) on the bench queue."""
    from redis import Redis
    from rq import Queue, SimpleWorker

    conn = Redis.from_url(redis_url)
    worker = SimpleWorker([Queue("i2v-bench", connection=conn)], connection=conn)
    conn.ping()
    if ready is not None:
        ready.put(worker.name)
        go.wait()
    worker.work(burst=burst, logging_level="WARNING", with_scheduler=False)


def run_rq(
    redis_url: str, workers: int, jobs: int, latency_jobs: int, pace: float
) -> dict[str, float]:
    """Measure RQ + Redis with ``workers`` SimpleWorker processes, the same way."""
    from redis import Redis
    from rq import Queue

    conn = Redis.from_url(redis_url)
    conn.flushdb()
    queue = Queue("i2v-bench", connection=conn)

    enqueued = [queue.enqueue(noop, result_ttl=600) for _ in range(jobs)]
    procs = start_together(rq_worker, [(redis_url, True)] * workers)
    for proc in procs:
        proc.join()
    for job in enqueued:
        job.refresh()
    first = min(j.started_at for j in enqueued if j.started_at)
    last = max(j.ended_at for j in enqueued if j.ended_at)
    throughput = jobs / (last - first).total_seconds()

    procs = start_together(rq_worker, [(redis_url, False)] * workers)
    time.sleep(0.5)  # let the workers reach their idle wait
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
    return summary(latencies, throughput)


# --- idle CPU (RQ; i2v's in idle_cpu.py) ----------------------------------------------


def idle_rq_worker(redis_url: str, seconds: float) -> float:
    """Start an RQ SimpleWorker on an empty queue and measure its CPU."""
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=rq_worker, args=(redis_url, False))
    proc.start()
    try:
        time.sleep(5.0)  # imports and registration
        assert proc.pid is not None
        return idle_percent(proc.pid, seconds)
    finally:
        proc.terminate()
        proc.join()
