"""Media in the database: input photos, result videos and thumbnails, stored in chunks.

No shared filesystem is assumed: every host reads a job's photo and writes its
video through here. Chunking keeps memory flat for large videos and lets HTTP
Range requests read only the chunks they need.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from i2v.errors import MediaNotFound
from i2v.store import schema

if TYPE_CHECKING:
    from i2v.store.base import StoreBase
else:
    StoreBase = object

CHUNK_BYTES = 1024 * 1024

#: Kinds of media a job can have.
PHOTO = "photo"
VIDEO = "video"
THUMBNAIL = "thumbnail"
#: Kinds that count as results, purged after I2V_KEEP_RESULTS_DAYS.
RESULT_KINDS = (VIDEO, THUMBNAIL)


@dataclass(frozen=True)
class MediaInfo:
    """Size and type of one stored file."""

    job_id: str
    kind: str
    content_type: str
    size: int
    sha256: str


def _chunks_of(data: bytes | Path) -> Iterator[bytes]:
    if isinstance(data, bytes):
        for start in range(0, len(data), CHUNK_BYTES):
            yield data[start : start + CHUNK_BYTES]
        return
    with data.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


def write_media(
    conn: sa.Connection, job_id: str, kind: str, data: bytes | Path, content_type: str, now: float
) -> MediaInfo:
    """Store ``data`` as the job's ``kind`` inside the caller's transaction, replacing any old copy."""
    conn.execute(schema.media.delete().where(_which(job_id, kind)))
    media_id = conn.execute(
        schema.media.insert()
        .values(
            job_id=job_id, kind=kind, content_type=content_type, size=0, sha256="", created_at=now
        )
        .returning(schema.media.c.id)
    ).scalar_one()
    digest = hashlib.sha256()
    size = 0
    for seq, chunk in enumerate(_chunks_of(data)):
        digest.update(chunk)
        size += len(chunk)
        conn.execute(schema.media_chunks.insert().values(media_id=media_id, seq=seq, data=chunk))
    conn.execute(
        schema.media.update()
        .where(schema.media.c.id == media_id)
        .values(size=size, sha256=digest.hexdigest())
    )
    return MediaInfo(job_id, kind, content_type, size, digest.hexdigest())


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
        with self._read() as conn:
            row = (
                conn.execute(sa.select(schema.media).where(_which(job_id, kind))).mappings().first()
            )
        if row is None:
            raise MediaNotFound(f"job {job_id} has no {kind}")
        return MediaInfo(job_id, kind, row["content_type"], int(row["size"]), row["sha256"])

    def read_media(self, job_id: str, kind: str) -> bytes:
        """Return a whole stored file."""
        return b"".join(self.iter_media(job_id, kind))

    def iter_media(
        self, job_id: str, kind: str, start: int = 0, stop: int | None = None
    ) -> Iterator[bytes]:
        """Yield the bytes ``[start, stop)`` of a stored file, a chunk at a time."""
        info = self.media_info(job_id, kind)
        stop = info.size if stop is None else min(stop, info.size)
        if start >= stop:
            return
        first, last = start // CHUNK_BYTES, (stop - 1) // CHUNK_BYTES
        chunks = schema.media_chunks
        for seq in range(first, last + 1):
            with self._read() as conn:
                data = conn.execute(
                    sa.select(chunks.c.data)
                    .join(schema.media, schema.media.c.id == chunks.c.media_id)
                    .where(_which(job_id, kind), chunks.c.seq == seq)
                ).scalar()
            if data is None:
                raise MediaNotFound(f"job {job_id} {kind} was removed while being read")
            offset = seq * CHUNK_BYTES
            yield bytes(data)[max(0, start - offset) : stop - offset]

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
        """Delete videos and thumbnails of jobs finished longer ago than this; return how many."""
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
                # Chunks go with them: ON DELETE CASCADE (SQLite runs with foreign_keys on).
                conn.execute(schema.media.delete().where(schema.media.c.id.in_(ids)))
        return len(ids)
