"""PostgreSQL: a worker's hot writes as single statements, each one round trip.

A claim or a finish made of several statements in a transaction costs a round trip
per statement plus BEGIN and COMMIT, and on a busy machine each round trip is a
context switch to the server and back. Here each becomes one statement (data-modifying
CTEs), run with autocommit where it is the whole transaction: PostgreSQL runs one
statement atomically, so nothing is lost by not wrapping it in BEGIN ... COMMIT.

* claim: take the job, point the worker's row at it, and let this commit skip the
  disk flush (``set_config('synchronous_commit', 'off', true)``: a claim lost in a
  server crash leaves the job queued, and the worker's next lease-guarded write
  fails and drops the run).
* finish: the job's UPDATE and its ``pg_notify`` in one statement.
* succeed with a small video (one piece, in database chunks): the job's UPDATE, its
  notification and the media rows in one statement. Its commit still waits for the
  disk: a success lost in a crash could mean a second delivery.
* submit with a small photo: the job's INSERT, the photo and the "queued"
  notification in one statement (its commit waits for the disk too).

Every statement is built once per shape and reused, so SQLAlchemy's cache key is
computed once (building statements costs more CPU than PostgreSQL takes to run them).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from i2v.store import schema, wakeups
from i2v.store.blobs import DatabaseChunks
from i2v.store.database import translated_errors

M = schema.media
C = schema.media_chunks

#: Execution options of a connection whose every statement commits by itself.
AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}


def run_one(
    engine: sa.Engine, url: str, statement: sa.Executable, params: Mapping[str, Any]
) -> sa.RowMapping | None:
    """Run one statement in autocommit (it is its own transaction); return its first row."""
    with translated_errors(url), engine.connect() as conn:
        conn.execution_options(**AUTOCOMMIT)
        return conn.execute(statement, params).mappings().first()


@functools.lru_cache(maxsize=32)
def claim(update: sa.Update) -> sa.Select[Any]:
    """The claim ``update`` (RETURNING the job), the worker's row and a lazy commit, in one."""
    claimed = update.cte("claimed")
    workers = schema.workers
    seen = (
        workers.update()
        .where(workers.c.id == claimed.c.worker_id)
        .values(job_id=claimed.c.id, heartbeat_at=sa.bindparam("claim_now"))
        .cte("seen")
    )
    # Evaluated once per claimed row, so only a claim that took a job skips the flush
    # (one that took none commits nothing).
    lazy = sa.func.set_config("synchronous_commit", "off", sa.true()).label("i2v_lazy_commit")
    return sa.select(*claimed.c, lazy).add_cte(seen)


@functools.lru_cache(maxsize=32)
def finish(update: sa.Update) -> sa.Select[Any]:
    """The finishing ``update`` (RETURNING the job) and its "changed" notification, in one."""
    done = update.cte("done")
    notified = sa.func.pg_notify(wakeups.channel(wakeups.CHANGED), done.c.id)
    return sa.select(*done.c, notified.label("i2v_notified"))


def fits_one_statement(blobs: object, files: Sequence[bytes | Path]) -> bool:
    """True if the bytes live in database chunks and every file is bytes in one piece."""
    # Exactly DatabaseChunks: another home for the bytes writes them its own way.
    return type(blobs) is DatabaseChunks and all(
        isinstance(f, bytes) and len(f) <= DatabaseChunks.piece_bytes for f in files
    )


@functools.lru_cache(maxsize=32)
def succeed(update: sa.Update, kinds: tuple[tuple[str, bool], ...]) -> sa.Select[Any]:
    """:func:`finish` plus the job's small files (see :func:`file_writes`), in one."""
    done = update.cte("done")
    notified = sa.func.pg_notify(wakeups.channel(wakeups.CHANGED), done.c.id)
    return sa.select(*done.c, notified.label("i2v_notified")).add_cte(*file_writes(done, kinds))


@functools.lru_cache(maxsize=8)
def submit(insert: sa.Insert, kinds: tuple[tuple[str, bool], ...]) -> sa.Select[Any]:
    """The job's INSERT (RETURNING it), its photo and its "queued" notification, in one."""
    new = insert.cte("new")
    notified = sa.func.pg_notify(wakeups.channel(wakeups.QUEUED), new.c.id)
    return sa.select(*new.c, notified.label("i2v_notified")).add_cte(*file_writes(new, kinds))


def small_files(
    files: Sequence[tuple[str, bytes | Path, str]], now: float
) -> tuple[tuple[tuple[str, bool], ...], dict[str, Any]]:
    """The shape (each kind, and whether it has bytes) and parameters of :func:`file_writes`.

    ``files`` are ``(kind, data, content_type)`` that :func:`fits_one_statement` accepted.
    """
    kinds = []
    params: dict[str, Any] = {"media_now": now}
    for kind, data, content_type in files:
        assert isinstance(data, bytes)  # fits_one_statement said so
        kinds.append((kind, bool(data)))
        params[f"{kind}_type"] = content_type
        params[f"{kind}_size"] = len(data)
        params[f"{kind}_sha"] = hashlib.sha256(data).hexdigest()
        if data:
            params[f"{kind}_data"] = data
    return tuple(kinds), params


def file_writes(job: sa.CTE, kinds: tuple[tuple[str, bool], ...]) -> list[sa.CTE]:
    """For each ``(kind, has_bytes)``: the media row of the ``job`` CTE's row and its one piece.

    A file already stored under that kind is replaced in place (its row updated, its
    pieces overwritten or deleted), as ``write_media`` replaces it. Parameters per kind
    (:func:`file_params`): ``<kind>_type``, ``<kind>_size``, ``<kind>_sha``,
    ``<kind>_data``; and ``media_now`` for all.
    """
    writes: list[sa.CTE] = []
    for kind, has_bytes in kinds:
        row = pg_insert(M).from_select(
            ["job_id", "kind", "content_type", "size", "sha256", "created_at"],
            sa.select(
                job.c.id,
                sa.literal(kind, sa.String),
                sa.bindparam(f"{kind}_type", type_=sa.String),
                sa.bindparam(f"{kind}_size", type_=sa.BigInteger),
                sa.bindparam(f"{kind}_sha", type_=sa.String),
                sa.bindparam("media_now", type_=sa.Float),
            ),
        )
        stored = (
            row.on_conflict_do_update(
                index_elements=[M.c.job_id, M.c.kind],
                set_={c: row.excluded[c] for c in ("content_type", "size", "sha256", "created_at")},
            )
            .returning(M.c.id)
            .cte(f"{kind}_row")
        )
        # An older copy's pieces past the new one's are dropped; piece 0 is overwritten
        # below (different rows, so the two never touch the same row in one statement).
        writes.append(
            C.delete()
            .where(
                C.c.media_id.in_(sa.select(stored.c.id)),
                C.c.seq >= (1 if has_bytes else 0),
            )
            .cte(f"{kind}_stale")
        )
        if has_bytes:
            piece = pg_insert(C).from_select(
                ["media_id", "seq", "data"],
                sa.select(
                    stored.c.id,
                    sa.literal(0, sa.Integer),
                    sa.bindparam(f"{kind}_data", type_=sa.LargeBinary),
                ),
            )
            writes.append(
                piece.on_conflict_do_update(
                    index_elements=[C.c.media_id, C.c.seq], set_={"data": piece.excluded.data}
                ).cte(f"{kind}_piece")
            )
        writes.append(stored)
    return writes
