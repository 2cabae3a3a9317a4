"""Wake-ups: waiters wake on commits (SQLite) and notifications (PostgreSQL), and survive outages."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

import fake_engines
from i2v.jobs import JobSpec, JobStatus, WorkerState
from i2v.store import JobStore, doorbell, open_store_url, wakeups
from i2v.worker import supervisor
from i2v.worker.core import WorkerOptions
from i2v.worker.supervisor import Worker
from private_postgres import postgres_bin_dir, private_postgres
from worker_harness import (
    FAST_OPTIONS,
    PHOTO,
    fast_settings,
    status_is,
    submit,
    wait_for,
    worker_thread,
)

SUBMIT_FROM_ANOTHER_PROCESS = (
    "import sys; from i2v.jobs import JobSpec; from i2v.store import open_store_url; "
    "open_store_url(sys.argv[1]).submit(JobSpec(seed=1), sys.argv[2].encode())"
)


SUBMIT_AND_SAY_WHEN = SUBMIT_FROM_ANOTHER_PROCESS + "; print(__import__('time').time())"


def submit_from_another_process(url: str) -> float:
    """Submit a job from a new process (as the CLI does); return when its commit was done."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", SUBMIT_AND_SAY_WHEN, url, "photo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return float(done.stdout.split()[-1])


def open_url(url: str) -> Iterator[JobStore]:
    store = open_store_url(url)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[JobStore]:
    yield from open_url(postgres_url)


def psql_url(store_url: str) -> str:
    return store_url.replace("postgresql+psycopg://", "postgresql://")


def test_a_sqlite_waiter_wakes_on_a_submit_from_another_process(sqlite_url: str) -> None:
    [store] = open_url(sqlite_url)
    waiter = store.change_feed(safety_poll_seconds=30).waiter([wakeups.QUEUED])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, "-c", SUBMIT_FROM_ANOTHER_PROCESS, sqlite_url, "photo"], env=env
    )
    started = time.monotonic()
    woke = waiter.wait(30)
    assert child.wait(30) == 0
    assert woke
    assert time.monotonic() - started < 20
    assert store.count_jobs(statuses=[JobStatus.QUEUED]) == 1


