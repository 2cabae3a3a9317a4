"""A worker takes only the jobs its engine and model can make; the rest wait for a worker that can.

Real supervisors with real spawned children and a fake engine that serves whatever
model its settings name (tests/fake_engines.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import fake_engines
from i2v.config import Settings
from i2v.jobs import JobStatus
from i2v.store import JobStore, open_store
from worker_harness import fast_settings, status_is, submit, wait_for, worker_thread


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    fake_engines.configure(folder, steps=2, step_seconds=0.01)
    return folder


@pytest.fixture
def store(data_dir: Path) -> Iterator[JobStore]:
    opened = open_store(fast_settings(data_dir))
    yield opened
    opened.close()


def serving(data_dir: Path, model: str) -> Settings:
    """Settings of a worker whose engine serves ``model``."""
    return fast_settings(data_dir, "fake_engines:ModelEngine", model=model)


def test_a_job_asking_for_another_model_waits_for_a_worker_that_serves_it(
    data_dir: Path, store: JobStore
) -> None:
    [wan_by_repo_id] = submit(store, model="Wan-AI/Wan2.2-TI2V-5B-Diffusers")
    [ltx] = submit(store, model="ltx-video")
    [any_model] = submit(store)
    with worker_thread(store, serving(data_dir, "wan2.2-ti2v-5b"), burst=True):
        for job_id in (wan_by_repo_id, any_model):
            wait_for(status_is(store, job_id, "succeeded"), 30, f"job {job_id}")
        wait_for(lambda: not store.list_workers(), 30, "the burst worker to run out of work")
    assert store.get(wan_by_repo_id).result["model"] == "wan2.2-ti2v-5b"
    waiting = store.get(ltx)
    assert waiting.status is JobStatus.QUEUED
    assert waiting.started_at is None and waiting.attempts == 0

    with worker_thread(store, serving(data_dir, "ltx-video"), burst=True):
        done = wait_for(status_is(store, ltx, "succeeded"), 30, "the ltx job")
    assert done.result["model"] == "ltx-video"


def test_an_idle_worker_passes_over_jobs_for_other_models_and_takes_a_new_one_for_its_own(
    data_dir: Path, store: JobStore
) -> None:
    ids = submit(store, 3, model="cogvideox-5b-i2v")
    with worker_thread(store, serving(data_dir, "svd-xt")) as worker:
        wait_for(lambda: worker.loads == 1, 30, "the model to load")
        [mine] = submit(store, model="stabilityai/stable-video-diffusion-img2vid-xt")
        wait_for(status_is(store, mine, "succeeded"), 30, "the job for this worker's model")
    assert [store.get(job_id).status for job_id in ids] == [JobStatus.QUEUED] * 3
    assert len(fake_engines.step_times(data_dir)) == 2, "one job of two steps ran"
