"""A video finished while the database is away waits in the spool, whole, and is stored once.

Real processes: a private PostgreSQL cluster the tests stop and restart, workers in
threads or processes of their own, and a filesystem that the last test fills up.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import pytest

from fake_engines import configure, journal
from i2v.jobs import JobStatus
from i2v.worker.spool import FinishedVideo, Spool
from outage_support import (
    SLOW_JOB,
    has_video,
    needs_postgres,
    opened,
    opened_with_clock,
    posix_only,
    spooled,
    store_is_down,
)
from private_postgres import private_postgres
from small_filesystem import needs_small_filesystem, small_filesystem
from worker_harness import fast_settings, submit, wait_for, worker_process, worker_thread

# --- a finished video during an outage ------------------------------------------------------


@needs_postgres
def test_a_video_finished_during_an_outage_waits_in_the_spool_and_is_stored_when_it_ends(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # "i2v.worker" too: `i2v generate`, run in-process by other tests, quiets that logger.
    caplog.set_level(logging.INFO, logger="i2v")
    caplog.set_level(logging.INFO, logger="i2v.worker")
    data_dir = tmp_path / "data"
    configure(data_dir, **SLOW_JOB)
    with private_postgres() as server, opened(server.url) as store:
        settings = fast_settings(data_dir, worker_lease_seconds=60.0, worker_heartbeat_seconds=0.5)
        (job_id,) = submit(store)
        with worker_thread(store, settings) as worker:
            wait_for(lambda: len(journal(data_dir)) >= 3, 60, "the job to be generating")
            server.stop()
            wait_for(lambda: spooled(data_dir), 60, "the finished video in the spool")
            assert worker.outage.active
            assert store_is_down(store)
            server.start()
            wait_for(lambda: store.get(job_id).status is JobStatus.SUCCEEDED, 60, "the job")
            wait_for(lambda: not spooled(data_dir), 10, "the spool to empty")
            job = store.get(job_id)
            assert job.attempts == 1
            assert has_video(store, job_id)
            assert worker.outage.count == 1
            assert not worker.outage.active
    began = [r for r in caplog.records if "database outage began" in r.getMessage()]
    ended = [r for r in caplog.records if "database outage ended after" in r.getMessage()]
    assert len(began) == 1 and len(ended) == 1
    # Every line about the job names it.
    assert any(f"job {job_id}: video kept in" in r.getMessage() for r in caplog.records)


@needs_postgres
def test_a_lease_lost_during_a_long_outage_means_the_video_is_thrown_away_not_delivered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # "i2v.worker" too: `i2v generate`, run in-process by other tests, quiets that logger.
    caplog.set_level(logging.INFO, logger="i2v")
    caplog.set_level(logging.INFO, logger="i2v.worker")
    data_dir = tmp_path / "data"
    configure(data_dir, **SLOW_JOB)
    with private_postgres() as server, opened(server.url) as store:
        settings = fast_settings(data_dir, worker_lease_seconds=60.0, worker_heartbeat_seconds=0.5)
        (job_id,) = submit(store)
        with worker_thread(store, settings, outage_backoff_max_seconds=30.0) as worker:
            wait_for(lambda: len(journal(data_dir)) >= 3, 60, "the job to be generating")
            server.stop()
            wait_for(lambda: spooled(data_dir), 60, "the finished video in the spool")
            # Wait until the worker's next try of the database is far off ...
            wait_for(lambda: worker.outage.next_try_in() > 6.0, 90, "a long backoff")
            server.start()
            # ... and meanwhile let the lease lapse and another worker take the job.
            with opened_with_clock(server.url, ahead=3600.0) as later:
                assert job_id in later.requeue_expired()
            other = store.claim("another-worker")
            assert other is not None and other.job.id == job_id
            wait_for(lambda: not spooled(data_dir), 60, "the worker to drop its video")
        job = store.get(job_id)
        assert job.status is JobStatus.RUNNING
        assert job.worker_id == "another-worker"
        assert not has_video(store, job_id)
    assert any(f"job {job_id}: lease lost" in r.getMessage() for r in caplog.records), (
        "the worker said why it threw the video away"
    )


@needs_postgres
@posix_only
def test_a_video_left_in_the_spool_by_a_killed_worker_is_stored_by_the_next_worker(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    configure(data_dir, **SLOW_JOB)
    with private_postgres() as server, opened(server.url) as store:
        settings = fast_settings(
            data_dir,
            database_url=server.url,
            worker_lease_seconds=120.0,
            worker_heartbeat_seconds=1.0,
        )
        (job_id,) = submit(store)
        first = worker_process(settings)
        try:
            wait_for(lambda: len(journal(data_dir)) >= 3, 90, "the job to be generating")
            server.stop()
            wait_for(lambda: spooled(data_dir), 60, "the finished video in the spool")
            os.kill(first.pid, signal.SIGKILL)
            first.wait(30)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
        server.start()
        second = worker_process(settings)
        try:
            wait_for(lambda: store.get(job_id).status.is_terminal, 90, "the job to finish")
            job = store.get(job_id)
            assert job.status is JobStatus.SUCCEEDED
            assert job.attempts == 1, "the video from the first run was stored, not remade"
            assert has_video(store, job_id)
            assert not spooled(data_dir)
        finally:
            second.send_signal(signal.SIGTERM)
            output = second.communicate(timeout=60)[0].decode(errors="replace")
        assert f"job {job_id}: found its video from an earlier run" in output


# --- the spool on its own ---------------------------------------------------------------------


def finished(folder: Path, job_id: str = "job1") -> FinishedVideo:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "video.mp4").write_bytes(b"mp4 bytes")
    (folder / "thumb.jpg").write_bytes(b"jpeg bytes")
    return FinishedVideo(
        job_id, "tok", folder / "video.mp4", folder / "thumb.jpg", {"frames": 8}, ["note"]
    )


def test_a_spooled_video_is_taken_over_whole_once_its_worker_is_gone(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    first = Spool(root, "first-worker")
    kept = first.keep(finished(tmp_path / "temp"))
    assert kept.spooled and kept.video.read_bytes() == b"mp4 bytes"
    assert not (tmp_path / "temp" / "video.mp4").exists()
    # While its worker lives, nobody else takes the video over.
    assert Spool(root, "second-worker").take_over() == []
    first.close()  # as when the worker dies: the system lets go of its lock
    assert kept.is_there()
    (taken,) = Spool(root, "second-worker").take_over()
    assert (taken.job_id, taken.token, taken.result, taken.warnings) == (
        "job1",
        "tok",
        {"frames": 8},
        ["note"],
    )
    assert taken.video.parent.parent == root / "second-worker"
    assert taken.thumbnail is not None and taken.thumbnail.read_bytes() == b"jpeg bytes"
    assert not kept.is_there()
    # The entry moved as a whole: nothing is left where the first worker kept it.
    assert not (root / "first-worker").exists()
    taken.discard()
    assert not taken.video.parent.exists()


@needs_small_filesystem()
def test_a_video_that_cannot_be_spooled_on_a_full_disk_stays_whole_in_the_temp_folder(
    tmp_path: Path,
) -> None:
    with small_filesystem(size_mb=1) as disk:
        disk.fill()
        video = finished(tmp_path / "temp")
        kept = Spool(disk.path / "spool", "w").keep(video)
        assert kept is video and not kept.spooled
        assert video.video.read_bytes() == b"mp4 bytes"
        assert video.thumbnail is not None and video.thumbnail.exists()
        assert list((disk.path / "spool").rglob("*.mp4")) == []
