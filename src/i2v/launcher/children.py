"""Which child processes ``i2v up`` runs, and the command line of each."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from i2v.config import Settings

ROLES = ("worker", "bot", "api")
#: Seconds a bot or API server gets to stop after its stop signal.
SERVICE_STOP_SECONDS = 15.0
#: Beyond the job's own grace, time a worker needs to put the job back and exit.
WORKER_STOP_MARGIN_SECONDS = 15.0


@dataclass(frozen=True)
class ChildSpec:
    """One child process: its name, role, command line, extra environment and stop budget."""

    name: str
    role: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    #: Seconds between the graceful stop signal and a kill.
    stop_seconds: float = SERVICE_STOP_SECONDS


def i2v_command(*args: str) -> list[str]:
    """The command line that runs ``i2v ARGS`` with this very Python (the venv's, on Windows too)."""
    # "-c" instead of the i2v script: the script's path differs between platforms and
    # virtual environments, while sys.executable is always the interpreter running us.
    return [sys.executable, "-c", "from i2v.cli.app import main; main()", *args]


def plan_children(
    settings: Settings,
    gpu_indexes: Sequence[int],
    *,
    roles: Sequence[str] = ROLES,
    workers: int | None = None,
    api: bool = False,
) -> list[ChildSpec]:
    """The children for this host: one worker per GPU (one on the CPU if none), the bot, the API."""
    children: list[ChildSpec] = []
    if "worker" in roles:
        worker_stop = settings.stop_grace_seconds + WORKER_STOP_MARGIN_SECONDS
        count = workers if workers is not None else max(1, len(gpu_indexes))
        for number in range(count):
            env: dict[str, str] = {}
            argv = i2v_command("worker")
            if gpu_indexes:
                # Each worker sees only its own GPU, as cuda:0. NVML (and nvidia-smi) number
                # GPUs by PCI bus; CUDA_DEVICE_ORDER makes CUDA number them the same way,
                # and --gpu tells the worker which NVML GPU to watch.
                gpu = gpu_indexes[number % len(gpu_indexes)]
                env = {"CUDA_VISIBLE_DEVICES": str(gpu), "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
                argv = i2v_command("worker", "--gpu", str(gpu))
            children.append(ChildSpec(f"worker-{number}", "worker", argv, env, worker_stop))
    token = settings.telegram_token
    if "bot" in roles and token is not None and token.get_secret_value():
        children.append(ChildSpec("bot", "bot", i2v_command("bot")))
    if "api" in roles and api:
        children.append(ChildSpec("api", "api", i2v_command("api")))
    return children
