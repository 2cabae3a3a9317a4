"""Open event streams are capped per client and in total; a closed stream frees its place."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from api_support import live_server
from i2v.api import create_app
from i2v.api.streams import StreamSlots
from i2v.config import Settings
from i2v.store import JobStore, open_store_url

ALICE = "alice-token-0123456789abcdefghijklmnop"
BORIS = "boris-token-0123456789abcdefghijklmnop"


@pytest.fixture
def store(sqlite_url: str) -> Iterator[JobStore]:
    opened = open_store_url(sqlite_url)
    yield opened
    opened.close()


def as_(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_until(predicate, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_streams_over_the_per_client_cap_are_429_and_other_clients_still_stream(
    store: JobStore, settings: Settings, photo_bytes: bytes
) -> None:
    configured = settings.model_copy(
        update={
            "api_tokens": {"alice": SecretStr(ALICE), "boris": SecretStr(BORIS)},
            "api_max_streams_per_client": 2,
            "api_max_streams": 3,
        }
    )
    app = create_app(store, configured)
    slots: StreamSlots = app.state.streams
    with live_server(app) as base, httpx.Client(base_url=base, timeout=20) as client:
        jobs = {
            token: client.post(
                "/v1/jobs", files={"photo": ("p.png", photo_bytes, "image/png")}, headers=as_(token)
            ).json()["id"]
            for token in (ALICE, BORIS)
        }
        with contextlib.ExitStack() as open_streams:
            for _ in range(2):
                stream = open_streams.enter_context(
                    client.stream("GET", f"/v1/jobs/{jobs[ALICE]}/events", headers=as_(ALICE))
                )
                assert stream.status_code == 200
            third = client.get(f"/v1/jobs/{jobs[ALICE]}/events", headers=as_(ALICE))
            assert third.status_code == 429
            assert third.json()["code"] == "too_many_streams"
            assert "I2V_API_MAX_STREAMS_PER_CLIENT" in third.json()["detail"]
            assert int(third.headers["retry-after"]) > 0

            boris = open_streams.enter_context(
                client.stream("GET", f"/v1/jobs/{jobs[BORIS]}/events", headers=as_(BORIS))
            )
            assert boris.status_code == 200
            # Three streams are open in total: the server's cap holds even for a fresh client.
            over = client.get(f"/v1/jobs/{jobs[BORIS]}/events", headers=as_(BORIS))
            assert over.status_code == 429
            assert "I2V_API_MAX_STREAMS" in over.json()["detail"]
            assert slots.open == 3
        # Closing the streams frees their places.
        wait_until(lambda: slots.open == 0, "the closed streams to free their places")
        with client.stream("GET", f"/v1/jobs/{jobs[ALICE]}/events", headers=as_(ALICE)) as again:
            assert again.status_code == 200


def test_a_stream_that_ends_with_its_job_frees_its_place(
    store: JobStore, settings: Settings, photo_bytes: bytes
) -> None:
    app = create_app(store, settings.model_copy(update={"api_max_streams_per_client": 1}))
    slots: StreamSlots = app.state.streams
    with live_server(app) as base, httpx.Client(base_url=base, timeout=20) as client:
        job_id = client.post(
            "/v1/jobs", files={"photo": ("p.png", photo_bytes, "image/png")}
        ).json()["id"]
        with client.stream("GET", f"/v1/jobs/{job_id}/events") as stream:
            lines = stream.iter_lines()
            assert next(line for line in lines if line.startswith("event:")) == "event: queued"
            store.request_cancel(job_id)
            assert next(line for line in lines if line.startswith("event:")) == "event: canceled"
        wait_until(lambda: slots.open == 0, "the finished stream to free its place")