def test_a_sqlite_waiter_is_woken_by_the_doorbell_of_a_submit_from_another_process(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The change check runs only when rung: any wake-up below came from the doorbell.
    monkeypatch.setattr(wakeups, "SQLITE_MIN_CHECK_SECONDS", 60.0)
    monkeypatch.setattr(wakeups, "SQLITE_MAX_CHECK_SECONDS", 60.0)
    [store] = open_url(sqlite_url)
    waiter = store.change_feed(safety_poll_seconds=60).waiter([wakeups.QUEUED])
    committed = submit_from_another_process(sqlite_url)
    assert waiter.wait(30)
    woke = time.time()
    assert woke - committed < 10  # seconds on a loaded machine; bench/job_queue.py times it
    assert store.count_jobs(statuses=[JobStatus.QUEUED]) == 1


def test_a_lost_doorbell_ring_still_wakes_within_the_sqlite_safety_check(
    sqlite_url: str,
) -> None:
    [store] = open_url(sqlite_url)
    waiter = store.change_feed(safety_poll_seconds=60).waiter([wakeups.QUEUED])
    # Point this process's bell file at a port nobody listens on: the ring is lost.
    [bell] = doorbell.bell_folder(store_path(sqlite_url)).iterdir()  # type: ignore[union-attr]
    bell.rename(bell.with_name(f"{os.getpid()}-{closed_port()}"))
    committed = submit_from_another_process(sqlite_url)
    assert waiter.wait(30)
    late = time.time() - committed
    assert late <= wakeups.SQLITE_MAX_CHECK_SECONDS + 1.0
    assert store.count_jobs(statuses=[JobStatus.QUEUED]) == 1


def test_a_closed_sqlite_feed_takes_its_bell_file_away(sqlite_url: str) -> None:
    store = open_store_url(sqlite_url)
    store.change_feed().waiter()
    folder = doorbell.bell_folder(store_path(sqlite_url))
    assert folder is not None and len(list(folder.iterdir())) == 1
    store.close()
    assert list(folder.iterdir()) == []


def store_path(sqlite_url: str) -> str:
    return sqlite_url.removeprefix("sqlite:///")


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_sqlite_waiter_with_nothing_to_see_times_out_quietly(sqlite_url: str) -> None:
    [store] = open_url(sqlite_url)
    waiter = store.change_feed().waiter()
    started = time.monotonic()
    assert not waiter.wait(0.3)
    assert time.monotonic() - started >= 0.25


def test_a_postgres_waiter_wakes_on_a_submit_and_on_a_cancel(pg_store: JobStore) -> None:
    feed = pg_store.change_feed(safety_poll_seconds=30)
    queued, canceled = feed.waiter([wakeups.QUEUED]), feed.waiter([wakeups.CANCEL])
    job = pg_store.submit(JobSpec(seed=1), PHOTO)
    started = time.monotonic()
    assert queued.wait(10)
    assert time.monotonic() - started < 5
    assert not canceled.wait(0)
    pg_store.request_cancel(job.id)
    assert canceled.wait(10)


def kill_listener(store_url: str) -> int:
    """Terminate this database's LISTEN connection; return how many were killed."""
    with psycopg.connect(psql_url(store_url), autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN%%'"
        ).fetchall()
    return len(rows)


def test_a_lost_listener_delays_a_wakeup_by_at_most_the_safety_poll(
    postgres_url: str, pg_store: JobStore
) -> None:
    safety = 2.0
    feed = pg_store.change_feed(safety_poll_seconds=safety)
    waiter = feed.waiter([wakeups.QUEUED])
    assert feed.connected
    assert kill_listener(postgres_url) == 1
    pg_store.submit(JobSpec(seed=1), PHOTO)  # its notification may be lost
    started = time.monotonic()
    assert waiter.wait(60)
    assert time.monotonic() - started <= safety + 0.5
    wait_for(lambda: feed.connected, 30, "the listener to reconnect")


@pytest.mark.skipif(postgres_bin_dir() is None, reason="needs PostgreSQL's server binaries")
def test_a_postgres_restart_reconnects_the_listener(tmp_path: Path) -> None:
    with private_postgres() as server:
        [store] = open_url(server.url)
        feed = store.change_feed(safety_poll_seconds=30)
        waiter = feed.waiter([wakeups.QUEUED])
        server.restart(down_seconds=2.0)
        wait_for(lambda: feed.connected, 60, "the listener to reconnect")
        waiter.wait(0)  # forget the wake-up the reconnect itself gives
        wait_for(lambda: _submitted(store), 30, "a submit after the restart")
        started = time.monotonic()
        assert waiter.wait(30)
        assert time.monotonic() - started < 5  # a notification, not the 30 s safety poll
        store.close()


def _submitted(store: JobStore) -> bool:
    try:
        store.submit(JobSpec(seed=1), PHOTO)
    except Exception:  # the pool may still hold connections from before the restart
        return False
    return True


def test_cancel_reaches_a_running_job_within_one_step_by_notification(
    tmp_path: Path, store_url: str
) -> None:
    step = 0.3
    settings = fast_settings(tmp_path)
    fake_engines.configure(tmp_path, steps=60, step_seconds=step)
    [store] = open_url(store_url)
    [job_id] = submit(store)
    # Progress writes (which also carry the flag) are 60 s apart: only the notification can.
    with worker_thread(store, settings, max_jobs=1, progress_seconds=60):
        wait_for(lambda: len(fake_engines.step_times(tmp_path)) >= 2, 30, "two steps")
        store.request_cancel(job_id)
        asked = time.time()
        job = wait_for(status_is(store, job_id, "canceled", "failed", "succeeded"), 20, "cancel")
    assert job.status is JobStatus.CANCELED
    assert len([t for t in fake_engines.step_times(tmp_path) if t > asked]) <= 2
    store.close()


def test_an_idle_worker_notices_a_stop_at_once_though_it_sleeps_for_long(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing else ends its wait early: no heartbeat commits, no safety poll, a long idle wait.
    monkeypatch.setattr(supervisor, "IDLE_WAIT_SECONDS", 60.0)
    settings = fast_settings(
        tmp_path,
        worker_heartbeat_seconds=30,
        worker_lease_seconds=120,
        wakeup_safety_poll_seconds=60,
    )
    [store] = open_url(sqlite_url)
    worker = Worker(store, settings, WorkerOptions(**FAST_OPTIONS))
    thread = threading.Thread(target=worker.run, name="test-worker")
    thread.start()
    try:
        wait_for(lambda: _idle(store), 60, "an idle worker")
        time.sleep(0.2)  # let it settle into its long wait on wake-ups
    finally:
        started = time.monotonic()
        worker.stop()
        thread.join(30)
    assert not thread.is_alive()
    assert time.monotonic() - started < 10  # not the 60 s wait
    assert worker.stopping
    store.close()


def _idle(store: JobStore) -> bool:
    return any(w.state is WorkerState.IDLE for w in store.list_workers())


class CountingExecutor(concurrent.futures.ThreadPoolExecutor):
    """An event loop's default executor that counts the calls handed to its threads."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.calls = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        self.calls += 1
        return super().submit(fn, *args, **kwargs)


def test_many_async_waits_hold_no_thread_and_all_wake_on_one_change(sqlite_url: str) -> None:
    [store] = open_url(sqlite_url)
    feed = store.change_feed()
    executor = CountingExecutor()

    async def scenario() -> list[bool]:
        asyncio.get_running_loop().set_default_executor(executor)
        waiters = [feed.waiter([wakeups.QUEUED]) for _ in range(50)]
        waits = [asyncio.ensure_future(w.wait_async(60.0)) for w in waiters]
        await asyncio.sleep(1.5)  # idle: nothing may run in a thread meanwhile
        assert executor.calls == 0
        assert not any(w.done() for w in waits)
        submitter = threading.Thread(target=submit, args=(store,))
        submitter.start()
        woken = await asyncio.wait_for(asyncio.gather(*waits), timeout=30.0)
        submitter.join()
        return woken

    try:
        assert asyncio.run(scenario()) == [True] * 50
    finally:
        executor.shutdown()


def test_an_async_wait_ends_at_once_on_a_kick_and_on_close(sqlite_url: str) -> None:
    [store] = open_url(sqlite_url)
    feed = store.change_feed()

    async def wait_then(action: Any) -> tuple[bool, float]:
        waiting = asyncio.ensure_future(feed.waiter().wait_async(60.0))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        threading.Thread(target=action).start()
        changed = await asyncio.wait_for(waiting, timeout=30.0)
        return changed, time.monotonic() - started

    kicked, after_kick = asyncio.run(wait_then(feed.kick))
    assert not kicked and after_kick < 10.0
    closed, after_close = asyncio.run(wait_then(feed.close))
    assert not closed and after_close < 10.0


def test_an_async_wait_with_nothing_to_see_times_out_quietly(sqlite_url: str) -> None:
    [store] = open_url(sqlite_url)
    waiter = store.change_feed().waiter()
    started = time.monotonic()
    assert not asyncio.run(waiter.wait_async(0.3))
    assert time.monotonic() - started >= 0.25
