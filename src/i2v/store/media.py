"""Media in the database: input photos, result videos and thumbnails, stored in chunks.

No shared filesystem is assumed: every host reads a job's photo and writes its
video through here. Chunking keeps memory flat for large videos and lets HTTP
Range requests read only the chunks they need.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from i2v.errors import MediaNotFound
from i2v.store import schema
from i2v.store.blobs import BLOBS_OPTION, CHUNK_BYTES, DatabaseChunks, MediaBlobs
from i2v.store.database import translated_errors
from i2v.store.rows import PHOTO, THUMBNAIL, VIDEO, MediaInfo, media_info_from_row, missing_media

if TYPE_CHECKING:
    from i2v.store.base import StoreBase
else:
    StoreBase = object

__all__ = ["CHUNK_BYTES", "PHOTO", "THUMBNAIL", "VIDEO", "MediaInfo", "MediaStore", "write_media"]

#: The bytes' home when a connection does not name one (a store always names its own).
DEFAULT_BLOBS = DatabaseChunks()

#: Kinds that count as results, purged after I2V_KEEP_RESULTS_DAYS.
RESULT_KINDS = (VIDEO, THUMBNAIL)


def _pieces_of(data: bytes | Path, size: int) -> Iterator[bytes]:
    if isinstance(data, bytes):
        for start in range(0, len(data), size):
            yield data[start : start + size]
        return
    with data.open("rb") as handle:
        while piece := handle.read(size):
            yield piece


def blobs_of(conn: sa.Connection) -> MediaBlobs:
    """The MediaBlobs of the store this connection belongs to."""
    blobs: MediaBlobs = conn.get_execution_options().get(BLOBS_OPTION, DEFAULT_BLOBS)
    return blobs


class _Counted:
    """Pieces passed through while their size and sha256 are taken."""

    def __init__(self, pieces: Iterable[bytes]) -> None:
        self._pieces = pieces
        self.size = 0
        self.digest = hashlib.sha256()

    def __iter__(self) -> Iterator[bytes]:
        for piece in self._pieces:
            self.digest.update(piece)
            self.size += len(piece)
            yield piece


def write_media(
    conn: sa.Connection, job_id: str, kind: str, data: bytes | Path, content_type: str, now: float
) -> MediaInfo:
    """Store ``data`` as the job's ``kind`` inside the caller's transaction, replacing any old copy."""
    blobs = blobs_of(conn)
    old = conn.execute(sa.select(schema.media.c.id).where(_which(job_id, kind))).scalars().all()
    if old:
        blobs.delete(conn, old)
        conn.execute(schema.media.delete().where(schema.media.c.id.in_(old)))
    media_id = conn.execute(
        schema.media.insert()
        .values(
            job_id=job_id, kind=kind, content_type=content_type, size=0, sha256="", created_at=now
        )
        .returning(schema.media.c.id)
    ).scalar_one()
    counted = _Counted(_pieces_of(data, blobs.piece_bytes))
    blobs.write(conn, media_id, counted)
    conn.execute(
        schema.media.update()
        .where(schema.media.c.id == media_id)
        .values(size=counted.size, sha256=counted.digest.hexdigest())
    )
    return MediaInfo(job_id, kind, content_type, counted.size, counted.digest.hexdigest())


def _which(job_id: str, kind: str) -> sa.ColumnElement[bool]:
    return sa.and_(schema.media.c.job_id == job_id, schema.media.c.kind == kind)


def _read_umask() -> int:
    # os.umask can only be read by setting it, so do it once, at import, not per call.
    current = os.umask(0o022)
    os.umask(current)
    return current


_UMASK = _read_umask()


class MediaStore(StoreBase):
    """Reading and purging stored media (writes happen inside job transitions)."""

    def put_media(self, job_id: str, kind: str, data: bytes | Path, content_type: str) -> MediaInfo:
        """Store a file for a job outside any transition (tests, tools)."""
        with self._write() as conn:
            return write_media(conn, job_id, kind, data, content_type, self._clock())

    def media_info(self, job_id: str, kind: str) -> MediaInfo:
        """Return the size and type of a stored file; MediaNotFound if there is none."""
        return self._media_row(job_id, kind)[1]

    def _media_row(self, job_id: str, kind: str) -> tuple[int, MediaInfo]:
        with self._read() as conn:
            row = (
                conn.execute(sa.select(schema.media).where(_which(job_id, kind))).mappings().first()
            )
        if row is None:
            raise missing_media(job_id, kind)
        return int(row["id"]), media_info_from_row(row, job_id, kind)

    def read_media(self, job_id: str, kind: str) -> bytes:
        """Return a whole stored file."""
        return b"".join(self.iter_media(job_id, kind))

    def iter_media(
        self, job_id: str, kind: str, start: int = 0, stop: int | None = None
    ) -> Iterator[bytes]:
        """Yield the bytes ``[start, stop)`` of a stored file, a piece at a time."""
        media_id, info = self._media_row(job_id, kind)
        stop = info.size if stop is None else min(stop, info.size)
        if start >= stop:
            return
        size = self.media_blobs.piece_bytes
        for piece in range(start // size, (stop - 1) // size + 1):
            # One short read per piece: a slow client never holds a transaction open.
            with self._read() as conn:
                data = self.media_blobs.read(conn, media_id, piece)
            if data is None:
                raise MediaNotFound(f"job {job_id} {kind} was removed while being read")
            offset = piece * size
            yield data[max(0, start - offset) : stop - offset]

    def save_media(self, job_id: str, kind: str, path: Path) -> MediaInfo:
        """Write a stored file to ``path`` atomically (a partial file never appears)."""
        info = self.media_info(job_id, kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in self.iter_media(job_id, kind):
                    handle.write(chunk)
            # mkstemp makes owner-only files; a saved video gets the usual permissions.
            os.chmod(tmp, 0o666 & ~_UMASK)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return info

    def purge_results(self, older_than_seconds: float) -> int:
        """Delete videos and thumbnails of jobs finished longer ago than this; return how many.

        The space comes back: a SQLite file shrinks, PostgreSQL reuses the pages.
        """
        cutoff = self._clock() - older_than_seconds
        old_jobs = sa.select(schema.jobs.c.id).where(
            schema.jobs.c.finished_at.is_not(None), schema.jobs.c.finished_at < cutoff
        )
        with self._write() as conn:
            ids = (
                conn.execute(
                    sa.select(schema.media.c.id).where(
                        schema.media.c.kind.in_(RESULT_KINDS), schema.media.c.job_id.in_(old_jobs)
                    )
                )
                .scalars()
                .all()
            )
            if ids:
                self.media_blobs.delete(conn, ids)
                conn.execute(schema.media.delete().where(schema.media.c.id.in_(ids)))
        if ids:
            with translated_errors(self.url):
                self.media_blobs.reclaim(self._engine)
        return len(ids)
