"""The API rides out a database outage: 503 with Retry-After while it lasts, 202 once it is over.

``i2v api`` runs as a real process on a private PostgreSQL (never the shared
one), which is restarted and then stopped under it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api_support import free_port
from i2v.launcher.children import i2v_command
from i2v.store import open_store_url
from private_postgres import PrivatePostgres, postgres_bin_dir, private_postgres

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(postgres_bin_dir() is None, reason="PostgreSQL's pg_ctl is not installed"),
    pytest.mark.skipif(sys.platform == "win32", reason="runs PostgreSQL's server tools"),
]


@pytest.fixture
def server() -> Iterator[PrivatePostgres]:
    with private_postgres() as cluster:
        open_store_url(cluster.url).close()  # the schema, before the API starts
        yield cluster


@pytest.fixture
def api_url(server: PrivatePostgres, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("I2V_")},
        "I2V_DATA_DIR": str(tmp_path / "data"),
        "I2V_DATABASE_URL": server.url,
    }
    log = (tmp_path / "api.log").open("w")
    process = subprocess.Popen(
        i2v_command("api", "--host", "127.0.0.1", "--port", str(port)),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "api.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.1)
        yield url
        assert process.poll() is None, "the API process ended during the outage"
    finally:
        process.terminate()
        process.wait(30)
        log.close()
        print((tmp_path / "api.log").read_text()[-4000:])


def submit(client: httpx.Client, photo: bytes) -> httpx.Response:
    return client.post("/v1/jobs", files={"photo": ("coffee.png", photo, "image/png")})


def assert_store_unavailable(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == "store_unavailable"
    assert body["status"] == 503
    # Words for a person; never the driver's own text or the database's address.
    assert "cannot be reached" in body["detail"]
    assert "psycopg" not in body["detail"] and "127.0.0.1" not in body["detail"]
    return body


def test_the_api_answers_503_with_retry_after_during_an_outage_and_202_after(
    api_url: str, server: PrivatePostgres, photo_bytes: bytes
) -> None:
    with httpx.Client(base_url=api_url, timeout=60) as client:
        assert submit(client, photo_bytes).status_code == 202
        assert client.get("/readyz").status_code == 200

        # A restart: connections the server held are gone; the next request still works.
        server.restart()
        assert submit(client, photo_bytes).status_code == 202

        # Stopped: every call that needs the database says so, the process stays up.
        server.stop()
        assert_store_unavailable(submit(client, photo_bytes))
        assert_store_unavailable(client.get("/v1/jobs"))
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["code"] == "store_unavailable"
        assert client.get("/healthz").status_code == 200  # the process itself is alive

        server.start()
        accepted = submit(client, photo_bytes)
        assert accepted.status_code == 202, accepted.text
        assert client.get("/readyz").status_code == 200
        listed = client.get("/v1/jobs").json()
    assert len(listed["jobs"]) == 3  # the two before and the one after; none from the outage
