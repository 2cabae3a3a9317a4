"""SQLite: the hottest read, ``GET /v1/jobs/{id}``, on the event loop instead of a thread.

Clients poll this route. Handing the read to a thread and SQLAlchemy's execution path
cost several times the read itself (bench/api_load.py: about 0.35 ms of CPU for the
store's read against 0.08 ms for the same SELECTs through stdlib ``sqlite3``). In WAL
mode a SQLite read never waits for a writer, so here it runs right on the loop,
through :mod:`i2v.store.sqlitereads` (the store's own statements and row decoding),
with a busy timeout of 0. Whenever that cannot answer for sure (PostgreSQL, a file
busy for a moment, a schema the statements were not generated for, any read error),
:meth:`LoopReads.job_with_position` answers None and the caller reads through the
store in a thread, as every other route does.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from i2v.errors import JobNotFound
from i2v.jobs import Job, QueuePosition
from i2v.store.sqlitereads import FastReadUnavailable, SQLiteReader, open_sqlite_reader

if TYPE_CHECKING:
    from i2v.store import JobStore


class LoopReads:
    """One ``sqlite3`` connection of the event loop's own, opened on first use."""

    def __init__(self, store: JobStore) -> None:
        self._store = store
        self._reader: SQLiteReader | None = None
        self._usable = store.dialect == "sqlite"

    def job_with_position(self, job_id: str, owner: str | None) -> tuple[Job, QueuePosition] | None:
        """The job (``owner``'s only, if given) and its queue position; None: ask the store.

        Raises JobNotFound as the store would, for a job that is not there or not the
        owner's.
        """
        reader = self._open()
        if reader is None:
            return None
        try:
            job, position = reader.get_with_position(job_id)
        except FastReadUnavailable:
            return None
        if owner is not None and job.spec.owner != owner:
            raise JobNotFound(f"no job with id {job_id!r}")
        return job, position

    def _open(self) -> SQLiteReader | None:
        if self._reader is None and self._usable:
            self._reader = open_sqlite_reader(
                self._store.url,
                lease_seconds=self._store.lease_seconds,
                busy_timeout=0.0,
                clock=self._store.now,
            )
            # Not a plain file, or another schema: this process keeps asking the store.
            self._usable = self._reader is not None
        return self._reader

    def close(self) -> None:
        """Close the connection (on shutdown)."""
        reader, self._reader = self._reader, None
        if reader is not None:
            with contextlib.suppress(Exception):
                reader.close()
