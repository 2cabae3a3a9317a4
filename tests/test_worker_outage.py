"""Database outages after start-up are waited out: no worker exits, no job is lost or run twice.

Real processes throughout: a private PostgreSQL cluster that the tests stop and restart
(never the shared server), workers in their own processes under ``i2v up``, and a SQLite
data folder on a small filesystem that the test fills up. What happens to a video
finished during an outage is in test_worker_spool.py.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fake_engines import configure
from i2v.errors import StoreUnavailable
from i2v.jobs import JobSpec, JobStatus
from i2v.launcher.children import i2v_command
from i2v.store import open_store_url
from i2v.worker.outage import Outage
from outage_support import (
    KEN_BURNS,
    TESTS,
    OutputLines,
    all_done,
    has_video,
    needs_postgres,
    opened,
    posix_only,
)
from private_postgres import PrivatePostgres, private_postgres
from small_filesystem import needs_small_filesystem, small_filesystem
from worker_harness import PHOTO, fast_settings, submit, wait_for, worker_process, worker_thread


@needs_postgres
@posix_only
def test_a_worker_started_while_the_database_is_down_waits_for_it_instead_of_exiting(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    configure(data_dir, steps=2, step_seconds=0.05)
    with private_postgres() as server:
        with opened(server.url) as store:
            (job_id,) = submit(store)
        server.stop()
        settings = fast_settings(data_dir, database_url=server.url)
        worker = worker_process(settings)
        lines = OutputLines(worker)
        try:
            wait_for(lambda: lines.has("waiting for the database"), 90, "the worker to wait")
            assert worker.poll() is None, "the worker exited instead of waiting"
            server.start()
            with opened(server.url) as store:
                wait_for(
                    lambda: store.get(job_id).status is JobStatus.SUCCEEDED,
                    90,
                    "the job to succeed",
                )
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
        assert worker.returncode == 0, lines.text()


# --- two workers under i2v up, 20 Ken Burns jobs ---------------------------------------------


@contextmanager
def i2v_up(data_dir: Path, url: str, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`i2v up` with two Ken Burns workers on ``url``; stopped with Ctrl+C on the way out."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("I2V_")},
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        "I2V_DATA_DIR": str(data_dir),
        "I2V_DATABASE_URL": url,
        "I2V_ENGINE": "kenburns",
        "I2V_ENGINE_FACTORY": "bot_engines:slow_kenburns",
        "I2V_WORKER_HEARTBEAT_SECONDS": "2",
        # Longer than the longest outage below, so no lease lapses: attempts stay at 1.
        "I2V_WORKER_LEASE_SECONDS": "90",
        "I2V_STOP_GRACE_SECONDS": "10",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*i2v_command("up", "--workers", "2", "--only", "worker")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def worker_pids(log_text: str) -> dict[str, list[str]]:
    """Every pid each worker child was started with, from i2v up's log."""
    pids: dict[str, list[str]] = {}
    for name, pid in re.findall(r"started (worker-\d) \(pid (\d+)\)", log_text):
        pids.setdefault(name, []).append(pid)
    return pids


def lines_of(log_text: str, child: str, phrase: str) -> list[str]:
    return [
        line for line in log_text.splitlines() if line.startswith(f"[{child}]") and phrase in line
    ]


