"""A worker recovers from a hung, stopped or killed child, a killed supervisor, and a stop signal.

Real supervisors (on a thread, or as an ``i2v worker`` process) with real spawned
children; the failures are real signals and real hangs.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import fake_engines
from i2v.errors import ErrorCode, LeaseLost
from i2v.jobs import JobStatus, Stage
from i2v.store import JobStore, open_store, schema
from worker_harness import (
    child_pid,
    fast_settings,
    status_is,
    submit,
    wait_for,
    worker_process,
    worker_thread,
)

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def stores() -> Iterator[list[JobStore]]:
    opened: list[JobStore] = []
    yield opened
    for store in opened:
        store.close()


def _store(stores: list[JobStore], settings: object) -> JobStore:
    store = open_store(settings)  # type: ignore[arg-type]
    stores.append(store)
    return store


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A killed child stays a zombie until its parent reaps it; that is gone enough.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def test_a_hung_child_is_detected_killed_and_the_job_retried_on_a_fresh_child(
    data_dir: Path, stores
) -> None:
    settings = fast_settings(data_dir, "fake_engines:HangingEngine")
    fake_engines.configure(data_dir, steps=4, step_seconds=0.05)
    (data_dir / "hang_once").touch()
    store = _store(stores, settings)
    [job_id] = submit(store)
    with worker_thread(store, settings, burst=True) as worker:
        first_child = child_pid(store)
        wait_for(
            lambda: any(w[0] == "hang" for w in fake_engines.journal(data_dir)), 30, "the hang"
        )
        hung_at = time.monotonic()
        wait_for(status_is(store, job_id, "queued", "running", "failed"), 5, "the retry")
        job = wait_for(status_is(store, job_id, "succeeded", "failed"), 30, "the retried job")
        detected_within = time.monotonic() - hung_at
    assert job.status is JobStatus.SUCCEEDED, job.error_message
    assert job.attempts == 2
    assert detected_within < settings.stall_timeout_seconds + 15
    assert _pid_gone(first_child)
    assert worker.loads == 2


@posix_only
def test_a_child_stopped_with_sigstop_counts_as_stalled_and_the_job_succeeds_on_a_new_one(
    data_dir: Path, stores
) -> None:
    settings = fast_settings(data_dir)
    fake_engines.configure(data_dir, steps=20, step_seconds=0.1)
    store = _store(stores, settings)
    [job_id] = submit(store)
    with worker_thread(store, settings, burst=True):
        pid = child_pid(store)
        wait_for(lambda: len(fake_engines.step_times(data_dir)) >= 2, 30, "two steps")
        os.kill(pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        wait_for(
            lambda: store.get(job_id).attempts == 2,
            settings.stall_timeout_seconds + 15,
            "the retry",
        )
        assert time.monotonic() - stopped_at >= settings.stall_timeout_seconds
        job = wait_for(status_is(store, job_id, "succeeded", "failed"), 30, "the retried job")
    assert job.status is JobStatus.SUCCEEDED, job.error_message
    assert _pid_gone(pid)


@posix_only
def test_a_stalled_job_whose_child_wakes_within_the_grace_is_retried_on_it_not_canceled(
    data_dir: Path, stores, caplog: pytest.LogCaptureFixture
) -> None:
    # The child is frozen mid-step, judged stalled, and thawed before the cancel grace ends:
    # it stops the job by itself and is kept. The retry (attempt 2, the same job id) runs on
    # that same child and must not inherit the cancel that stopped attempt 1.
    settings = fast_settings(data_dir, cancel_grace_seconds=60.0, min_job_seconds=60.0)
    fake_engines.configure(data_dir, steps=20, step_seconds=0.1)
    store = _store(stores, settings)
    [job_id] = submit(store)
    caplog.set_level(logging.WARNING, logger="i2v.worker")
    with worker_thread(store, settings, burst=True) as worker:
        pid = child_pid(store)
        wait_for(lambda: len(fake_engines.step_times(data_dir)) >= 2, 30, "two steps")
        os.kill(pid, signal.SIGSTOP)
        try:
            wait_for(
                lambda: any("stopped making progress" in r.getMessage() for r in caplog.records),
                settings.stall_timeout_seconds + 30,
                "the stall verdict",
            )
        finally:
            os.kill(pid, signal.SIGCONT)
        job = wait_for(
            status_is(store, job_id, "succeeded", "failed", "canceled"), 60, "the retried job"
        )
        children = {w.child_pid for w in store.list_workers()}
    assert job.status is JobStatus.SUCCEEDED, (job.status, job.error_message)
    assert job.attempts == 2
    assert not job.cancel_requested
    assert worker.loads == 1
    assert children == {pid}
    assert [w[0] for w in fake_engines.journal(data_dir)].count("canceled") == 1


@posix_only
def test_a_job_whose_lease_was_lost_and_which_the_same_worker_takes_again_is_not_canceled(
    data_dir: Path, stores
) -> None:
    # The supervisor freezes past its lease; another worker's sweep puts the job back in the
    # queue. Thawed, the supervisor drops its run (cancelling it in the child) and claims the
    # same job again: attempt 2 must run, untouched by what the child says of attempt 1.
    settings = fast_settings(data_dir)
    fake_engines.configure(data_dir, steps=50, step_seconds=0.1)
    store = _store(stores, settings)
    [job_id] = submit(store)
    supervisor = worker_process(settings)
    try:
        child_pid(store)
        wait_for(lambda: len(fake_engines.step_times(data_dir)) >= 2, 60, "two steps")
        os.kill(supervisor.pid, signal.SIGSTOP)
        try:
            wait_for(store.requeue_expired, 30, "the frozen worker's lease to expire")
        finally:
            os.kill(supervisor.pid, signal.SIGCONT)
        job = wait_for(status_is(store, job_id, "succeeded", "failed", "canceled"), 60, "the job")
    finally:
        supervisor.kill()
        supervisor.wait(10)
    assert job.status is JobStatus.SUCCEEDED, (job.status, job.error_message)
    assert job.attempts == 2
    assert not job.cancel_requested


@posix_only
def test_a_child_killed_while_a_job_is_prefetched_charges_only_the_job_it_was_running(
    data_dir: Path, stores
) -> None:
    # The first job hangs in decoding, past its GPU steps, so the worker prefetches the
    # second one; the child holds it, not yet begun, when it is killed.
    settings = fast_settings(
        data_dir,
        "fake_engines:DecodeHangingEngine",
        stall_timeout_seconds=60.0,
        min_job_seconds=60.0,
    )
    fake_engines.configure(data_dir, steps=2, step_seconds=0.05)
    (data_dir / "hang_decoding_once").touch()
    store = _store(stores, settings)
    running, prefetched = submit(store, 2)
    with worker_thread(store, settings, burst=True) as worker:
        pid = child_pid(store)
        wait_for(
            lambda: any(w[0] == "decode-hang" for w in fake_engines.journal(data_dir)),
            30,
            "the first job to hang in decoding",
        )
        wait_for(status_is(store, prefetched, "running"), 30, "the second job to be prefetched")
        os.kill(pid, signal.SIGKILL)
        for job_id in (running, prefetched):
            wait_for(status_is(store, job_id, "succeeded", "failed"), 60, f"job {job_id}")
    first, second = store.get(running), store.get(prefetched)
    assert first.status is JobStatus.SUCCEEDED, first.error_message
    assert first.attempts == 2
    assert second.status is JobStatus.SUCCEEDED, second.error_message
    assert second.attempts == 1
    assert worker.loads == 2


@posix_only
def test_a_child_killed_mid_job_is_respawned_and_the_job_succeeds_on_attempt_two(
    data_dir: Path, stores
) -> None:
    settings = fast_settings(data_dir)
    fake_engines.configure(data_dir, steps=20, step_seconds=0.1)
    store = _store(stores, settings)
    [job_id] = submit(store)
    with worker_thread(store, settings, burst=True) as worker:
        pid = child_pid(store)
        wait_for(lambda: len(fake_engines.step_times(data_dir)) >= 2, 30, "two steps")
        os.kill(pid, signal.SIGKILL)
        job = wait_for(status_is(store, job_id, "succeeded", "failed"), 30, "the job")
    assert job.status is JobStatus.SUCCEEDED, job.error_message
    assert job.attempts == 2
    assert worker.loads == 2


def test_a_child_that_exits_by_itself_mid_job_is_replaced_and_the_job_retried(
    data_dir: Path, stores
) -> None:
    settings = fast_settings(data_dir, "fake_engines:CrashingEngine")
    fake_engines.configure(data_dir)
    (data_dir / "crash_once").write_text("exit")
    store = _store(stores, settings)
    [job_id] = submit(store)
    with worker_thread(store, settings, burst=True):
        job = wait_for(status_is(store, job_id, "succeeded", "failed"), 30, "the job")
    assert job.status is JobStatus.SUCCEEDED, job.error_message
    assert job.attempts == 2
    assert [w[2] for w in fake_engines.journal(data_dir) if w[0] == "crash"] == ["exit"]


def test_a_job_past_its_cap_is_stopped_and_fails_with_timeout_when_attempts_run_out(
    data_dir: Path, stores
) -> None:
    settings = fast_settings(data_dir, min_job_seconds=1.0, max_job_seconds=1.0, max_attempts=1)
    fake_engines.configure(data_dir, steps=40, step_seconds=0.1)
    store = _store(stores, settings)
    [job_id] = submit(store)
    with worker_thread(store, settings, burst=True):
        job = wait_for(status_is(store, job_id, "failed", "succeeded"), 30, "the job")
    assert job.error_code is ErrorCode.TIMEOUT
    assert "took more than 1 seconds" in (job.error_message or "")
    assert len(fake_engines.step_times(data_dir)) < 20


@posix_only
def test_when_the_supervisor_is_killed_another_worker_finishes_the_job_and_the_dead_lease_is_refused(
    data_dir: Path, stores
) -> None:
    settings = fast_settings(data_dir)
    fake_engines.configure(data_dir, steps=12, step_seconds=0.1)
    store = _store(stores, settings)
    [job_id] = submit(store)
    supervisor = worker_process(settings)
    try:
        orphan = child_pid(store)
        wait_for(lambda: len(fake_engines.step_times(data_dir)) >= 2, 60, "two steps")
        with store._read() as conn:
            dead_lease = conn.execute(
                sa.select(schema.jobs.c.lease_token).where(schema.jobs.c.id == job_id)
            ).scalar_one()
        supervisor.kill()
        supervisor.wait(10)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
    # The orphaned child notices its supervisor is gone and exits on its own.
    wait_for(lambda: _pid_gone(orphan), 15, "the orphaned child to exit")
    with worker_thread(store, settings, max_jobs=1):
        job = wait_for(status_is(store, job_id, "succeeded", "failed"), 30, "the job")
    assert job.status is JobStatus.SUCCEEDED, job.error_message
    assert job.attempts == 2
    with pytest.raises(LeaseLost):
        store.report_progress(job_id, dead_lease, stage=Stage.GENERATING, progress=0.5)
    with pytest.raises(LeaseLost):
        store.succeed(job_id, dead_lease, result={}, video=b"not a video")
    assert store.get(job_id).result["frames"] == 6


@posix_only
def test_sigterm_lets_the_running_job_finish_within_the_grace_period_and_exits_zero(
    data_dir: Path, stores
) -> None:
    settings = fast_settings(data_dir, stop_grace_seconds=10.0)
    fake_engines.configure(data_dir, steps=8, step_seconds=0.15)
    store = _store(stores, settings)
    first, second = submit(store, 2)
    supervisor = worker_process(settings)
    try:
        wait_for(lambda: len(fake_engines.step_times(data_dir)) >= 2, 60, "two steps")
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(20) == 0, (
            supervisor.stdout.read().decode() if supervisor.stdout else ""
        )
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
    assert store.get(first).status is JobStatus.SUCCEEDED
    assert store.get(second).status is JobStatus.QUEUED
    assert store.get(second).attempts == 0
    assert store.list_workers() == []


@posix_only
def test_sigterm_puts_a_job_that_cannot_finish_in_time_back_in_the_queue_uncounted(
    data_dir: Path, stores
) -> None:
    settings = fast_settings(data_dir, stop_grace_seconds=0.5)
    fake_engines.configure(data_dir, steps=60, step_seconds=0.1)
    store = _store(stores, settings)
    [job_id] = submit(store)
    supervisor = worker_process(settings)
    try:
        wait_for(lambda: len(fake_engines.step_times(data_dir)) >= 2, 60, "two steps")
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(20) == 0
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
    job = store.get(job_id)
    assert job.status is JobStatus.QUEUED
    assert job.attempts == 0
    assert job.error_code is None
    assert len(fake_engines.step_times(data_dir)) < 30


def test_a_crash_loop_ends_in_a_failed_job_once_attempts_run_out(data_dir: Path, stores) -> None:
    settings = fast_settings(data_dir, "fake_engines:CrashingEngine", max_attempts=2)
    fake_engines.configure(data_dir)
    store = _store(stores, settings)
    [job_id] = submit(store)
    (data_dir / "crash_always").write_text("sigkill")
    with worker_thread(store, settings, burst=True):
        job = wait_for(status_is(store, job_id, "failed", "succeeded"), 30, "the job")
    assert job.status is JobStatus.FAILED
    assert job.error_code is ErrorCode.WORKER_LOST
    assert "crashed" in (job.error_message or "")
    assert len([w for w in fake_engines.journal(data_dir) if w[0] == "crash"]) == 2


@posix_only
def test_a_worker_killed_outright_leaves_a_scratch_folder_that_the_next_worker_removes(
    data_dir: Path, stores, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    settings = fast_settings(data_dir)
    fake_engines.configure(data_dir)
    store = _store(stores, settings)
    killed = worker_process(settings)
    try:
        child_pid(store)
        [left] = wait_for(lambda: list(scratch.glob("i2v-worker-*")), 30, "its scratch folder")
    finally:
        killed.kill()
        killed.wait(10)
    assert left.name.startswith(f"i2v-worker-{killed.pid}-")
    assert left.is_dir()
    # A folder of a worker that still runs (this very process) must survive the sweep.
    running = scratch / f"i2v-worker-{os.getpid()}-running"
    running.mkdir()
    with worker_thread(store, settings, burst=True):
        assert not left.exists()
        assert running.is_dir()
        assert len(list(scratch.glob(f"i2v-worker-{os.getpid()}-*"))) == 2
    assert [p.name for p in scratch.glob("i2v-worker-*")] == [running.name]
