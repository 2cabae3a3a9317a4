"""What a doctor check reports, and the probe interface checks read the machine through."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from i2v.gpu import GpuReading, NvmlStatus


class Status(str, enum.Enum):
    """How a check went."""

    #: All is well.
    PASS = "PASS"
    #: i2v works, but not as well as it could; the fix says how to do better.
    WARN = "WARN"
    #: Something i2v needs is broken; ``i2v doctor`` exits 1.
    FAIL = "FAIL"


@dataclass(frozen=True)
class Finding:
    """The result of one check: what was found and, unless it passed, how to fix it."""

    name: str
    status: Status
    summary: str
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the stable JSON shape of ``i2v doctor --json``."""
        return {
            "name": self.name,
            "status": self.status.value,
            "summary": self.summary,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class TorchInfo:
    """What PyTorch says about itself, read in a separate process."""

    version: str
    #: CUDA version the build targets; None for a CPU-only build.
    cuda: str | None = None
    cuda_available: bool = False
    device_names: tuple[str, ...] = ()
    #: Set when importing torch or initialising CUDA failed; the last line of the error.
    error: str | None = None
    #: CUDA compute capability of each GPU PyTorch sees, e.g. (8, 9) for Ada.
    capabilities: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class TelegramAnswer:
    """The Bot API's answer to getMe, or why there was none."""

    #: False when the Bot API server could not be reached at all.
    reachable: bool
    ok: bool = False
    username: str | None = None
    #: Telegram's description of a refusal, or the network error.
    description: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class Probe(Protocol):
    """How checks look at the machine; :class:`~i2v.doctor.system.SystemProbe` is the real one."""

    def system(self) -> str:
        """The operating system: ``Windows``, ``Linux`` or ``Darwin``."""

    def python_version(self) -> tuple[int, int, int]:
        """The running Python's version."""

    def nvml(self) -> NvmlStatus:
        """Whether NVIDIA GPUs can be read, and the driver version."""

    def gpus(self) -> list[GpuReading]:
        """Every NVIDIA GPU now."""

    def torch(self) -> TorchInfo | None:
        """PyTorch's version and CUDA state; None when it is not installed."""

    def free_disk_gb(self, path: Path) -> float:
        """Free space in GB on the disk that holds ``path`` (which may not exist yet)."""

    def free_ram_gb(self) -> float | None:
        """RAM available without swapping, in GB; None where it cannot be read."""

    def hf_cache_dir(self) -> Path:
        """The Hugging Face cache folder that model downloads go to."""

    def telegram_get_me(self, api_url: str, token: str) -> TelegramAnswer:
        """Call getMe on the Bot API server."""
