"""The API's guards: bearer token, body limit, rate limit, CORS, and tokens kept out of logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from i2v.api import create_app
from i2v.api.security import RateLimiter
from i2v.cli.api import check_exposure, is_loopback
from i2v.config import Settings
from i2v.errors import ConfigError
from i2v.store import JobStore, open_store_url

TOKEN = "s3cret-token-that-must-never-be-logged"


@pytest.fixture
def store(sqlite_url: str) -> Iterator[JobStore]:
    opened = open_store_url(sqlite_url)
    yield opened
    opened.close()


def make_client(store: JobStore, settings: Settings, **overrides: object) -> TestClient:
    return TestClient(create_app(store, settings.model_copy(update=overrides)))


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_without_the_token_every_api_route_answers_401(store: JobStore, settings: Settings) -> None:
    client = make_client(store, settings, api_token=SecretStr(TOKEN))

    for method, path in [
        ("GET", "/v1/jobs"),
        ("POST", "/v1/jobs"),
        ("GET", "/v1/jobs/abc"),
        ("DELETE", "/v1/jobs/abc"),
        ("GET", "/v1/jobs/abc/events"),
        ("GET", "/v1/jobs/abc/video"),
        ("GET", "/v1/workers"),
        ("GET", "/metrics"),
    ]:
        response = client.request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.json()["code"] == "unauthorized"
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_wrong_token_is_refused_and_the_right_one_admitted(
    store: JobStore, settings: Settings
) -> None:
    client = make_client(store, settings, api_token=SecretStr(TOKEN))

    assert client.get("/v1/jobs", headers=bearer("wrong")).status_code == 401
    assert client.get("/v1/jobs", headers={"Authorization": TOKEN}).status_code == 401
    assert client.get("/v1/jobs", headers=bearer()).status_code == 200


def test_probes_and_the_page_need_no_token(store: JobStore, settings: Settings) -> None:
    client = make_client(store, settings, api_token=SecretStr(TOKEN))

    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    page = client.get("/")
    assert page.status_code == 200
    assert "i2v" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_a_declared_body_over_the_limit_is_413(store: JobStore, settings: Settings) -> None:
    client = make_client(store, settings, api_max_body_bytes=4096)

    response = client.post("/v1/jobs", files={"photo": ("big.png", b"x" * 10_000, "image/png")})

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert "4096" in response.json()["detail"]


def test_a_streamed_body_over_the_limit_is_413(store: JobStore, settings: Settings) -> None:
    client = make_client(store, settings, api_max_body_bytes=4096)

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"y" * 1000

    response = client.post(
        "/v1/jobs", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=zz"}
    )

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert store.list_jobs() == []


def test_a_client_over_its_rate_gets_429_with_retry_after(
    store: JobStore, settings: Settings
) -> None:
    client = make_client(
        store,
        settings,
        api_token=SecretStr(TOKEN),
        api_rate_limit_per_second=0.5,
        api_rate_limit_burst=3,
    )

    answers = [client.get("/v1/jobs", headers=bearer()).status_code for _ in range(5)]

    assert answers == [200, 200, 200, 429, 429]
    limited = client.get("/v1/jobs", headers=bearer())
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    assert client.get("/healthz").status_code == 200


def test_guessing_tokens_is_rate_limited_too(store: JobStore, settings: Settings) -> None:
    client = make_client(
        store,
        settings,
        api_token=SecretStr(TOKEN),
        api_rate_limit_per_second=0.5,
        api_rate_limit_burst=2,
    )

    answers = [client.get("/v1/jobs", headers=bearer(f"guess{i}")).status_code for i in range(4)]

    assert answers == [401, 401, 429, 429]


def test_a_token_bucket_refills_with_time() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=2, clock=lambda: now[0])

    assert [limiter.take("k") for _ in range(3)] == [0.0, 0.0, pytest.approx(0.5)]
    now[0] += 0.5
    assert limiter.take("k") == 0.0
    assert limiter.take("other") == 0.0


def test_cors_is_off_unless_origins_are_configured(store: JobStore, settings: Settings) -> None:
    origin = {"Origin": "https://photos.example"}
    closed = make_client(store, settings)
    opened = make_client(store, settings, api_cors_origins=["https://photos.example"])

    assert "access-control-allow-origin" not in closed.get("/v1/jobs", headers=origin).headers
    allowed = opened.get("/v1/jobs", headers=origin)
    assert allowed.headers["access-control-allow-origin"] == "https://photos.example"
    other = opened.get("/v1/jobs", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_cors_origins_can_be_given_as_one_comma_separated_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("I2V_API_CORS_ORIGINS", "https://a.example, https://b.example")

    assert Settings().api_cors_origins == ["https://a.example", "https://b.example"]


def test_tokens_never_reach_the_logs(
    store: JobStore, settings: Settings, caplog: pytest.LogCaptureFixture, photo_bytes: bytes
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(store, settings, api_token=SecretStr(TOKEN))

    client.get("/v1/jobs", headers=bearer())
    client.get("/v1/jobs", headers=bearer(TOKEN + "-wrong"))
    job = client.post(
        "/v1/jobs", headers=bearer(), files={"photo": ("p.png", photo_bytes, "image/png")}
    ).json()
    client.get(f"/v1/jobs/{job['id']}", headers=bearer())

    assert caplog.records  # the app did log; none of it holds the token
    assert TOKEN not in caplog.text
    assert TOKEN not in str(job)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.5", False),
    ],
)
def test_loopback_addresses_are_told_apart(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_serving_beyond_loopback_without_a_token_is_refused_with_the_reason(
    settings: Settings,
) -> None:
    with pytest.raises(ConfigError, match=r"without a token.*I2V_API_TOKEN"):
        check_exposure(settings, "0.0.0.0")
    check_exposure(settings.model_copy(update={"api_token": SecretStr(TOKEN)}), "0.0.0.0")
    check_exposure(settings, "127.0.0.1")
