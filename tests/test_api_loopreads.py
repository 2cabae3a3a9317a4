"""GET /v1/jobs/{id} on SQLite reads on the event loop, and answers exactly what the store does."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from i2v.api.loopreads import LoopReads
from i2v.errors import JobNotFound
from i2v.jobs import JobSpec, WorkerInfo, WorkerState
from i2v.store import JobStore, open_store_url


@pytest.fixture
def store(sqlite_url: str) -> Iterator[JobStore]:
    with closing(open_store_url(sqlite_url)) as opened:
        yield opened


def test_a_job_and_its_queue_position_read_as_the_store_reads_them(store: JobStore) -> None:
    store.register_worker(WorkerInfo(id="w1", host="h", pid=1, state=WorkerState.IDLE))
    first = store.submit(JobSpec(seed=1, owner="alice"), b"photo")
    second = store.submit(JobSpec(seed=2, owner="bob"), b"photo")
    running = store.claim("w1")
    assert running is not None and running.job.id == first.id
    reads = LoopReads(store)
    for job_id in (first.id, second.id):
        assert reads.job_with_position(job_id, None) == store.get_with_position(job_id)
    assert reads.job_with_position(second.id, "bob") == store.get_with_position(
        second.id, owner="bob"
    )
    reads.close()


def test_another_owners_job_and_a_missing_one_are_not_found(store: JobStore) -> None:
    job = store.submit(JobSpec(owner="alice"), b"photo")
    reads = LoopReads(store)
    with pytest.raises(JobNotFound):
        reads.job_with_position(job.id, "mallory")
    with pytest.raises(JobNotFound):
        reads.job_with_position("ZZZZZZZZZZ", None)
    reads.close()


def test_the_queue_figures_follow_the_stores_clock(sqlite_url: str) -> None:
    behind = -10_000.0  # the store lives in the past: its workers are live by its clock only
    with closing(open_store_url(sqlite_url, clock=lambda: time.time() + behind)) as store:
        store.register_worker(WorkerInfo(id="w1", host="h", pid=1, state=WorkerState.IDLE))
        job = store.submit(JobSpec(), b"photo")
        found = LoopReads(store).job_with_position(job.id, None)
    assert found is not None and found[1].live_workers == 1


def test_postgresql_is_read_through_the_store(postgres_url: str) -> None:
    with closing(open_store_url(postgres_url)) as store:
        job = store.submit(JobSpec(), b"photo")
        assert LoopReads(store).job_with_position(job.id, None) is None


def test_a_database_of_another_schema_is_read_through_the_store(
    store: JobStore, sqlite_url: str
) -> None:
    job = store.submit(JobSpec(), b"photo")
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE i2v_schema_version SET version = version + 100")
    reads = LoopReads(store)
    assert reads.job_with_position(job.id, None) is None
    assert reads.job_with_position(job.id, None) is None  # and it does not try again
