"""`i2v up` for real, ended the ways a laptop ends it: a closed terminal (SIGHUP) and kill -9.

Either way, within a few seconds no process of its tree is left: not the worker,
not the worker's GPU child, not the bot. And a second `i2v up` on the same data
folder is refused with one clear line.
"""

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

from api_support import free_port
from fake_bot_api import TOKEN, FakeBotApi
from fake_engines import configure
from i2v.launcher.children import i2v_command
from i2v.launcher.parentwatch import LAST_RESORT_SECONDS, ORPHAN_EXIT_CODE, child_environment
from test_up_end_to_end import wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="walks /proc for the tree"),
]
TESTS = Path(__file__).parent
#: How long the whole tree may outlive `i2v up`.
GONE_WITHIN_SECONDS = 5.0


def children_of() -> dict[int, list[int]]:
    """Every process's children, read from /proc (psutil is not a dependency)."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces and parentheses: parse after the last ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] == "Z":
            continue  # a zombie has ended; only its parent's wait is missing
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def tree_of(pid: int) -> set[int]:
    """``pid`` and all its descendants that are alive now."""
    tree = children_of()
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        found.add(current)
        todo.extend(tree.get(current, []))
    return found


def is_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def up_environment(data_dir: Path, bot_api: FakeBotApi) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("I2V_")},
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        "I2V_DATA_DIR": str(data_dir),
        "I2V_TELEGRAM_TOKEN": TOKEN,
        "I2V_TELEGRAM_API_URL": bot_api.url,
        "I2V_ENGINE_FACTORY": "fake_engines:SlowEngine",
        "I2V_STOP_GRACE_SECONDS": "20",
        "I2V_API_PORT": str(free_port()),
    }


@pytest.fixture
def bot_api() -> Iterator[FakeBotApi]:
    with FakeBotApi() as api:
        yield api


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    configure(folder, steps=4, step_seconds=0.1)
    return folder


Start = Callable[..., "subprocess.Popen[str]"]


def up_status(data_dir: Path, pid: int) -> dict[str, dict[str, Any]]:
    """The children of the `i2v up` with this pid, by name, from its status file."""
    try:
        status = json.loads((data_dir / "run" / f"up-{pid}.json").read_text())
    except (OSError, ValueError):
        return {}
    return {child["name"]: child for child in status["children"]}


@pytest.fixture
def start_up(bot_api: FakeBotApi, data_dir: Path, tmp_path: Path) -> Iterator[Start]:
    """Start `i2v up` processes; whatever is left of their trees is killed afterwards."""
    started: list[subprocess.Popen[str]] = []
    pids: set[int] = set()

    def start(*args: str, preexec: Callable[[], object] | None = None) -> subprocess.Popen[str]:
        log = (tmp_path / f"up-{len(started)}.log").open("w")
        process = subprocess.Popen(
            i2v_command("up", *args),
            env=up_environment(data_dir, bot_api),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=preexec,  # noqa: PLW1509 - the test's own process has no threads that matter
        )
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            pids |= tree_of(process.pid)
            if process.poll() is None:
                process.kill()
                process.wait()
        for pid in pids:
            if is_running(pid):
                os.kill(pid, signal.SIGKILL)
        for path in sorted(tmp_path.glob("up-*.log")):
            print(f"--- {path.name}\n{path.read_text()[-4000:]}")


def running_tree(process: subprocess.Popen[str], data_dir: Path) -> set[int]:
    """Wait until the bot polls and the worker's model is loaded; return the tree's pids."""
    wait_for(
        lambda: (
            (s := up_status(data_dir, process.pid)).get("bot", {}).get("pid")
            and s.get("worker-0", {}).get("pid")
        ),
        60,
        "the bot and the worker to start",
    )
    worker = up_status(data_dir, process.pid)["worker-0"]["pid"]
    # The worker's GPU child is spawned once the worker is up: wait for that grandchild.
    wait_for(lambda: len(tree_of(worker)) >= 2, 60, "the worker's GPU child to start")
    log = data_dir / "logs" / "i2v-up.log"
    wait_for(
        lambda: (
            " loaded in " in (text := log.read_text()) and "[bot]" in text and " started (" in text
        ),
        60,
        "the model to be loaded and the bot to poll",
    )
    tree = tree_of(process.pid)
    assert up_status(data_dir, process.pid)["bot"]["pid"] in tree
    return tree


@pytest.mark.parametrize("how", ["SIGHUP", "SIGKILL"])
def test_no_process_of_the_tree_outlives_i2v_up_by_more_than_five_seconds(
    start_up: Start, data_dir: Path, how: str
) -> None:
    process = start_up("--api")
    tree = running_tree(process, data_dir)
    wait_for(lambda: up_status(data_dir, process.pid).get("api", {}).get("pid"), 60, "the API")
    tree = tree_of(process.pid)
    assert len(tree) >= 5, tree  # i2v up, the bot, the API, the worker, its GPU child

    process.send_signal(getattr(signal, how))
    ended = time.monotonic()
    deadline = ended + GONE_WITHIN_SECONDS
    while time.monotonic() < deadline and any(is_running(pid) for pid in tree):
        time.sleep(0.05)
    left = sorted(pid for pid in tree if is_running(pid))
    print(f"{how}: {len(tree)} processes, all gone after {time.monotonic() - ended:.1f} s")
    assert left == [], f"still running {GONE_WITHIN_SECONDS} s after {how}: {left}"
    if how == "SIGHUP":
        # A closed terminal is a graceful stop, not a crash.
        assert process.wait(timeout=5) == 0


def test_a_second_i2v_up_on_the_same_data_folder_is_refused_naming_the_first(
    start_up: Start, data_dir: Path, tmp_path: Path
) -> None:
    first = start_up()
    running_tree(first, data_dir)

    second = start_up("--only", "worker")
    assert second.wait(timeout=60) == 2
    said = (tmp_path / "up-1.log").read_text()
    assert "another i2v up already runs" in said
    assert f"pid {first.pid}" in said
    assert "Traceback" not in said
    assert first.poll() is None  # the first one is unharmed
    # The refused one started nothing: the first one's bot and worker are still the only ones.
    assert sorted(up_status(data_dir, first.pid)) == ["bot", "worker-0"]
    assert not (data_dir / "run" / f"up-{second.pid}.json").exists()


def test_i2v_up_starts_again_at_once_after_the_first_was_killed(
    start_up: Start, data_dir: Path
) -> None:
    first = start_up()
    running_tree(first, data_dir)
    first.kill()
    first.wait()
    # No stale lock: the kernel let go of it with the process.
    second = start_up()
    wait_for(
        lambda: up_status(data_dir, second.pid).get("bot", {}).get("pid") or second.poll(),
        60,
        "the second i2v up to run its bot",
    )
    assert second.poll() is None


def test_a_second_bot_on_the_same_postgres_database_is_refused_but_workers_are_welcome(
    bot_api: FakeBotApi, postgres_url: str, tmp_path: Path
) -> None:
    def start(name: str, *args: str) -> subprocess.Popen[str]:
        folder = tmp_path / name
        configure(folder, steps=4, step_seconds=0.1)
        env = {**up_environment(folder, bot_api), "I2V_DATABASE_URL": postgres_url}
        log = (tmp_path / f"{name}.log").open("w")
        return subprocess.Popen(
            i2v_command("up", *args), env=env, stdout=log, stderr=subprocess.STDOUT, text=True
        )

    first = start("laptop", "--only", "bot")
    started = [first]
    try:
        wait_for(
            lambda: up_status(tmp_path / "laptop", first.pid).get("bot", {}).get("pid"),
            60,
            "the first bot to start",
        )
        second = start("desktop", "--only", "bot")
        started.append(second)
        assert second.wait(timeout=60) == 2
        said = (tmp_path / "desktop.log").read_text()
        assert "another i2v up already runs the bot on the database" in said
        assert f"i2v up pid {first.pid}" in said
        # A GPU host that runs only workers on the same database is what scale-out is.
        gpu_host = start("gpu-host", "--only", "worker")
        started.append(gpu_host)
        wait_for(
            lambda: up_status(tmp_path / "gpu-host", gpu_host.pid).get("worker-0", {}).get("pid"),
            60,
            "the GPU host's worker to start",
        )
        assert first.poll() is None and gpu_host.poll() is None
    finally:
        for process in started:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for path in sorted(tmp_path.glob("*.log")):
            print(f"--- {path.name}\n{path.read_text()[-3000:]}")


def test_a_child_that_ignores_the_stop_signal_still_ends_once_its_budget_is_spent(
    tmp_path: Path,
) -> None:
    # A child wedged past its graceful stop: the watch sends a second signal after the
    # budget, then ends the process itself. Here the child ignores SIGTERM outright.
    script = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "from i2v.launcher.parentwatch import watch_parent; watch_parent(); "
        "print('watching', flush=True); time.sleep(120)"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, **child_environment(1.0)},
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "watching"
        began = time.monotonic()
        assert child.stdin is not None
        child.stdin.close()  # what the OS does when the parent dies
        code = child.wait(timeout=60)
        took = time.monotonic() - began
        said = child.stdout.read()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert code == ORPHAN_EXIT_CODE, said
    assert 1.0 + LAST_RESORT_SECONDS - 0.5 <= took < 1.0 + LAST_RESORT_SECONDS + 20
    assert "i2v up is gone" in said and "did not stop after a second signal" in said


def test_i2v_up_under_nohup_outlives_the_terminal(start_up: Start, data_dir: Path) -> None:
    # nohup ignores SIGHUP before starting the program; i2v up keeps it that way.
    process = start_up(preexec=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    running_tree(process, data_dir)
    process.send_signal(signal.SIGHUP)
    time.sleep(2)  # long enough for a graceful stop to have begun; nothing may stop
    assert process.poll() is None
    assert "the terminal was closed" not in (data_dir / "logs" / "i2v-up.log").read_text()
