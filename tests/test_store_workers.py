"""The worker registry tells a front end whether any live worker would take a job, as claim would."""

from __future__ import annotations

from typing import Any

import pytest

from i2v.jobs import JobSpec, WorkerInfo, WorkerState
from i2v.store import JobStore, open_store_url

LTX_NAMES = ["Lightricks/LTX-Video", "ltx-video"]

#: What a worker claims, as the worker writes it (worker.routing.ClaimFilter.to_dict()).
SERVES: dict[str, dict[str, Any]] = {
    "ltx": {"engines": ["diffusers"], "models": LTX_NAMES, "job_id": None},
    "kenburns": {"engines": ["kenburns"], "models": None, "job_id": None},
    "anything": {"engines": None, "models": None, "job_id": None},
    "one job": {"engines": None, "models": None, "job_id": "abc"},
}

#: (engine, model) of a job.
JOBS = [
    (None, None),
    ("auto", None),
    (None, "ltx-video"),
    (None, "Lightricks/LTX-Video"),
    ("diffusers", "wan2.2-ti2v-5b"),
    ("kenburns", None),
    ("diffusers", None),
]


def register(store: JobStore, worker_id: str, serves: dict[str, Any] | None) -> None:
    store.register_worker(WorkerInfo(id=worker_id, host="h", pid=1, state=WorkerState.IDLE), serves)


@pytest.mark.parametrize("worker", sorted(SERVES))
def test_a_worker_counts_as_serving_a_job_exactly_when_claim_would_give_it_that_job(
    store: JobStore, worker: str
) -> None:
    serves = SERVES[worker]
    register(store, "w", serves)
    for engine, model in JOBS:
        job = store.submit(JobSpec(engine=engine, model=model), b"p")
        counted = store.serving_worker_count(engine, model) == 1
        lease = store.claim(
            "w", engines=serves["engines"], models=serves["models"], job_id=serves["job_id"]
        )
        claimed = lease is not None
        assert counted == claimed, f"{worker} worker, job asking for {engine}/{model}"
        if lease is not None:
            assert lease.job.id == job.id  # and it stays running, out of the next claim's way
        else:
            store.request_cancel(job.id)


def test_a_queued_job_that_no_live_worker_makes_says_so_in_its_queue_position(
    store: JobStore,
) -> None:
    register(store, "ltx worker", SERVES["ltx"])
    ltx = store.submit(JobSpec(model="ltx-video"), b"p")
    wan = store.submit(JobSpec(model="wan2.2-ti2v-5b"), b"p")
    served = store.queue_position(ltx.id)
    assert (served.live_workers, served.serving_workers, served.is_unserved) == (1, 1, False)
    stranded = store.queue_position(wan.id)
    assert (stranded.live_workers, stranded.serving_workers, stranded.is_unserved) == (1, 0, True)


def test_a_worker_that_stopped_heartbeating_serves_nothing(store_url: str) -> None:
    now = [1000.0]
    clocked = open_store_url(store_url, lease_seconds=60, clock=lambda: now[0])
    try:
        register(clocked, "ltx worker", SERVES["ltx"])
        assert clocked.serving_worker_count(None, "ltx-video") == 1
        now[0] += 61
        assert clocked.serving_worker_count(None, "ltx-video") == 0
    finally:
        clocked.close()


def test_a_worker_that_never_said_what_it_claims_is_given_the_benefit_of_the_doubt(
    store: JobStore,
) -> None:
    register(store, "old worker", None)
    assert store.serving_worker_count("diffusers", "any/model") == 1


def test_what_a_worker_claims_changes_when_its_model_has_loaded(store: JobStore) -> None:
    register(store, "w", SERVES["anything"])
    assert store.serving_worker_count(None, "wan2.2-ti2v-5b") == 1
    store.update_worker("w", serves=SERVES["ltx"])
    assert store.serving_worker_count(None, "wan2.2-ti2v-5b") == 0
    assert store.serving_worker_count(None, "ltx-video") == 1
