"""The API under concurrent load: several server processes, writes taking turns on SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from api_support import free_port
from i2v.api.offload import Offload


@pytest.fixture
def two_process_server(sqlite_url: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "I2V_DATABASE_URL": sqlite_url, "I2V_DATA_DIR": str(tmp_path / "data")}
    command = [sys.executable, "-m", "i2v", "api", "--port", str(port), "--workers", "2"]
    log = tmp_path / "api.log"
    with log.open("wb") as stderr:
        server = subprocess.Popen(command, env=env, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "i2v api --workers 2 did not start"
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(30)


def test_two_server_processes_serve_the_same_jobs(
    two_process_server: str, photo_bytes: bytes
) -> None:
    # New connections land on either process; every one must see every job.
    ids = []
    for _ in range(6):
        with httpx.Client(base_url=two_process_server) as client:
            response = client.post(
                "/v1/jobs", files={"photo": ("coffee.png", photo_bytes, "image/png")}
            )
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])
    for position, job_id in enumerate(ids, 1):
        with httpx.Client(base_url=two_process_server) as client:
            job = client.get(f"/v1/jobs/{job_id}").json()
        assert job["queue"]["position"] == position


def test_sqlite_writes_take_turns_while_reads_run_side_by_side() -> None:
    offload = Offload(serial_writes=True, read_threads=4)
    inside = 0
    most = {"read": 0, "write": 0}
    lock = threading.Lock()

    def work(kind: str) -> None:
        nonlocal inside
        with lock:
            inside += 1
            most[kind] = max(most[kind], inside)
        time.sleep(0.05)
        with lock:
            inside -= 1

    async def run(kind: str) -> None:
        lane = offload.write if kind == "write" else offload.read
        async with anyio.create_task_group() as group:
            for _ in range(4):
                group.start_soon(lane, work, kind)

    anyio.run(run, "write")
    anyio.run(run, "read")

    assert most == {"write": 1, "read": 4}
