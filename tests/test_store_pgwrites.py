"""PostgreSQL: submit, claim and finish are one statement each, one round trip each.

Round trips are counted from libpq's own trace of what the client sent: each one
ends in a ``Sync`` (extended protocol) or is a ``Query`` (simple protocol: BEGIN,
COMMIT, a ping).
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import pq
from sqlalchemy import event
from sqlalchemy.pool import Pool

from i2v.errors import LeaseLost
from i2v.jobs import JobSpec, JobStatus, WorkerInfo, WorkerState
from i2v.store import THUMBNAIL, VIDEO, JobStore, database, open_store_url, pgwrites, wakeups
from i2v.store.statements import claim_update

PIECE = 1024 * 1024


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[JobStore]:
    store = open_store_url(postgres_url)
    yield store
    store.close()


class RoundTrips:
    """Counts the round trips of every connection opened while it is active."""

    def __init__(self, trace: Path) -> None:
        self._trace = trace
        self._handle = trace.open("w")

    def _on_connect(self, dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.pgconn.trace(self._handle.fileno())
        dbapi_conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

    def sent(self, action: Callable[[], object]) -> list[str]:
        """Run ``action``; return the messages that ended a round trip, in order."""
        self._handle.flush()
        start = self._trace.stat().st_size
        action()
        self._handle.flush()
        with self._trace.open() as lines:
            lines.seek(start)
            fields = [line.split("\t") for line in lines.read().splitlines()]
        return [
            f[2] + (f" {f[3].strip()}" if f[2] == "Query" else "")
            for f in fields
            if len(f) > 2 and f[0] == "F" and f[2] in ("Sync", "Query")
        ]


@contextlib.contextmanager
def round_trips() -> Iterator[RoundTrips]:
    """Trace every PostgreSQL connection opened inside the block."""
    with tempfile.TemporaryDirectory() as folder:
        counter = RoundTrips(Path(folder) / "trace")
        event.listen(Pool, "connect", counter._on_connect)
        try:
            yield counter
        finally:
            event.remove(Pool, "connect", counter._on_connect)
            counter._handle.close()


def test_a_submit_a_claim_and_a_small_success_take_one_round_trip_each(postgres_url: str) -> None:
    with round_trips() as trips:
        store = open_store_url(postgres_url)
        try:
            # Two reads for the job's ETA, then the job, its photo and the notification.
            assert trips.sent(lambda: store.submit(JobSpec(seed=1), b"photo")) == ["Sync"] * 3
            lease = store.claim("w")
            assert lease is not None
            assert trips.sent(lambda: store.claim("w")) == ["Sync"]  # nothing left: still one
            store.submit(JobSpec(seed=2), b"photo")
            assert len(trips.sent(lambda: store.claim("w"))) == 1
            done = trips.sent(
                lambda: store.succeed(
                    lease.job.id, lease.token, result={}, video=b"mp4", thumbnail=b"jpg"
                )
            )
            assert done == ["Sync"]
        finally:
            store.close()


def test_a_claim_takes_the_job_points_the_workers_row_at_it_and_skips_the_disk_flush(
    pg_store: JobStore, postgres_url: str
) -> None:
    job = pg_store.submit(JobSpec(seed=1), b"photo")
    pg_store.register_worker(WorkerInfo(id="w", host="h", pid=1, state=WorkerState.IDLE))
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            # The claim's own statement, inside a transaction we can look into afterwards.
            row = (
                conn.execute(
                    pgwrites.claim(claim_update(True, False, False, False)),
                    {
                        "claim_worker": "w",
                        "claim_token": "t",
                        "claim_now": time.time(),
                        "claim_expires": time.time() + 60,
                    },
                )
                .mappings()
                .one()
            )
            assert row["id"] == job.id
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
    finally:
        engine.dispose()
    assert pg_store.get(job.id).status is JobStatus.RUNNING
    [worker] = pg_store.list_workers()
    assert worker.job_id == job.id


def test_a_one_statement_success_stores_what_write_media_would(pg_store: JobStore) -> None:
    job = pg_store.submit(JobSpec(seed=1), b"photo")
    lease = pg_store.claim("w")
    assert lease is not None
    done = pg_store.succeed(job.id, lease.token, result={"n": 1}, video=b"mp4", thumbnail=b"jpg")
    assert done.status is JobStatus.SUCCEEDED and done.result == {"n": 1}
    assert pg_store.read_media(job.id, VIDEO) == b"mp4"
    assert pg_store.read_media(job.id, THUMBNAIL) == b"jpg"
    info = pg_store.media_info(job.id, VIDEO)
    assert (info.size, info.sha256) == (3, hashlib.sha256(b"mp4").hexdigest())
    assert info.content_type == "video/mp4"


def test_a_one_statement_success_replaces_an_older_copy_of_any_size(pg_store: JobStore) -> None:
    job = pg_store.submit(JobSpec(seed=1), b"photo")
    pg_store.put_media(job.id, VIDEO, b"x" * (2 * PIECE + 5), "video/webm")  # three pieces
    pg_store.put_media(job.id, THUMBNAIL, b"old", "image/png")
    lease = pg_store.claim("w")
    assert lease is not None
    pg_store.succeed(job.id, lease.token, result={}, video=b"new", thumbnail=b"")
    assert pg_store.read_media(job.id, VIDEO) == b"new"
    assert pg_store.media_info(job.id, VIDEO).content_type == "video/mp4"
    assert pg_store.read_media(job.id, THUMBNAIL) == b""
    assert pg_store.media_info(job.id, THUMBNAIL).size == 0


def test_a_one_statement_success_with_a_lost_lease_changes_nothing(pg_store: JobStore) -> None:
    job = pg_store.submit(JobSpec(seed=1), b"photo")
    assert pg_store.claim("w") is not None
    with pytest.raises(LeaseLost):
        pg_store.succeed(job.id, "not-the-token", result={}, video=b"mp4")
    assert pg_store.get(job.id).status is JobStatus.RUNNING
    with pytest.raises(Exception, match="no video"):
        pg_store.media_info(job.id, VIDEO)


def test_a_one_statement_success_notifies_watchers(pg_store: JobStore) -> None:
    job = pg_store.submit(JobSpec(seed=1), b"photo")
    lease = pg_store.claim("w")
    assert lease is not None
    changed = pg_store.change_feed().waiter([wakeups.CHANGED])
    pg_store.succeed(job.id, lease.token, result={}, video=b"mp4")
    assert changed.wait(10)


def test_a_large_video_still_succeeds_through_the_transaction(pg_store: JobStore) -> None:
    job = pg_store.submit(JobSpec(seed=1), b"photo")
    lease = pg_store.claim("w")
    assert lease is not None
    video = b"v" * (PIECE + 1)
    pg_store.succeed(job.id, lease.token, result={}, video=video, thumbnail=b"jpg")
    assert pg_store.read_media(job.id, VIDEO) == video
    assert pg_store.get(job.id).status is JobStatus.SUCCEEDED


def _kill_pooled_connections(postgres_url: str) -> None:
    """Terminate this database's pooled i2v connections and wait until they are gone."""
    url = sa.make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    pooled = (
        "FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = 'i2v' AND query NOT LIKE 'LISTEN%%' AND pid <> pg_backend_pid()"
    )
    with psycopg.connect(url, autocommit=True) as admin:
        assert admin.execute(f"SELECT count(pg_terminate_backend(pid)) {pooled}").fetchone() != (0,)
        deadline = time.monotonic() + 30
        while admin.execute(f"SELECT count(*) {pooled}").fetchone() != (0,):
            assert time.monotonic() < deadline, "the killed connections did not go away"
            time.sleep(0.05)


