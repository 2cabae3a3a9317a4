"""Database outages after start-up are waited out: no worker exits, no job is lost or run twice.

Real processes throughout: a private PostgreSQL cluster that the tests stop and restart
(never the shared server), workers in their own processes under ``i2v up``, and a SQLite
data folder on a small filesystem that the test fills up.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fake_engines import configure, journal
from i2v.errors import MediaNotFound, StoreUnavailable
from i2v.jobs import JobSpec, JobStatus
from i2v.launcher.children import i2v_command
from i2v.store import VIDEO, JobStore, open_store_url
from i2v.worker.outage import Outage
from i2v.worker.spool import FinishedVideo, Spool
from private_postgres import PrivatePostgres, postgres_bin_dir, private_postgres
from small_filesystem import needs_small_filesystem, small_filesystem
from worker_harness import PHOTO, fast_settings, submit, wait_for, worker_process, worker_thread

TESTS = Path(__file__).parent
needs_postgres = pytest.mark.skipif(
    postgres_bin_dir() is None, reason="PostgreSQL's initdb and pg_ctl are not installed"
)
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="signals processes the POSIX way")

#: A small real Ken Burns video: 1 s at 8 fps, 96x64.
KEN_BURNS = {"width": 96, "height": 64, "duration_seconds": 1.0, "fps": 8, "engine": "kenburns"}


@contextmanager
def opened(url: str) -> Iterator[JobStore]:
    store = open_store_url(url)
    try:
        yield store
    finally:
        store.close()


#: The fake engine's steps: 25 of 0.2 s, so a job is still running when the database stops
#: (stopping it takes a second or two on a loaded machine).
SLOW_JOB = {"steps": 25, "step_seconds": 0.2}


def spooled(data_dir: Path) -> list[Path]:
    """The spool entries waiting (one folder per finished video)."""
    return [p.parent for p in (data_dir / "spool").glob("*/*/manifest.json")]


def has_video(store: JobStore, job_id: str) -> bool:
    try:
        store.read_media(job_id, VIDEO)
    except MediaNotFound:
        return False
    return True


def all_done(store: JobStore, ids: list[str]) -> bool:
    return all(store.get(job_id).status.is_terminal for job_id in ids)


# --- one worker, the outage seen up close ---------------------------------------------------


@needs_postgres
def test_a_video_finished_during_an_outage_waits_in_the_spool_and_is_stored_when_it_ends(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="i2v")
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


def store_is_down(store: JobStore) -> bool:
    try:
        store.count_jobs()
    except Exception:
        return True
    return False


@needs_postgres
def test_a_lease_lost_during_a_long_outage_means_the_video_is_thrown_away_not_delivered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="i2v")
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


@contextmanager
def opened_with_clock(url: str, *, ahead: float) -> Iterator[JobStore]:
    store = open_store_url(url, clock=lambda: time.time() + ahead)
    try:
        yield store
    finally:
        store.close()


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


@needs_postgres
@posix_only
def test_a_worker_started_while_the_database_is_down_waits_for_it_instead_of_exiting(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    configure(data_dir, steps=2, step_seconds=0.05)
    with private_postgres() as server:
        with opened(server.url) as store:
            (job_id,) = submit(store)
        server.stop()
        settings = fast_settings(data_dir, database_url=server.url)
        worker = worker_process(settings)
        lines = OutputLines(worker)
        try:
            wait_for(lambda: lines.has("waiting for the database"), 90, "the worker to wait")
            assert worker.poll() is None, "the worker exited instead of waiting"
            server.start()
            with opened(server.url) as store:
                wait_for(
                    lambda: store.get(job_id).status is JobStatus.SUCCEEDED,
                    90,
                    "the job to succeed",
                )
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
        assert worker.returncode == 0, lines.text()


class OutputLines:
    """A process's output, read line by line on a thread as it comes."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._lines: list[str] = []
        assert process.stdout is not None
        stream = process.stdout
        self._thread = threading.Thread(
            target=lambda: self._lines.extend(line.decode(errors="replace") for line in stream),
            daemon=True,
        )
        self._thread.start()

    def has(self, phrase: str) -> bool:
        return any(phrase in line for line in list(self._lines))

    def text(self) -> str:
        return "".join(self._lines)


