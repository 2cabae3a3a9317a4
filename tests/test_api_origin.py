"""A tokenless API refuses other sites: a foreign Origin may not change anything, a foreign Host gets nothing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api_support import live_server
from i2v.api import create_app
from i2v.config import Settings
from i2v.store import JobStore, open_store_url


@pytest.fixture
def store(sqlite_url: str) -> Iterator[JobStore]:
    opened = open_store_url(sqlite_url)
    yield opened
    opened.close()


def post_photo(client: TestClient | httpx.Client, photo: bytes, **headers: str) -> httpx.Response:
    return client.post("/v1/jobs", files={"photo": ("p.png", photo, "image/png")}, headers=headers)


def test_a_post_from_another_sites_page_is_refused_and_queues_nothing(
    store: JobStore, settings: Settings, photo_bytes: bytes
) -> None:
    with live_server(create_app(store, settings)) as base, httpx.Client(base_url=base) as client:
        forged = post_photo(client, photo_bytes, Origin="https://evil.example")
        deleted = client.delete("/v1/jobs/abc", headers={"Origin": "null"})

        assert forged.status_code == 403
        assert forged.json()["code"] == "forbidden"
        assert "evil.example" in forged.json()["detail"]
        assert deleted.status_code == 403
        assert store.list_jobs() == []
        # The API's own page (same origin) and tools that send no Origin are served.
        assert post_photo(client, photo_bytes, Origin=base).status_code == 202
        assert post_photo(client, photo_bytes).status_code == 202


def test_a_foreign_host_header_is_refused_against_dns_rebinding(
    store: JobStore, settings: Settings, photo_bytes: bytes
) -> None:
    with live_server(create_app(store, settings)) as base, httpx.Client(base_url=base) as client:
        rebound = client.get("/v1/jobs", headers={"Host": "evil.example:8000"})
        forged = post_photo(client, photo_bytes, Host="evil.example")

        assert rebound.status_code == 403
        assert "I2V_API_ALLOWED_HOSTS" in rebound.json()["detail"]
        assert forged.status_code == 403
        assert store.list_jobs() == []
        assert client.get("/v1/jobs", headers={"Host": "localhost:8000"}).status_code == 200
        assert client.get("/v1/jobs").status_code == 200  # 127.0.0.1:<port>


def test_names_in_the_allow_list_are_served(store: JobStore, settings: Settings) -> None:
    allowed = settings.model_copy(update={"api_allowed_hosts": ["i2v.lan"]})
    client = TestClient(create_app(store, allowed))

    assert client.get("/v1/jobs", headers={"Host": "i2v.lan"}).status_code == 200
    assert client.get("/v1/jobs", headers={"Host": "i2v.lan.evil.example"}).status_code == 403


def test_with_tokens_neither_host_nor_origin_is_checked(
    store: JobStore, settings: Settings, photo_bytes: bytes
) -> None:
    # A browser never sends a bearer token by itself, so another site cannot act as the
    # user; and a reverse proxy in front may rewrite Host.
    token = "t" * 40
    app = create_app(store, settings.model_copy(update={"api_token": SecretStr(token)}))
    client = TestClient(app)
    auth = {"Authorization": f"Bearer {token}"}

    assert client.get("/v1/jobs", headers={**auth, "Host": "i2v.example.com"}).status_code == 200
    posted = post_photo(client, photo_bytes, **auth, Origin="https://i2v.example.com")
    assert posted.status_code == 202
    assert post_photo(client, photo_bytes, Origin="https://evil.example").status_code == 401


def test_an_origin_allowed_for_cors_may_post(
    store: JobStore, settings: Settings, photo_bytes: bytes
) -> None:
    opened = settings.model_copy(update={"api_cors_origins": ["https://photos.example"]})
    client = TestClient(create_app(store, opened))

    assert post_photo(client, photo_bytes, Origin="https://photos.example").status_code == 202
