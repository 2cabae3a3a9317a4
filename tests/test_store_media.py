"""Media lives in the database, so every host can read photos and write videos."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

from i2v.errors import MediaNotFound
from i2v.jobs import JobSpec
from i2v.store import DatabaseChunks, JobStore, MediaBlobs, migrations, open_store_url, schema


def test_a_40_mb_video_round_trips_through_the_store(store: JobStore, tmp_path: Path) -> None:
    video = tmp_path / "big.mp4"
    payload = os.urandom(40 * 1024 * 1024 + 12345)
    video.write_bytes(payload)
    job = store.submit(JobSpec(), b"p")
    lease = store.claim("w")
    assert lease is not None
    store.succeed(job.id, lease.token, result={}, video=video)

    info = store.media_info(job.id, "video")
    assert info.size == len(payload)
    assert info.sha256 == hashlib.sha256(payload).hexdigest()
    out = tmp_path / "out" / "copy.mp4"
    store.save_media(job.id, "video", out)
    assert out.read_bytes() == payload
    if os.name == "posix":
        assert out.stat().st_mode & 0o044 == 0o044, "a saved video is readable like any file"


def test_range_reads_return_exactly_the_bytes_asked_for(store: JobStore) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 7)
    job = store.submit(JobSpec(), payload)
    for start, stop in [
        (0, 1),
        (1024 * 1024 - 3, 1024 * 1024 + 3),
        (5, 3 * 1024 * 1024 + 7),
        (100, 99),
    ]:
        assert b"".join(store.iter_media(job.id, "photo", start, stop)) == payload[start:stop]


def test_missing_media_raises_media_not_found(store: JobStore) -> None:
    job = store.submit(JobSpec(), b"p")
    with pytest.raises(MediaNotFound):
        store.read_media(job.id, "video")


def test_old_results_are_purged_but_the_job_row_stays(store_url: str) -> None:
    now = [5_000_000.0]
    clocked = open_store_url(store_url, clock=lambda: now[0])
    job = clocked.submit(JobSpec(), b"photo")
    lease = clocked.claim("w")
    assert lease is not None
    clocked.succeed(job.id, lease.token, result={"frames": 3}, video=b"v" * 10, thumbnail=b"t")
    now[0] += 6 * 86400
    assert clocked.purge_results(7 * 86400) == 0
    now[0] += 2 * 86400
    assert clocked.purge_results(7 * 86400) == 2
    with pytest.raises(MediaNotFound):
        clocked.read_media(job.id, "video")
    assert clocked.get(job.id).result == {"frames": 3}
    assert clocked.read_media(job.id, "photo") == b"photo"
    clocked.close()


def _finished_with_video(store: JobStore, payload: bytes) -> str:
    job = store.submit(JobSpec(), b"photo")
    lease = store.claim("w", job_id=job.id)
    assert lease is not None
    store.succeed(job.id, lease.token, result={}, video=payload, thumbnail=b"thumb")
    return job.id


def _file_size(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def test_purging_old_videos_shrinks_the_sqlite_file_back_to_what_is_left(tmp_path: Path) -> None:
    path = tmp_path / "i2v.db"
    now = [5_000_000.0]
    store = open_store_url(f"sqlite:///{path.as_posix()}", clock=lambda: now[0])
    empty = _file_size(path)
    for _ in range(8):
        _finished_with_video(store, os.urandom(1024 * 1024 + 100))
    assert _file_size(path) > empty + 8 * 1024 * 1024

    now[0] += 8 * 86400
    assert store.purge_results(7 * 86400) == 16
    assert _file_size(path) < empty + 1024 * 1024, "the freed pages went back to the disk"
    assert store.read_media(store.list_jobs(limit=1)[0].id, "photo") == b"photo"
    assert isinstance(store.media_blobs, DatabaseChunks)
    store.close()


def test_a_database_made_before_incremental_vacuum_is_converted_at_its_first_purge(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    # An older i2v made its file without auto_vacuum (the default): build one that way.
    old = sa.create_engine(f"sqlite:///{path.as_posix()}")
    migrations.upgrade(old)
    with old.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 0
    old.dispose()

    now = [5_000_000.0]
    store = open_store_url(f"sqlite:///{path.as_posix()}", clock=lambda: now[0])
    kept = _finished_with_video(store, b"kept")
    now[0] += 8 * 86400
    for _ in range(4):
        _finished_with_video(store, os.urandom(1024 * 1024))
    full = _file_size(path)
    now[0] += 8 * 86400
    assert store.purge_results(7 * 86400) == 10
    assert _file_size(path) < full - 3 * 1024 * 1024
    with store._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 2  # incremental from now on
    assert store.get(kept).status.value == "succeeded"
    store.close()


class FolderBlobs:
    """Media bytes as files in a folder: what an object-storage class would look like."""

    piece_bytes = 1000

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.reclaimed = 0

    def _path(self, media_id: int, piece: int) -> Path:
        return self.folder / f"{media_id}.{piece}"

    def write(self, conn: sa.Connection, media_id: int, pieces: Iterable[bytes]) -> None:
        for number, piece in enumerate(pieces):
            self._path(media_id, number).write_bytes(piece)

    def read(self, conn: sa.Connection, media_id: int, piece: int) -> bytes | None:
        path = self._path(media_id, piece)
        return path.read_bytes() if path.exists() else None

    def delete(self, conn: sa.Connection, media_ids: Sequence[int]) -> None:
        for media_id in media_ids:
            for path in self.folder.glob(f"{media_id}.*"):
                path.unlink()

    def reclaim(self, engine: sa.Engine) -> None:
        self.reclaimed += 1


def test_media_bytes_can_live_outside_the_database_behind_the_media_blobs_interface(
    store_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "blobs"
    folder.mkdir()
    blobs: MediaBlobs = FolderBlobs(folder)
    now = [5_000_000.0]
    store = open_store_url(store_url, clock=lambda: now[0], media_blobs=blobs)
    payload = os.urandom(4321)
    job_id = _finished_with_video(store, payload)

    assert len(list(folder.iterdir())) == 1 + 5 + 1, "photo, video in 5 pieces, thumbnail"
    assert store.read_media(job_id, "video") == payload
    assert b"".join(store.iter_media(job_id, "video", 999, 2001)) == payload[999:2001]
    assert store.media_info(job_id, "video").size == len(payload)
    with store._read() as conn:
        chunk_rows = conn.execute(sa.select(sa.func.count()).select_from(schema.media_chunks))
        assert chunk_rows.scalar() == 0, "no bytes went into the database"

    now[0] += 8 * 86400
    assert store.purge_results(7 * 86400) == 2
    with pytest.raises(MediaNotFound):
        store.read_media(job_id, "video")
    assert store.read_media(job_id, "photo") == b"photo"
    assert isinstance(blobs, FolderBlobs) and blobs.reclaimed == 1
    assert len(list(folder.iterdir())) == 1, "only the photo's one piece is left"
    store.close()