@needs_postgres
@posix_only
@pytest.mark.parametrize(
    "down_seconds",
    [pytest.param(3.0, id="restart"), pytest.param(30.0, id="stopped-30s", marks=pytest.mark.slow)],
)
def test_two_workers_under_i2v_up_ride_out_a_postgres_outage_and_all_20_jobs_succeed_once(
    tmp_path: Path, down_seconds: float
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # 8 frames a job, each held back 0.15 s: about 1.5 s a job, so the outage hits jobs mid-way.
    (data_dir / "slow.json").write_text('{"step_seconds": 0.15}')
    log_path = tmp_path / "up.log"
    with private_postgres() as server, opened(server.url) as store:
        ids = [
            store.submit(JobSpec(seed=n, **KEN_BURNS), PHOTO, content_type="image/png").id  # type: ignore[arg-type]
            for n in range(20)
        ]
        with i2v_up(data_dir, server.url, log_path) as up:
            wait_for(
                lambda: store.count_jobs(statuses=[JobStatus.SUCCEEDED]) >= 3,
                180,
                "the first jobs to succeed",
            )
            running_before = store.count_jobs(statuses=[JobStatus.RUNNING])
            stop_database(server, down_seconds)
            wait_for(lambda: all_done(store, ids), 300, "every job to finish")
            # A worker logs a success just after storing it: give the last lines a moment.
            wait_for(
                lambda: all(
                    f"job {i}: succeeded" in log_path.read_text(errors="replace") for i in ids
                ),
                60,
                "every success in the log",
            )
            log_text = log_path.read_text(errors="replace")
            assert up.poll() is None, "i2v up exited"
            jobs = [store.get(job_id) for job_id in ids]
            assert [j.status for j in jobs] == [JobStatus.SUCCEEDED] * 20, log_text[-4000:]
            assert [j.attempts for j in jobs] == [1] * 20, "a job ran twice"
            assert all(has_video(store, job_id) for job_id in ids)
            for job_id in ids:
                stored = [
                    line for line in log_text.splitlines() if f"job {job_id}: succeeded" in line
                ]
                assert len(stored) == 1, (job_id, stored)
            # No worker exited: each was started once, and said the outage began and ended once.
            pids = worker_pids(log_text)
            assert sorted(pids) == ["worker-0", "worker-1"]
            assert all(len(started) == 1 for started in pids.values()), pids
            assert "ended unexpectedly" not in log_text
            for child in pids:
                assert len(lines_of(log_text, child, "database outage began")) == 1, log_text[
                    -4000:
                ]
                assert len(lines_of(log_text, child, "database outage ended after")) == 1
            assert running_before >= 1


def stop_database(server: PrivatePostgres, down_seconds: float) -> None:
    server.stop()
    time.sleep(down_seconds)
    server.start()


# --- SQLite on a full disk --------------------------------------------------------------------


@posix_only
@needs_small_filesystem()
def test_sqlite_on_a_full_disk_holds_the_jobs_keeps_the_worker_up_and_drains_once_freed(
    tmp_path: Path,
) -> None:
    with small_filesystem(size_mb=24) as disk:
        data_dir = disk.path / "data"
        data_dir.mkdir()
        (data_dir / "slow.json").write_text('{"step_seconds": 0.1}')
        settings = fast_settings(
            data_dir,
            factory="bot_engines:slow_kenburns",
            engine="kenburns",
            worker_lease_seconds=120.0,
            worker_heartbeat_seconds=1.0,
        )
        url = f"sqlite:///{(data_dir / 'i2v.db').as_posix()}"
        with opened(url) as store:
            ids = [
                store.submit(JobSpec(seed=n, **KEN_BURNS), PHOTO, content_type="image/png").id  # type: ignore[arg-type]
                for n in range(6)
            ]
        worker = worker_process(settings)
        try:
            with opened(url) as store:
                wait_for(
                    lambda: store.count_jobs(statuses=[JobStatus.SUCCEEDED]) >= 1,
                    120,
                    "a first job to succeed",
                )
                disk.fill()
                # The queue cannot move while the disk is full, and the worker stays up.
                time.sleep(4)
                assert worker.poll() is None, "the worker exited on a full disk"
                stuck = store.count_jobs(statuses=[JobStatus.SUCCEEDED])
                assert stuck < len(ids)
                disk.free()
                wait_for(lambda: all_done(store, ids), 180, "the queue to drain")
                jobs = [store.get(job_id) for job_id in ids]
                assert [j.status for j in jobs] == [JobStatus.SUCCEEDED] * len(ids)
                assert [j.attempts for j in jobs] == [1] * len(ids)
                assert all(has_video(store, job_id) for job_id in ids)
            assert worker.poll() is None
        finally:
            worker.send_signal(signal.SIGTERM)
            output = worker.communicate(timeout=60)[0].decode(errors="replace")
        assert "the disk holding the database" in output, output[-3000:]
        assert "database outage ended after" in output


def test_a_job_claimed_by_a_write_whose_answer_was_lost_is_not_held_forever(
    tmp_path: Path, sqlite_url: str
) -> None:
    data_dir = tmp_path / "data"
    configure(data_dir, steps=2, step_seconds=0.05)
    settings = fast_settings(data_dir)
    store = open_store_url(sqlite_url, lease_seconds=settings.worker_lease_seconds)
    try:
        with worker_thread(store, settings) as worker:
            wait_for(store.list_workers, 30, "the worker to register")
            (job_id,) = submit(store, priority=-1000)
            # The claim lands in the database under this worker's name, but the worker never
            # hears of it (as when the connection drops just after the commit).
            lost = store.claim(worker.id)
            assert lost is not None and lost.job.id == job_id
            # Its heartbeat does not renew what it does not know: the lease lapses, the job
            # goes back to the queue, and it runs (here, on this very worker).
            wait_for(
                lambda: store.get(job_id).status is JobStatus.SUCCEEDED, 60, "the job to succeed"
            )
        assert store.get(job_id).attempts == 2
    finally:
        store.close()


# --- the outage's clock on its own -----------------------------------------------------------


def test_an_outage_backs_off_doubling_to_its_cap_and_logs_once_when_it_begins_and_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="i2v.worker")
    caplog.set_level(logging.INFO, logger="i2v.worker.outage")
    now = [100.0]
    outage = Outage("w1", first_backoff=0.5, max_backoff=3.0, clock=lambda: now[0])
    assert not outage.active and outage.may_try()
    waits = []
    for _ in range(5):
        outage.failed(StoreUnavailable("cannot reach the database"), "claiming")
        waits.append(outage.next_try_in())
        assert not outage.may_try()
        now[0] += waits[-1]
        assert outage.may_try()
    assert waits == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert outage.ended() == pytest.approx(9.5)
    assert not outage.active and outage.ended() is None
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "database outage began" in m]) == 1
    assert [m for m in messages if "database outage ended" in m] == [
        "worker w1: database outage ended after 9.5 s (5 failed tries); carrying on"
    ]
    assert outage.count == 1