# --- two workers under i2v up, 20 Ken Burns jobs ---------------------------------------------


@contextmanager
def i2v_up(data_dir: Path, url: str, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`i2v up` with two Ken Burns workers on ``url``; stopped with Ctrl+C on the way out."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("I2V_")},
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        "I2V_DATA_DIR": str(data_dir),
        "I2V_DATABASE_URL": url,
        "I2V_ENGINE": "kenburns",
        "I2V_ENGINE_FACTORY": "bot_engines:slow_kenburns",
        "I2V_WORKER_HEARTBEAT_SECONDS": "2",
        # Longer than the longest outage below, so no lease lapses: attempts stay at 1.
        "I2V_WORKER_LEASE_SECONDS": "90",
        "I2V_STOP_GRACE_SECONDS": "10",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*i2v_command("up", "--workers", "2", "--only", "worker")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def worker_pids(log_text: str) -> dict[str, list[str]]:
    """Every pid each worker child was started with, from i2v up's log."""
    pids: dict[str, list[str]] = {}
    for name, pid in re.findall(r"started (worker-\d) \(pid (\d+)\)", log_text):
        pids.setdefault(name, []).append(pid)
    return pids


def lines_of(log_text: str, child: str, phrase: str) -> list[str]:
    return [
        line for line in log_text.splitlines() if line.startswith(f"[{child}]") and phrase in line
    ]


@needs_postgres
@posix_only
@pytest.mark.parametrize(
    "down_seconds",
    [pytest.param(3.0, id="restart"), pytest.param(30.0, id="stopped-30s", marks=pytest.mark.slow)],
)
def test_two_workers_under_i2v_up_ride_out_a_postgres_outage_and_all_20_jobs_succeed_once(
    tmp_path: Path, down_seconds: float
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # 8 frames a job, each held back 0.15 s: about 1.5 s a job, so the outage hits jobs mid-way.
    (data_dir / "slow.json").write_text('{"step_seconds": 0.15}')
    log_path = tmp_path / "up.log"
    with private_postgres() as server, opened(server.url) as store:
        ids = [
            store.submit(JobSpec(seed=n, **KEN_BURNS), PHOTO, content_type="image/png").id  # type: ignore[arg-type]
            for n in range(20)
        ]
        with i2v_up(data_dir, server.url, log_path) as up:
            wait_for(
                lambda: store.count_jobs(statuses=[JobStatus.SUCCEEDED]) >= 3,
                180,
                "the first jobs to succeed",
            )
            running_before = store.count_jobs(statuses=[JobStatus.RUNNING])
            stop_database(server, down_seconds)
            wait_for(lambda: all_done(store, ids), 300, "every job to finish")
            # A worker logs a success just after storing it: give the last lines a moment.
            wait_for(
                lambda: all(
                    f"job {i}: succeeded" in log_path.read_text(errors="replace") for i in ids
                ),
                60,
                "every success in the log",
            )
            log_text = log_path.read_text(errors="replace")
            assert up.poll() is None, "i2v up exited"
            jobs = [store.get(job_id) for job_id in ids]
            assert [j.status for j in jobs] == [JobStatus.SUCCEEDED] * 20, log_text[-4000:]
            assert [j.attempts for j in jobs] == [1] * 20, "a job ran twice"
            assert all(has_video(store, job_id) for job_id in ids)
            for job_id in ids:
                stored = [
                    line for line in log_text.splitlines() if f"job {job_id}: succeeded" in line
                ]
                assert len(stored) == 1, (job_id, stored)
            # No worker exited: each was started once, and said the outage began and ended once.
            pids = worker_pids(log_text)
            assert sorted(pids) == ["worker-0", "worker-1"]
            assert all(len(started) == 1 for started in pids.values()), pids
            assert "ended unexpectedly" not in log_text
            for child in pids:
                assert len(lines_of(log_text, child, "database outage began")) == 1, log_text[
                    -4000:
                ]
                assert len(lines_of(log_text, child, "database outage ended after")) == 1
            assert running_before >= 1


def stop_database(server: PrivatePostgres, down_seconds: float) -> None:
    server.stop()
    time.sleep(down_seconds)
    server.start()


# --- SQLite on a full disk --------------------------------------------------------------------


@posix_only
@needs_small_filesystem()
def test_sqlite_on_a_full_disk_holds_the_jobs_keeps_the_worker_up_and_drains_once_freed(
    tmp_path: Path,
) -> None:
    with small_filesystem(size_mb=24) as disk:
        data_dir = disk.path / "data"
        data_dir.mkdir()
        (data_dir / "slow.json").write_text('{"step_seconds": 0.1}')
        settings = fast_settings(
            data_dir,
            factory="bot_engines:slow_kenburns",
            engine="kenburns",
            worker_lease_seconds=120.0,
            worker_heartbeat_seconds=1.0,
        )
        url = f"sqlite:///{(data_dir / 'i2v.db').as_posix()}"
        with opened(url) as store:
            ids = [
                store.submit(JobSpec(seed=n, **KEN_BURNS), PHOTO, content_type="image/png").id  # type: ignore[arg-type]
                for n in range(6)
            ]
        worker = worker_process(settings)
        try:
            with opened(url) as store:
                wait_for(
                    lambda: store.count_jobs(statuses=[JobStatus.SUCCEEDED]) >= 1,
                    120,
                    "a first job to succeed",
                )
                disk.fill()
                # The queue cannot move while the disk is full, and the worker stays up.
                time.sleep(4)
                assert worker.poll() is None, "the worker exited on a full disk"
                stuck = store.count_jobs(statuses=[JobStatus.SUCCEEDED])
                assert stuck < len(ids)
                disk.free()
                wait_for(lambda: all_done(store, ids), 180, "the queue to drain")
                jobs = [store.get(job_id) for job_id in ids]
                assert [j.status for j in jobs] == [JobStatus.SUCCEEDED] * len(ids)
                assert [j.attempts for j in jobs] == [1] * len(ids)
                assert all(has_video(store, job_id) for job_id in ids)
            assert worker.poll() is None
        finally:
            worker.send_signal(signal.SIGTERM)
            output = worker.communicate(timeout=60)[0].decode(errors="replace")
        assert "the disk holding the database" in output, output[-3000:]
        assert "database outage ended after" in output


def test_a_job_claimed_by_a_write_whose_answer_was_lost_is_not_held_forever(
    tmp_path: Path, sqlite_url: str
) -> None:
    data_dir = tmp_path / "data"
    configure(data_dir, steps=2, step_seconds=0.05)
    settings = fast_settings(data_dir)
    store = open_store_url(sqlite_url, lease_seconds=settings.worker_lease_seconds)
    try:
        with worker_thread(store, settings) as worker:
            wait_for(store.list_workers, 30, "the worker to register")
            (job_id,) = submit(store, priority=-1000)
            # The claim lands in the database under this worker's name, but the worker never
            # hears of it (as when the connection drops just after the commit).
            lost = store.claim(worker.id)
            assert lost is not None and lost.job.id == job_id
            # Its heartbeat does not renew what it does not know: the lease lapses, the job
            # goes back to the queue, and it runs (here, on this very worker).
            wait_for(
                lambda: store.get(job_id).status is JobStatus.SUCCEEDED, 60, "the job to succeed"
            )
        assert store.get(job_id).attempts == 2
    finally:
        store.close()


# --- the outage's clock, and the spool, on their own ----------------------------------------


def test_an_outage_backs_off_doubling_to_its_cap_and_logs_once_when_it_begins_and_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="i2v.worker.outage")
    now = [100.0]
    outage = Outage("w1", first_backoff=0.5, max_backoff=3.0, clock=lambda: now[0])
    assert not outage.active and outage.may_try()
    waits = []
    for _ in range(5):
        outage.failed(StoreUnavailable("cannot reach the database"), "claiming")
        waits.append(outage.next_try_in())
        assert not outage.may_try()
        now[0] += waits[-1]
        assert outage.may_try()
    assert waits == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert outage.ended() == pytest.approx(9.5)
    assert not outage.active and outage.ended() is None
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "database outage began" in m]) == 1
    assert [m for m in messages if "database outage ended" in m] == [
        "worker w1: database outage ended after 9.5 s (5 failed tries); carrying on"
    ]
    assert outage.count == 1


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
