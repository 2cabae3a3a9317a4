"""A worker runs jobs with the model warm, reports progress, and turns each failure into a clear job error.

Every test runs a real supervisor with a real spawned child process and a fake
engine that really sleeps (tests/fake_engines.py).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import fake_engines
from i2v.config import Settings
from i2v.errors import ErrorCode, MediaNotFound
from i2v.jobs import JobStatus, Stage
from i2v.store import STEP, TOTAL, JobStore, open_store, request_key
from i2v.store.media import VIDEO
from worker_harness import fast_settings, status_is, submit, wait_for, worker_thread


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def open_sqlite(data_dir: Path) -> Iterator[object]:
    opened: list[JobStore] = []

    def open_for(settings: object) -> JobStore:
        store = open_store(settings)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield open_for
    for store in opened:
        store.close()


def test_ten_jobs_on_one_worker_load_the_model_once(data_dir: Path, open_sqlite) -> None:
    settings = fast_settings(data_dir)
    fake_engines.configure(data_dir, steps=2, step_seconds=0.01)
    store = open_sqlite(settings)
    ids = submit(store, 10)
    with worker_thread(store, settings, burst=True) as worker:
        for job_id in ids:
            wait_for(status_is(store, job_id, "succeeded"), 60, f"job {job_id}")
    assert fake_engines.setup_count(data_dir) == 1
    assert worker.loads == 1
    assert all(store.get(job_id).attempts == 1 for job_id in ids)
    assert store.read_media(ids[-1], VIDEO)[4:8] == b"ftyp"


def test_a_job_that_keeps_stepping_is_never_killed_however_long_it_runs(
    data_dir: Path, open_sqlite
) -> None:
    # The old worker's fixed timeout killed slow jobs that were still working. Here the job
    # runs about three stall timeouts in total, one short step at a time.
    settings = fast_settings(data_dir, stall_timeout_seconds=1.0)
    fake_engines.configure(data_dir, steps=12, step_seconds=0.25)
    store = open_sqlite(settings)
    [job_id] = submit(store)
    started = time.monotonic()
    with worker_thread(store, settings, max_jobs=1):
        job = wait_for(status_is(store, job_id, "succeeded", "failed"), 60, "the slow job")
    assert job.status is JobStatus.SUCCEEDED, job.error_message
    assert job.attempts == 1
    assert time.monotonic() - started > 3 * settings.stall_timeout_seconds
    assert len({words[1] for words in fake_engines.journal(data_dir) if words[0] == "step"}) == 1


def test_progress_moves_forward_through_the_stages_with_an_eta(data_dir: Path, open_sqlite) -> None:
    # Stalls are not this test's subject: a loaded machine must not turn a slow stage into one.
    settings = fast_settings(data_dir, stall_timeout_seconds=30.0)
    fake_engines.configure(data_dir, steps=10, step_seconds=0.15)
    store = open_sqlite(settings)
    [job_id] = submit(store)
    seen: list[tuple[Stage | None, float, float | None]] = []
    with worker_thread(store, settings, max_jobs=1):
        while not (job := store.get(job_id)).status.is_terminal:
            if job.status is JobStatus.RUNNING:
                seen.append((job.stage, job.progress, job.eta_seconds))
            time.sleep(0.03)
    progresses = [progress for _, progress, _ in seen]
    assert progresses == sorted(progresses)
    assert Stage.GENERATING in {stage for stage, _, _ in seen}
    assert any(0.2 < p < 0.9 for p in progresses), progresses
    assert all(eta is not None and eta >= 0 for stage, _, eta in seen if stage is Stage.GENERATING)
    assert store.get(job_id).progress == 1.0


def test_a_finished_job_teaches_the_eta_for_the_next_one(data_dir: Path, open_sqlite) -> None:
    settings = fast_settings(data_dir)
    fake_engines.configure(data_dir, steps=4, step_seconds=0.1)
    store = open_sqlite(settings)
    [job_id] = submit(store)
    assert store.get(job_id).eta_seconds == settings.eta_prior_seconds
    with worker_thread(store, settings, max_jobs=1):
        wait_for(status_is(store, job_id, "succeeded"), 30, "the job")
    job = store.get(job_id)
    total = store.timings(request_key(job.spec))[TOTAL]
    assert 0.4 <= total.mean < 10
    [next_id] = submit(store)
    assert store.get(next_id).eta_seconds == pytest.approx(total.mean)
    plan_timings = next(
        store.timings(key) for key in _timing_keys(store) if key.startswith("plan|fake|slow|64x48")
    )
    assert plan_timings[STEP].mean == pytest.approx(0.1, abs=0.08)
    assert set(job.result["stage_seconds"]) >= {"generating", "encoding"}


def _timing_keys(store: JobStore) -> list[str]:
    import sqlalchemy as sa

    from i2v.store import schema

    with store._read() as conn:
        return list(conn.execute(sa.select(schema.timings.c.key).distinct()).scalars())


def test_a_model_that_fails_to_load_fails_the_job_and_the_worker_serves_the_next_once_it_loads(
    data_dir: Path, open_sqlite
) -> None:
    settings = fast_settings(data_dir, "fake_engines:FailingSetupEngine")
    fake_engines.configure(data_dir)
    (data_dir / "setup_fails").write_text("weights not found in /models/ltx (is the folder right?)")
    store = open_sqlite(settings)
    [first] = submit(store)
    with worker_thread(store, settings):
        failed = wait_for(status_is(store, first, "failed", "succeeded"), 30, "the first job")
        assert failed.error_code is ErrorCode.MODEL_LOAD_FAILED
        # The loader's words are for admins; users read the catalogue's sentence.
        assert "weights not found in /models/ltx" in (failed.error_detail or "")
        assert failed.error_message == "The video model could not be loaded; it was reported."
        (data_dir / "setup_fails").unlink()
        [second] = submit(store)
        done = wait_for(status_is(store, second, "failed", "succeeded"), 30, "the second job")
    assert done.status is JobStatus.SUCCEEDED, done.error_message


def test_running_out_of_gpu_memory_fails_the_job_with_advice(data_dir: Path, open_sqlite) -> None:
    settings = fast_settings(data_dir, "fake_engines:OomEngine")
    fake_engines.configure(data_dir)
    store = open_sqlite(settings)
    [job_id] = submit(store)
    with worker_thread(store, settings, max_jobs=1) as worker:
        job = wait_for(status_is(store, job_id, "failed", "succeeded"), 30, "the job")
    assert job.error_code is ErrorCode.OUT_OF_MEMORY
    assert "out of memory" in (job.error_message or "")
    assert "lower resolution" in (job.error_message or "")
    assert "I2V_MEMORY_PLAN" in (job.error_message or "")
    assert worker.loads == 1


def test_an_unexpected_error_reaches_users_as_a_plain_sentence_and_admins_as_a_traceback(
    data_dir: Path, open_sqlite
) -> None:
    settings = fast_settings(data_dir, "fake_engines:BuggyEngine")
    fake_engines.configure(data_dir)
    store = open_sqlite(settings)
    [job_id] = submit(store)
    with worker_thread(store, settings, max_jobs=1):
        job = wait_for(status_is(store, job_id, "failed", "succeeded"), 30, "the job")
    assert job.error_code is ErrorCode.INTERNAL
    assert job.error_message == "Something went wrong while making this video; it was reported."
    assert job.error_detail is not None
    assert job.error_detail.startswith("ValueError: box offset can't be negative")
    assert "Traceback (most recent call last)" in job.error_detail
    assert "ValueError" not in str(job.to_dict())


def test_cancel_while_generating_stops_within_one_step(data_dir: Path, open_sqlite) -> None:
    step = 0.3
    settings = fast_settings(data_dir)
    fake_engines.configure(data_dir, steps=40, step_seconds=step)
    store = open_sqlite(settings)
    [job_id] = submit(store)
    with worker_thread(store, settings, max_jobs=1, progress_seconds=0.1):
        wait_for(lambda: len(fake_engines.step_times(data_dir)) >= 2, 30, "two steps")
        store.request_cancel(job_id)
        asked = time.time()
        job = wait_for(
            status_is(store, job_id, "canceled", "failed", "succeeded"), 10, "the cancel"
        )
    assert job.status is JobStatus.CANCELED
    steps_after = [t for t in fake_engines.step_times(data_dir) if t > asked]
    # The flag reaches the child with the next progress write (every 0.1 s here); the
    # step running at that moment is the last one.
    assert len(steps_after) <= 1
    assert any(words[0] == "canceled" for words in fake_engines.journal(data_dir))
    assert job.error_code is None


def test_canceling_a_job_that_waits_for_the_encoder_spares_the_job_being_encoded(
    data_dir: Path, open_sqlite
) -> None:
    # The second job's frames are ready while the first one's slow encode runs; its cancel
    # must end it at once rather than outlast the cancel grace and get the child (and the
    # first job's encode with it) killed.
    # Making 150 frames of noise is slow too: the stall floor must not judge it.
    settings = fast_settings(data_dir, cancel_grace_seconds=2.0, stall_timeout_seconds=30.0)
    fake_engines.configure(
        data_dir, steps=2, step_seconds=0.05, size=[640, 360], frames=150, noise=True
    )
    store = open_sqlite(settings)
    encoding, waiting = submit(store, 2)
    with worker_thread(store, settings, burst=True) as worker:
        wait_for(
            lambda: store.get(waiting).stage is Stage.ENCODING,
            60,
            "the second job to wait for the encoder",
        )
        assert store.get(encoding).status is JobStatus.RUNNING, "the first encode ended too soon"
        store.request_cancel(waiting)
        canceled = wait_for(status_is(store, waiting, "canceled", "failed", "queued"), 30, "cancel")
        done = wait_for(status_is(store, encoding, "succeeded", "failed", "queued"), 120, "job 1")
    assert canceled.status is JobStatus.CANCELED
    assert done.status is JobStatus.SUCCEEDED, done.error_message
    assert done.attempts == 1
    assert worker.loads == 1


def test_cancel_while_queued_is_immediate_and_the_job_never_runs(
    data_dir: Path, open_sqlite
) -> None:
    settings = fast_settings(data_dir)
    fake_engines.configure(data_dir, steps=6, step_seconds=0.1)
    store = open_sqlite(settings)
    first, second = submit(store, 2)
    with worker_thread(store, settings, burst=True):
        wait_for(status_is(store, first, "running"), 30, "the first job to start")
        assert store.request_cancel(second).status is JobStatus.CANCELED
        wait_for(status_is(store, first, "succeeded"), 30, "the first job")
    assert store.get(second).started_at is None
    assert store.get(second).status is JobStatus.CANCELED


def test_without_an_nvidia_gpu_the_result_has_no_gpu_telemetry(data_dir: Path, open_sqlite) -> None:
    from i2v.gpu import nvml_status

    if nvml_status().available:
        pytest.skip("this machine has an NVIDIA GPU")
    settings = fast_settings(data_dir)
    fake_engines.configure(data_dir)
    store = open_sqlite(settings)
    [job_id] = submit(store)
    with worker_thread(store, settings, max_jobs=1):
        job = wait_for(status_is(store, job_id, "succeeded"), 30, "the job")
    assert "gpu" not in job.result
    assert job.result["engine"] == "fake"


def test_a_live_worker_deletes_videos_older_than_keep_results_days_but_keeps_the_job(
    data_dir: Path, open_sqlite
) -> None:
    keep_seconds = 2.0
    settings = fast_settings(data_dir, keep_results_days=keep_seconds / 86400)
    fake_engines.configure(data_dir, steps=2, step_seconds=0.01)
    store = open_sqlite(settings)
    [job_id] = submit(store)
    with worker_thread(store, settings, purge_seconds=0.2):
        wait_for(status_is(store, job_id, "succeeded"), 30, "the job")
        assert store.read_media(job_id, VIDEO)[4:8] == b"ftyp", "a fresh video is kept"
        wait_for(lambda: _purged(store, job_id), keep_seconds + 5, "the old video to go")
    job = store.get(job_id)
    assert job.status is JobStatus.SUCCEEDED and job.result["frames"] == 6


def _purged(store: JobStore, job_id: str) -> bool:
    try:
        store.media_info(job_id, VIDEO)
    except MediaNotFound:
        return True
    return False


@pytest.fixture
def busy_cpu() -> Iterator[None]:
    """A process that spins on one core for as long as the test runs."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait(10)