def test_a_pooled_connection_killed_moments_after_its_use_is_replaced_unseen(
    pg_store: JobStore, postgres_url: str
) -> None:
    job = pg_store.submit(JobSpec(seed=1), b"photo")
    _kill_pooled_connections(postgres_url)
    # Well inside the idle time that would call for a ping: the server's farewell does.
    assert pg_store.get(job.id).id == job.id
    assert pg_store.claim("w") is not None


def test_a_connection_used_moments_ago_is_not_pinged_but_one_idle_for_long_is(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with round_trips() as trips:
        store = open_store_url(postgres_url)
        try:
            job = store.submit(JobSpec(seed=1), b"photo")
            assert trips.sent(lambda: store.get(job.id)) == ["Sync"]
            monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)
            assert trips.sent(lambda: store.get(job.id)) == ['Query "SELECT 1"', "Sync"]
        finally:
            store.close()


def test_a_read_needs_no_transaction_but_a_write_after_it_still_has_one(
    postgres_url: str,
) -> None:
    with round_trips() as trips:
        store = open_store_url(postgres_url)
        try:
            job = store.submit(JobSpec(seed=1), b"photo")
            assert trips.sent(lambda: store.get(job.id)) == ["Sync"]
            begin, *statements, commit = trips.sent(lambda: store.heartbeat("w"))
            assert begin.startswith('Query "BEGIN')
            assert statements == ["Sync", "Sync"]
            assert commit == 'Query "COMMIT"'
        finally:
            store.close()
