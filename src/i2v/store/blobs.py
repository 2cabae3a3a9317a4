"""Where the bytes of photos and videos live: an interface, and the database-chunk default.

The ``media`` table always holds what a file is (job, kind, type, size, sha256);
a :class:`MediaBlobs` holds its bytes, in pieces of ``piece_bytes`` so that a
40 MB video is never one value in memory and an HTTP Range read touches only
the pieces it needs. :class:`DatabaseChunks` keeps the pieces in the
``media_chunks`` table, so every host reaches them through the database and no
shared filesystem is needed. Past a few hundred GB of results an operator is
better served by object storage (see the README); that is one more class with
these four methods, passed to :func:`i2v.store.open_store_url`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import sqlalchemy as sa

from i2v.store import schema

#: Size of one stored piece of a file.
CHUNK_BYTES = 1024 * 1024
#: The execution option that carries a store's MediaBlobs to code holding only a connection.
BLOBS_OPTION = "i2v_media_blobs"


class MediaBlobs(Protocol):
    """The bytes of stored files, written and deleted inside the store's transactions."""

    #: Every piece but a file's last is exactly this long.
    piece_bytes: int

    def write(self, conn: sa.Connection, media_id: int, pieces: Iterable[bytes]) -> None:
        """Store a file's pieces (each ``piece_bytes`` long but the last) for ``media_id``."""

    def read(self, conn: sa.Connection, media_id: int, piece: int) -> bytes | None:
        """Piece number ``piece`` of a file; None if the file is gone."""

    def delete(self, conn: sa.Connection, media_ids: Sequence[int]) -> None:
        """Delete the files (the transaction may still roll back: keep that safe)."""

    def reclaim(self, engine: sa.Engine) -> None:
        """Give the space of deleted files back, after their deletion committed."""


class DatabaseChunks:
    """Pieces as rows of ``media_chunks`` in the job database (the default)."""

    piece_bytes = CHUNK_BYTES

    def write(self, conn: sa.Connection, media_id: int, pieces: Iterable[bytes]) -> None:
        """Insert one row per piece."""
        chunks = schema.media_chunks
        for seq, piece in enumerate(pieces):
            conn.execute(chunks.insert().values(media_id=media_id, seq=seq, data=piece))

    def read(self, conn: sa.Connection, media_id: int, piece: int) -> bytes | None:
        """One row's bytes."""
        chunks = schema.media_chunks
        data = conn.execute(
            sa.select(chunks.c.data).where(chunks.c.media_id == media_id, chunks.c.seq == piece)
        ).scalar()
        return None if data is None else bytes(data)

    def delete(self, conn: sa.Connection, media_ids: Sequence[int]) -> None:
        """Delete the rows (the foreign key would cascade; saying it keeps it plain)."""
        if media_ids:
            chunks = schema.media_chunks
            conn.execute(chunks.delete().where(chunks.c.media_id.in_(list(media_ids))))

    def reclaim(self, engine: sa.Engine) -> None:
        """SQLite: shrink the file by the pages freed; PostgreSQL's autovacuum reuses them."""
        if engine.dialect.name == "sqlite":
            shrink_sqlite(engine)


def shrink_sqlite(engine: sa.Engine) -> None:
    """Return a SQLite file's free pages to the disk.

    New databases are made with ``auto_vacuum=INCREMENTAL`` (see ``database.py``),
    so ``PRAGMA incremental_vacuum`` cuts the free pages off the end of the file.
    A database made before that setting needs one full ``VACUUM`` to switch
    modes: done here, at the first purge, once.
    """
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        mode = cursor.execute("PRAGMA auto_vacuum").fetchone()[0]
        if mode == 0:  # NONE: made before i2v asked for incremental vacuum
            cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
            cursor.execute("VACUUM")
        elif mode == 2:  # INCREMENTAL (FULL, 1, already shrinks on every commit)
            # Each step of this pragma frees one page and execute() takes only one step;
            # executescript() steps it to the end.
            cursor.executescript("PRAGMA incremental_vacuum;")
        # In WAL mode the file shrinks when the log is checkpointed: do it now.
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        cursor.close()
    finally:
        raw.close()
