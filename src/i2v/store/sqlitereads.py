"""Reading jobs from a SQLite store with the standard library: `i2v jobs` and `i2v job ID`.

Importing SQLAlchemy takes longer than these commands may. :class:`SQLiteReader` runs
the store's own statements (:mod:`i2v.store.readsql`, generated from them) on a plain
``sqlite3`` connection that only SELECTs, and builds values with the store's own
functions (:mod:`i2v.store.rows`), so both give the same Job, QueuePosition and MediaInfo.

:func:`open_sqlite_reader` answers None where it cannot be sure to read what the store
would: a URL other than a plain SQLite file, a file that is not there yet, or a schema
version other than the one the statements were generated for. A read that fails raises
:class:`FastReadUnavailable`. Either way, the caller opens the full store instead, which
creates, migrates or explains.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from i2v.errors import JobNotFound
from i2v.jobs import Job, JobStatus, QueuePosition
from i2v.store import readsql
from i2v.store.readsql import Statement
from i2v.store.rows import (
    MediaInfo,
    job_from_row,
    media_info_from_row,
    missing_media,
    position_from_row,
    would_claim,
)

#: The only URLs read here: a SQLite file named by its path (``sqlite:///path``).
SQLITE_FILE_PREFIX = "sqlite:///"


class FastReadUnavailable(Exception):
    """The standard-library read could not answer; open the full store instead."""


if TYPE_CHECKING:  # a Protocol costs import time; only type checks need it

    class JobReader(Protocol):
        """What `i2v job` and `i2v jobs` read: the JobStore and the SQLiteReader both do it."""

        def get_with_position(self, job_id: str) -> tuple[Job, QueuePosition]:
            """The job and its queue position; JobNotFound if there is none."""

        def list_jobs(
            self, *, statuses: Collection[JobStatus] | None = None, limit: int = 50
        ) -> list[Job]:
            """Jobs with one of ``statuses`` (all when None), newest first."""

        def media_info(self, job_id: str, kind: str) -> MediaInfo:
            """The size and type of a stored file; MediaNotFound if there is none."""


def sqlite_path(url: str) -> Path | None:
    """The file a plain ``sqlite:///path`` URL names; None for any other URL."""
    if not url.startswith(SQLITE_FILE_PREFIX):
        return None
    path = url[len(SQLITE_FILE_PREFIX) :]
    # Query strings, escapes and in-memory databases are SQLAlchemy's to interpret.
    if not path or path == ":memory:" or any(c in path for c in "?#%\0"):
        return None
    return Path(path)


def open_sqlite_reader(
    url: str,
    *,
    lease_seconds: float,
    busy_timeout: float = readsql.BUSY_TIMEOUT_SECONDS,
    clock: Callable[[], float] = time.time,
) -> SQLiteReader | None:
    """A reader for the SQLite file at ``url``; None where the full store must answer.

    ``busy_timeout`` is how long a read waits for a lock (0: it fails at once, and the
    caller asks the store instead); ``clock`` is the store's, for which workers are live.
    """
    path = sqlite_path(url)
    if path is None or not path.is_file():
        return None
    try:
        conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
    except sqlite3.Error:
        return None
    reader = SQLiteReader(conn, lease_seconds=lease_seconds, clock=clock)
    try:
        conn.execute("PRAGMA query_only=ON")
        [row] = reader.rows(readsql.SCHEMA_VERSION)
        version = next(iter(row.values()))
    except (sqlite3.Error, FastReadUnavailable):
        version = None  # not an i2v database yet (or not a database): the store says
    if version != readsql.SCHEMA_HEAD:
        reader.close()
        return None
    return reader


class SQLiteReader:
    """The store's reads behind `i2v job` and `i2v jobs`, on one sqlite3 connection."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        lease_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._conn = conn
        self.lease_seconds = lease_seconds
        self._clock = clock

    def rows(self, statement: Statement, **values: Any) -> list[dict[str, Any]]:
        """Run one generated statement; its rows as dicts, decoded as SQLAlchemy decodes them."""
        try:
            cursor = self._conn.execute(statement.sql, {**statement.constants, **values})
            names = [column[0] for column in cursor.description]
            rows = [dict(zip(names, raw, strict=True)) for raw in cursor.fetchall()]
        except sqlite3.Error as exc:
            raise FastReadUnavailable(str(exc)) from exc
        for row in rows:
            for name in statement.json_columns:
                if row[name] is not None:
                    row[name] = json.loads(row[name])
            for name in statement.bool_columns:
                if row[name] is not None:
                    row[name] = bool(row[name])
        return rows

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """A deferred read transaction, as the store's reads take (WAL: never waits for writers)."""
        try:
            self._conn.execute("BEGIN")
        except sqlite3.Error as exc:
            raise FastReadUnavailable(str(exc)) from exc
        try:
            yield
        finally:
            with suppress(sqlite3.Error):
                self._conn.execute("COMMIT")  # nothing was written: ending it cannot lose work

    def get_with_position(self, job_id: str) -> tuple[Job, QueuePosition]:
        """The job and its queue position, as JobStore.get_with_position reads them."""
        live_since = self._clock() - self.lease_seconds
        with self._transaction():
            found = self.rows(readsql.JOB_WITH_POSITION, job_id=job_id, live_since=live_since)
            if not found:
                raise JobNotFound(f"no job with id {job_id!r}")
            row, serving = found[0], None
            if row["status"] == JobStatus.QUEUED.value and int(row["live_workers"]) == 0:
                serving = 0  # no live worker at all: none serves it
            elif row["status"] == JobStatus.QUEUED.value:
                claims = self.rows(readsql.SERVING_CLAIMS, live_since=live_since)
                serving = sum(
                    1 for c in claims if would_claim(c["serves"], row["engine"], row["model"])
                )
        return job_from_row(row), position_from_row(row, serving)

    def list_jobs(
        self, *, statuses: Collection[JobStatus] | None = None, limit: int = 50
    ) -> list[Job]:
        """Jobs with the one status given (all when None), newest first, as the store lists them."""
        if statuses is None:
            found = self.rows(readsql.LIST_JOBS, limit=limit)
        elif len(statuses) == 1:
            [status] = statuses
            found = self.rows(readsql.LIST_JOBS_BY_STATUS, status=status.value, limit=limit)
        else:
            raise FastReadUnavailable("only one status at a time is read here")
        return [job_from_row(row) for row in found]

    def media_info(self, job_id: str, kind: str) -> MediaInfo:
        """The size and type of a stored file, as the store reads it."""
        found = self.rows(readsql.MEDIA_INFO, job_id=job_id, kind=kind)
        if not found:
            raise missing_media(job_id, kind)
        return media_info_from_row(found[0], job_id, kind)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()
