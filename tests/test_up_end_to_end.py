"""`i2v up` for real: the bot and a worker as child processes, against the local Bot API server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot_harness import ALICE
from fake_bot_api import TOKEN, FakeBotApi
from fake_engines import configure, journal
from i2v.jobs import JobStatus
from i2v.launcher.children import i2v_command
from i2v.store import open_store_url

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="kills process groups the POSIX way"),
]
TESTS = Path(__file__).parent
STOP_GRACE_SECONDS = 20


def up_status(data_dir: Path) -> dict[str, dict[str, Any]]:
    """The children of the running `i2v up`, by name, from its status file."""
    for path in (data_dir / "run").glob("up-*.json"):
        try:
            return {c["name"]: c for c in json.loads(path.read_text())["children"]}
        except (OSError, ValueError):
            return {}
    return {}


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def steps_done(data_dir: Path) -> int:
    return sum(1 for words in journal(data_dir) if words[0] == "step")


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def bot_api() -> Iterator[FakeBotApi]:
    with FakeBotApi() as api:
        yield api


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    # 16 steps of 0.25 s: a job runs long enough to be caught in the middle.
    configure(folder, steps=16, step_seconds=0.25)
    return folder


@pytest.fixture
def i2v_up(bot_api: FakeBotApi, data_dir: Path, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("I2V_")},
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        "I2V_DATA_DIR": str(data_dir),
        "I2V_TELEGRAM_TOKEN": TOKEN,
        "I2V_TELEGRAM_API_URL": bot_api.url,
        "I2V_ENGINE_FACTORY": "fake_engines:SlowEngine",
        "I2V_WORKER_HEARTBEAT_SECONDS": "1",
        "I2V_WORKER_LEASE_SECONDS": "4",
        "I2V_STOP_GRACE_SECONDS": str(STOP_GRACE_SECONDS),
    }
    log = (tmp_path / "up.log").open("w")
    process = subprocess.Popen(
        i2v_command("up"), env=env, stdout=log, stderr=subprocess.STDOUT, text=True
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
        print((tmp_path / "up.log").read_text()[-6000:])


def test_i2v_up_serves_a_photo_survives_a_killed_worker_and_stops_on_ctrl_c(
    i2v_up: subprocess.Popen[str], bot_api: FakeBotApi, data_dir: Path, photo_bytes: bytes
) -> None:
    children = wait_for(
        lambda: (
            (s := up_status(data_dir)).get("bot", {}).get("pid")
            and s.get("worker-0", {}).get("pid")
            and s
        ),
        30,
        "the bot and the worker to start",
    )
    first_worker = children["worker-0"]["pid"]

    # A photo arrives; kill the worker (and its GPU process) in the middle of the job.
    bot_api.send_photo(ALICE, photo_bytes)
    wait_for(lambda: steps_done(data_dir) >= 3, 60, "the job to be generating")
    os.killpg(first_worker, signal.SIGKILL)
    wait_for(
        lambda: up_status(data_dir).get("worker-0", {}).get("pid") not in (None, first_worker),
        30,
        "i2v up to start a new worker",
    )
    wait_for(lambda: bot_api.uploads(ALICE.id), 90, "the video")

    store = open_store_url(f"sqlite:///{(data_dir / 'i2v.db').as_posix()}", migrate=False)
    try:
        (job,) = store.list_jobs()
        assert job.status is JobStatus.SUCCEEDED
        assert job.attempts == 2
        assert len(bot_api.uploads(ALICE.id)) == 1
        wait_for(lambda: store.get(job.id).delivered, 15, "the delivery to be recorded")

        # Another photo; Ctrl+C while it is being generated.
        before = steps_done(data_dir)
        bot_api.send_photo(ALICE, photo_bytes)
        wait_for(lambda: steps_done(data_dir) >= before + 2, 60, "the second job to run")
        pids = [c["pid"] for c in up_status(data_dir).values()]
        began = time.monotonic()
        i2v_up.send_signal(signal.SIGINT)
        assert i2v_up.wait(timeout=STOP_GRACE_SECONDS + 20) == 0
        assert time.monotonic() - began < STOP_GRACE_SECONDS + 15
        assert not any(is_alive(pid) for pid in pids)

        # Nothing lost: the second job either finished or waits in the queue, unharmed.
        second = next(j for j in store.list_jobs() if j.id != job.id)
        assert second.status in (JobStatus.SUCCEEDED, JobStatus.QUEUED)
        assert second.attempts <= 1 or second.status is JobStatus.SUCCEEDED
        assert not store.list_jobs(statuses=[JobStatus.RUNNING])
    finally:
        store.close()
