"""The first job's ETA: a prior for the engine and model that will run it, until measured."""

from __future__ import annotations

import pytest

from i2v.jobs import JobSpec, Resolution, WorkerInfo, WorkerState
from i2v.store import TOTAL, JobStore, request_key
from i2v.store.priors import prior_seconds


def _serve(store: JobStore, engine: str, model: str = "") -> None:
    store.register_worker(
        WorkerInfo(
            id=f"w-{engine}", host="h", pid=1, state=WorkerState.IDLE, engine=engine, model=model
        )
    )


def test_a_ken_burns_job_is_expected_to_take_seconds_not_minutes() -> None:
    spec = JobSpec(resolution=Resolution.P720, duration_seconds=6.0)
    assert 2.0 < prior_seconds(spec, "kenburns", "") < 10.0  # type: ignore[operator]


def test_the_prior_grows_with_frames_pixels_and_steps() -> None:
    ltx = "Lightricks/LTX-Video"
    base = prior_seconds(
        JobSpec(resolution=Resolution.P480, duration_seconds=4.0), "diffusers", ltx
    )
    longer = prior_seconds(
        JobSpec(resolution=Resolution.P480, duration_seconds=8.0), "diffusers", ltx
    )
    larger = prior_seconds(
        JobSpec(resolution=Resolution.P1080, duration_seconds=4.0), "diffusers", ltx
    )
    fewer = prior_seconds(
        JobSpec(resolution=Resolution.P480, duration_seconds=4.0, steps=8), "diffusers", ltx
    )
    assert base is not None and longer is not None and larger is not None and fewer is not None
    assert longer == pytest.approx(2 * base, rel=0.05)
    assert larger > 4 * base
    assert fewer < base / 4


def test_a_distilled_model_is_expected_to_be_faster_than_its_full_sibling() -> None:
    spec = JobSpec(resolution=Resolution.P720, duration_seconds=6.0)
    full = prior_seconds(spec, "diffusers", "Lightricks/LTX-Video")
    distilled = prior_seconds(spec, "diffusers", "Lightricks/LTX-Video-0.9.8-13B-distilled")
    assert full is not None and distilled is not None and distilled < full / 4


def test_an_unknown_engine_has_no_prior() -> None:
    assert prior_seconds(JobSpec(), "fake", "slow") is None


def test_a_queued_job_on_a_ken_burns_service_is_promised_seconds(store: JobStore) -> None:
    _serve(store, "kenburns")
    job = store.submit(JobSpec(resolution=Resolution.P720, duration_seconds=6.0), b"p")
    assert job.eta_seconds is not None and job.eta_seconds < 10.0


def test_with_no_live_worker_the_configured_prior_is_used(store: JobStore) -> None:
    job = store.submit(JobSpec(resolution=Resolution.P720, duration_seconds=6.0), b"p")
    assert job.eta_seconds == store.eta_prior_seconds


def test_a_measurement_replaces_the_prior(store: JobStore) -> None:
    _serve(store, "kenburns")
    spec = JobSpec(resolution=Resolution.P720, duration_seconds=6.0)
    first = store.submit(spec, b"p")
    store.record_timing(request_key(spec), TOTAL, 11.0)
    second = store.submit(spec, b"p")
    assert first.eta_seconds != pytest.approx(11.0)
    assert second.eta_seconds == pytest.approx(11.0)
