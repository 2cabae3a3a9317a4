"""Media lives in the database, so every host can read photos and write videos."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from i2v.errors import MediaNotFound
from i2v.jobs import JobSpec
from i2v.store import JobStore, open_store_url


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
