"""Idle CPU of a worker process tree, for bench/job_queue.py: what waiting for work costs.

Linux only: read from ``/proc/<pid>/task/*/schedstat``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from i2v.jobs import WorkerState
from i2v.store import open_store_url


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds used by a process, its threads and its live children (Linux /proc).

    Read from each thread's ``schedstat`` (nanoseconds), since ``stat``'s clock ticks
    (10 ms) are too coarse for an idle process's few milliseconds.
    """
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                total += int((task / "schedstat").read_text().split()[0]) / 1e9
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
    return total


def idle_percent(pid: int, seconds: float) -> float:
    """CPU a process tree used over ``seconds`` of wall time, in % of one core."""
    before, start = tree_cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    used, wall = tree_cpu_seconds(pid) - before, time.monotonic() - start
    return round(100 * used / wall, 3)


def idle_i2v_worker(url: str, seconds: float) -> float:
    """Start a real ``i2v worker`` (Ken Burns), wait until it is idle, measure its CPU."""
    data_dir = tempfile.mkdtemp(prefix="i2v-bench-idle-")
    env = {
        **os.environ,
        "I2V_DATABASE_URL": url,
        "I2V_DATA_DIR": data_dir,
        "I2V_ENGINE": "kenburns",
        "I2V_LOG_LEVEL": "WARNING",
    }
    store = open_store_url(url)
    proc = subprocess.Popen([sys.executable, "-m", "i2v", "worker"], env=env)
    try:
        deadline = time.monotonic() + 120
        while not any(w.state is WorkerState.IDLE for w in store.list_workers()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the i2v worker did not become idle")
            time.sleep(0.2)
        time.sleep(2.0)  # let start-up work (imports, first safety look) settle
        return idle_percent(proc.pid, seconds)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        store.close()
