"""Wrong tokens from one address make that address wait longer and longer; a right one clears it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from i2v.api import create_app
from i2v.api.throttle import FORGET_SECONDS, FREE_FAILURES, MAX_DELAY_SECONDS, LoginThrottle
from i2v.config import Settings
from i2v.store import JobStore, open_store_url

TOKEN = "the-right-token-0123456789abcdefghij"


@pytest.fixture
def store(sqlite_url: str) -> Iterator[JobStore]:
    opened = open_store_url(sqlite_url)
    yield opened
    opened.close()


def test_each_wrong_token_past_the_free_ones_doubles_the_wait() -> None:
    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    waits = []
    for _ in range(FREE_FAILURES + 4):
        throttle.failed("10.0.0.9")
        waits.append(throttle.wait_seconds("10.0.0.9"))

    assert waits == [0.0] * (FREE_FAILURES - 1) + [1.0, 2.0, 4.0, 8.0, 16.0]
    assert throttle.wait_seconds("10.0.0.10") == 0.0
    now[0] += 10
    assert throttle.wait_seconds("10.0.0.9") == pytest.approx(6.0)


def test_the_wait_has_a_ceiling_and_is_forgotten_after_a_quiet_hour() -> None:
    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for _ in range(FREE_FAILURES + 40):
        throttle.failed("a")

    assert throttle.wait_seconds("a") == MAX_DELAY_SECONDS
    now[0] += FORGET_SECONDS + 1
    assert throttle.wait_seconds("a") == 0.0


def test_a_guessing_address_is_told_to_wait_even_with_the_right_token_then_admitted(
    store: JobStore, settings: Settings
) -> None:
    app = create_app(store, settings.model_copy(update={"api_token": SecretStr(TOKEN)}))
    # A stopped clock: the test may run slowly without the wait running out under it.
    now = [100.0]
    app.state.guard.throttle = LoginThrottle(clock=lambda: now[0])
    client = TestClient(app)

    answers = [
        client.get("/v1/jobs", headers={"Authorization": f"Bearer guess-{i}"}).status_code
        for i in range(FREE_FAILURES + 1)
    ]
    locked = client.get("/v1/jobs", headers={"Authorization": f"Bearer {TOKEN}"})

    assert answers == [401] * FREE_FAILURES + [429]
    assert locked.status_code == 429
    assert locked.json()["code"] == "rate_limited"
    assert "wrong API tokens" in locked.json()["detail"]
    assert int(locked.headers["retry-after"]) >= 1
    now[0] += 1.5
    assert client.get("/v1/jobs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    # The right token cleared the record: one more mistake is free again.
    assert client.get("/v1/jobs", headers={"Authorization": "Bearer nope"}).status_code == 401