@pytest.mark.slow
def test_a_full_hd_ten_second_video_encodes_on_a_busy_machine_without_being_taken_for_a_stall(
    data_dir: Path, open_sqlite, busy_cpu: None
) -> None:
    # 300 frames of 1920x1080 take several 8-second stall floors to encode on two busy
    # cores. The child reports each chunk of frames it encodes, so the stall budget judges
    # real silence, and the progress bar moves while the video encodes.
    settings = Settings(
        data_dir=data_dir,
        engine="kenburns",
        stall_timeout_seconds=8.0,
        worker_heartbeat_seconds=1.0,
        worker_lease_seconds=30.0,
        min_job_seconds=900.0,
        max_job_seconds=1800.0,
    )
    store = open_sqlite(settings)
    [job_id] = submit(store, width=1920, height=1080, duration_seconds=10, fps=30)
    encoding: list[float] = []

    def finished() -> bool:
        job = store.get(job_id)
        if job.stage is Stage.ENCODING and (not encoding or encoding[-1] != job.progress):
            encoding.append(job.progress)
        return job.status.is_terminal

    with worker_thread(store, settings, burst=True, progress_seconds=0.5):
        wait_for(finished, 600, "the full-HD job")
    job = store.get(job_id)
    assert job.status is JobStatus.SUCCEEDED, job.error_message
    assert job.attempts == 1
    assert (job.result["width"], job.result["height"], job.result["frames"]) == (1920, 1080, 300)
    assert len(encoding) >= 3, encoding
    assert encoding == sorted(encoding)
