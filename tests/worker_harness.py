"""Running real workers in tests: fast settings, a worker on a thread or in its own process, waiting."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from i2v.config import Settings
from i2v.jobs import Job, JobSpec
from i2v.store import JobStore
from i2v.worker import Worker, WorkerOptions

TESTS = Path(__file__).parent
PHOTO = (TESTS / "data" / "coffee.png").read_bytes()
T = TypeVar("T")

#: Small clocks so failures are found in seconds (the validators need lease > 2 x heartbeat).
FAST = {
    "worker_heartbeat_seconds": 0.2,
    "worker_lease_seconds": 1.0,
    "stall_timeout_seconds": 2.0,
    "cancel_grace_seconds": 0.5,
    "min_job_seconds": 20.0,
    "max_job_seconds": 60.0,
    "stop_grace_seconds": 5.0,
    "model_load_timeout_seconds": 60.0,
}
FAST_OPTIONS = {"poll_seconds": 0.05, "progress_seconds": 0.1, "load_backoff_seconds": 0.2}


def fast_settings(
    data_dir: Path, factory: str = "fake_engines:SlowEngine", **overrides: Any
) -> Settings:
    """Settings for a worker test: tiny clocks, the given fake engine, data in ``data_dir``."""
    return Settings(data_dir=data_dir, engine_factory=factory, **{**FAST, **overrides})


def submit(store: JobStore, count: int = 1, **spec: Any) -> list[str]:
    """Queue ``count`` jobs with the test photo; return their ids."""
    return [
        store.submit(JobSpec(seed=7, **spec), PHOTO, content_type="image/png").id
        for _ in range(count)
    ]


def wait_for(check: Callable[[], T | None], timeout: float, what: str = "condition") -> T:
    """Poll ``check`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def status_is(store: JobStore, job_id: str, *statuses: str) -> Callable[[], Job | None]:
    """A check for wait_for: the job, once it has one of ``statuses``."""

    def check() -> Job | None:
        job = store.get(job_id)
        return job if job.status.value in statuses else None

    return check


@contextmanager
def worker_thread(store: JobStore, settings: Settings, **options: Any) -> Iterator[Worker]:
    """Run a real worker (supervisor here, child spawned) on a thread; stop it on the way out."""
    worker = Worker(store, settings, WorkerOptions(**{**FAST_OPTIONS, **options}))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            worker.run()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name="test-worker")
    thread.start()
    try:
        yield worker
    finally:
        worker.stop(immediately=True)
        thread.join(30)
        assert not thread.is_alive(), "the worker did not stop"
    if errors:
        raise errors[0]


def child_pid(store: JobStore) -> int:
    """The pid of the only worker's child process, once it has one."""
    return wait_for(
        lambda: next((w.child_pid for w in store.list_workers() if w.child_pid), None),
        30,
        "a child",
    )


def worker_process(settings: Settings, *args: str) -> subprocess.Popen[bytes]:
    """Start ``i2v worker`` as its own process, configured like ``settings`` through I2V_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("I2V_")}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env["I2V_DATA_DIR"] = str(settings.data_dir)
    env["I2V_ENGINE_FACTORY"] = settings.engine_factory
    if settings.database_url:
        env["I2V_DATABASE_URL"] = settings.database_url
    for name in FAST:
        env[f"I2V_{name.upper()}"] = str(getattr(settings, name))
    command = [sys.executable, "-c", "from i2v.cli.app import main; main()", "worker", *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
