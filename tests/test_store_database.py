"""Store errors, told apart: an outage (server down, disk full) is StoreUnavailable; the rest is not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from i2v.errors import ErrorCode, JobNotFound, LeaseLost, StoreError, StoreUnavailable
from i2v.jobs import JobSpec
from i2v.store import JobStore, open_store_url
from private_postgres import postgres_bin_dir, private_postgres
from small_filesystem import needs_small_filesystem, small_filesystem
from worker_harness import PHOTO


def opened(url: str) -> Iterator[JobStore]:
    store = open_store_url(url)
    try:
        yield store
    finally:
        store.close()


@pytest.mark.skipif(postgres_bin_dir() is None, reason="PostgreSQL's pg_ctl is not installed")
def test_a_stopped_postgres_server_is_an_outage_and_a_started_one_serves_again() -> None:
    with private_postgres() as server:
        [store] = opened(server.url)
        job = store.submit(JobSpec(seed=1), PHOTO)
        server.stop()
        with pytest.raises(StoreUnavailable, match="cannot reach the database"):
            store.get(job.id)
        with pytest.raises(StoreUnavailable):
            store.claim("w")
        server.start()
        assert store.get(job.id).id == job.id
        store.close()


@pytest.mark.skipif(postgres_bin_dir() is None, reason="PostgreSQL's pg_ctl is not installed")
def test_a_postgres_restart_under_an_open_connection_is_an_outage_not_a_lost_lease() -> None:
    with private_postgres() as server:
        [store] = opened(server.url)
        store.submit(JobSpec(seed=1), PHOTO)
        lease = store.claim("w")
        assert lease is not None
        server.stop()
        with pytest.raises(StoreUnavailable):
            store.succeed(lease.job.id, lease.token, result={}, video=b"mp4")
        server.start()
        # The write that failed changed nothing: the lease still holds and the retry lands.
        done = store.succeed(lease.job.id, lease.token, result={}, video=b"mp4")
        assert done.status.value == "succeeded"
        store.close()


@needs_small_filesystem()
def test_a_full_disk_under_sqlite_is_an_outage_and_freeing_space_ends_it() -> None:
    with small_filesystem(size_mb=4) as disk:
        [store] = opened(f"sqlite:///{(disk.path / 'i2v.db').as_posix()}")
        disk.fill()
        with pytest.raises(StoreUnavailable, match="disk holding the database"):
            for _ in range(20):
                store.submit(JobSpec(seed=1), PHOTO)
        disk.free()
        assert store.submit(JobSpec(seed=1), PHOTO).id
        store.close()


def test_a_lost_lease_and_a_missing_job_are_store_errors_but_not_outages(sqlite_url: str) -> None:
    [store] = opened(sqlite_url)
    store.submit(JobSpec(seed=1), PHOTO)
    lease = store.claim("w")
    assert lease is not None
    with pytest.raises(LeaseLost) as lost:
        store.fail(lease.job.id, "not-the-token", code=ErrorCode.INTERNAL, message="x")
    assert not isinstance(lost.value, StoreUnavailable)
    with pytest.raises(JobNotFound) as missing:
        store.get("no-such-job")
    assert not isinstance(missing.value, StoreUnavailable)
    store.close()


def test_a_missing_table_is_a_store_error_not_an_outage(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'i2v.db').as_posix()}"
    [store] = opened(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE media_chunks")
    engine.dispose()
    with pytest.raises(StoreError) as raised:
        store.submit(JobSpec(seed=1), PHOTO)
    assert not isinstance(raised.value, StoreUnavailable)
    store.close()
