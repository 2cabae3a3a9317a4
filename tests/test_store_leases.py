"""Leases: a worker that stops heartbeating loses its job, and its late writes change nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from i2v.errors import ErrorCode, LeaseLost
from i2v.jobs import JobSpec, JobStatus, Stage, WorkerInfo, WorkerState
from i2v.store import JobStore, open_store_url


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def clocked(store_url: str, clock: Clock) -> Iterator[JobStore]:
    opened = open_store_url(store_url, lease_seconds=60, max_attempts=3, clock=clock)
    yield opened
    opened.close()


def test_heartbeats_keep_a_slow_job_leased(clocked: JobStore, clock: Clock) -> None:
    job = clocked.submit(JobSpec(), b"p")
    assert clocked.claim("alive") is not None
    for _ in range(30):  # 15 minutes of work, a heartbeat every 30 s
        clock.now += 30
        assert clocked.heartbeat("alive") == {job.id}
        assert clocked.requeue_expired() == []
    assert clocked.get(job.id).status is JobStatus.RUNNING


def test_a_job_whose_worker_stops_heartbeating_is_requeued_after_the_lease(
    clocked: JobStore, clock: Clock
) -> None:
    job = clocked.submit(JobSpec(), b"p")
    assert clocked.claim("dead") is not None
    clock.now += 59
    assert clocked.requeue_expired() == []
    clock.now += 2
    assert clocked.requeue_expired() == [job.id]
    requeued = clocked.get(job.id)
    assert requeued.status is JobStatus.QUEUED
    assert requeued.worker_id is None
    assert requeued.error_code is ErrorCode.WORKER_LOST


def test_after_max_attempts_a_lost_job_fails_with_worker_lost(
    clocked: JobStore, clock: Clock
) -> None:
    job = clocked.submit(JobSpec(), b"p")
    for _ in range(3):
        assert clocked.claim("flaky") is not None
        clock.now += 61
        clocked.requeue_expired()
    failed = clocked.get(job.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error_code is ErrorCode.WORKER_LOST
    assert failed.attempts == 3
    assert "3 times" in (failed.error_message or "")


def test_the_old_workers_late_writes_are_refused_and_change_nothing(
    clocked: JobStore, clock: Clock
) -> None:
    job = clocked.submit(JobSpec(), b"p")
    old = clocked.claim("old")
    assert old is not None
    clock.now += 61
    clocked.requeue_expired()
    new = clocked.claim("new")
    assert new is not None and new.job.id == job.id
    clocked.report_progress(job.id, new.token, stage=Stage.GENERATING, progress=0.3)

    with pytest.raises(LeaseLost):
        clocked.report_progress(job.id, old.token, stage=Stage.ENCODING, progress=0.9)
    with pytest.raises(LeaseLost):
        clocked.succeed(job.id, old.token, result={"by": "old"}, video=b"old video")
    with pytest.raises(LeaseLost):
        clocked.fail(job.id, old.token, ErrorCode.INTERNAL, "old")
    with pytest.raises(LeaseLost):
        clocked.release(job.id, old.token)
    assert clocked.heartbeat("old") == set()

    seen = clocked.get(job.id)
    assert (seen.status, seen.worker_id, seen.stage) == (JobStatus.RUNNING, "new", Stage.GENERATING)
    assert seen.progress == pytest.approx(0.3)
    assert seen.attempts == 2
    with pytest.raises(Exception, match="no video"):
        clocked.media_info(job.id, "video")


def test_an_expired_job_that_was_being_canceled_ends_canceled(
    clocked: JobStore, clock: Clock
) -> None:
    job = clocked.submit(JobSpec(), b"p")
    assert clocked.claim("dead") is not None
    clocked.request_cancel(job.id)
    clock.now += 61
    clocked.requeue_expired()
    assert clocked.get(job.id).status is JobStatus.CANCELED


def test_live_workers_are_those_that_heartbeated_within_a_lease(
    clocked: JobStore, clock: Clock
) -> None:
    clocked.register_worker(WorkerInfo(id="a", host="h", pid=1, state=WorkerState.IDLE))
    clock.now += 30
    clocked.register_worker(WorkerInfo(id="b", host="h", pid=2, state=WorkerState.IDLE))
    clock.now += 40
    assert clocked.live_worker_count() == 1
    assert [w.id for w in clocked.list_workers(alive_only=True)] == ["b"]
    clocked.heartbeat("a")
    assert clocked.live_worker_count() == 2
    clocked.update_worker("b", state=WorkerState.BUSY, job_id="x", gpu={"util": 97})
    b = next(w for w in clocked.list_workers() if w.id == "b")
    assert (b.state, b.job_id, b.gpu) == (WorkerState.BUSY, "x", {"util": 97})
