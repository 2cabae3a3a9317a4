"""The real probe: NVML, PyTorch in a child process, disk usage, the Bot API over HTTPS."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from i2v.doctor.findings import TelegramAnswer, TorchInfo
from i2v.gpu import GpuReading, NvmlStatus, nvml_status, read_gpus
from i2v.gpu.hostram import free_ram_gb

#: Importing torch and initialising CUDA takes seconds; a hung driver should not hang us.
TORCH_PROBE_TIMEOUT_SECONDS = 120.0
TELEGRAM_TIMEOUT_SECONDS = 8.0

# Run in a fresh interpreter: a CUDA initialisation that crashes or hangs takes only
# that process with it, and the doctor itself never needs torch installed.
_TORCH_SCRIPT = """
import json, importlib.util
if importlib.util.find_spec("torch") is None:
    print(json.dumps(None)); raise SystemExit
import torch
info = {"version": torch.__version__, "cuda": torch.version.cuda, "cuda_available": False,
        "device_names": [], "error": None}
try:
    info["cuda_available"] = bool(torch.cuda.is_available())
    if info["cuda_available"]:
        count = torch.cuda.device_count()
        info["device_names"] = [torch.cuda.get_device_name(i) for i in range(count)]
        info["capabilities"] = [list(torch.cuda.get_device_capability(i)) for i in range(count)]
except Exception as exc:
    info["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
print(json.dumps(info))
"""


class SystemProbe:
    """Reads this machine for real."""

    def system(self) -> str:
        """The operating system: ``Windows``, ``Linux`` or ``Darwin``."""
        return platform.system()

    def python_version(self) -> tuple[int, int, int]:
        """The running Python's version."""
        return sys.version_info[0], sys.version_info[1], sys.version_info[2]

    def nvml(self) -> NvmlStatus:
        """Whether NVIDIA GPUs can be read, and the driver version."""
        return nvml_status()

    def gpus(self) -> list[GpuReading]:
        """Every NVIDIA GPU now."""
        return read_gpus()

    def torch(self) -> TorchInfo | None:
        """Ask a fresh Python process what PyTorch and CUDA say."""
        try:
            done = subprocess.run(
                [sys.executable, "-c", _TORCH_SCRIPT],
                capture_output=True,
                text=True,
                timeout=TORCH_PROBE_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return TorchInfo(
                version="unknown",
                error=f"importing torch did not finish within {TORCH_PROBE_TIMEOUT_SECONDS:g} s",
            )
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return TorchInfo(version="unknown", error=last)
        data = json.loads(lines[-1])
        if data is None:
            return None
        return TorchInfo(
            version=data["version"],
            cuda=data["cuda"],
            cuda_available=data["cuda_available"],
            device_names=tuple(data["device_names"]),
            error=data["error"],
            capabilities=tuple((int(c[0]), int(c[1])) for c in data.get("capabilities", [])),
        )

    def free_ram_gb(self) -> float | None:
        """RAM available without swapping, in GB (None where it cannot be read)."""
        return free_ram_gb()

    def free_disk_gb(self, path: Path) -> float:
        """Free space in GB on the disk that holds ``path``, asking its nearest existing folder."""
        existing = path
        while not existing.exists() and existing.parent != existing:
            existing = existing.parent
        return shutil.disk_usage(existing).free / 1e9

    def hf_cache_dir(self) -> Path:
        """The Hugging Face hub cache, found the way huggingface_hub finds it."""
        if os.environ.get("HF_HUB_CACHE"):
            return Path(os.environ["HF_HUB_CACHE"]).expanduser()
        home = os.environ.get("HF_HOME") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "huggingface"
        )
        return Path(home).expanduser() / "hub"

    def telegram_get_me(self, api_url: str, token: str) -> TelegramAnswer:
        """Call getMe; the token only ever travels in the URL, never into a message."""
        url = f"{api_url.rstrip('/')}/bot{token}/getMe"
        try:
            with urllib.request.urlopen(url, timeout=TELEGRAM_TIMEOUT_SECONDS) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                body = json.loads(exc.read())
            except ValueError:
                body = {"ok": False, "description": f"HTTP {exc.code}"}
            body.setdefault("error_code", exc.code)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            return TelegramAnswer(reachable=False, description=str(reason).replace(token, "***"))
        result = body.get("result") or {}
        return TelegramAnswer(
            reachable=True,
            ok=bool(body.get("ok")),
            username=result.get("username"),
            description=str(body.get("description", "")).replace(token, "***"),
            details={"error_code": body.get("error_code")},
        )
