"""Checks of the compute stack: Python, PyTorch and CUDA, the NVIDIA driver."""

from __future__ import annotations

from i2v.config import Settings
from i2v.doctor.findings import Finding, Probe, Status, TorchInfo
from i2v.gpu import NvmlStatus

#: The first Windows driver with the "CUDA - Sysmem Fallback Policy" setting.
SYSMEM_POLICY_DRIVER = (536, 40)
#: Oldest driver each CUDA major version runs on (NVIDIA's minor-version compatibility table).
MIN_DRIVER = {"Linux": {11: (450, 80), 12: (525, 60)}, "Windows": {11: (452, 39), 12: (527, 41)}}

CUDA_TORCH_FIX = (
    "install the CUDA build of PyTorch: run scripts\\windows\\install.ps1 (Windows) or "
    "scripts/linux/install.sh (Linux), or by hand: pip install torch --index-url "
    "https://download.pytorch.org/whl/cu128"
)
SYSMEM_FIX = (
    "open the NVIDIA Control Panel > Manage 3D settings > Program Settings, add python.exe "
    "from the i2v virtual environment (.venv\\Scripts\\python.exe), and set "
    '"CUDA - Sysmem Fallback Policy" to "Prefer No Sysmem Fallback". A job too big for the '
    "card then fails with a clear out-of-memory error instead of crawling at 10 % GPU use."
)


def driver_tuple(version: str | None) -> tuple[int, int] | None:
    """Parse an NVIDIA driver version such as ``552.22`` or ``550.54.15``."""
    if not version:
        return None
    parts = version.split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return None


def check_python(probe: Probe) -> Finding:
    """Python 3.10 or newer."""
    version = probe.python_version()
    shown = ".".join(str(p) for p in version)
    if version[:2] < (3, 10):
        return Finding("python", Status.FAIL, f"Python {shown}", "install Python 3.10 or newer")
    return Finding("python", Status.PASS, f"Python {shown} on {probe.system()}")


def check_torch(settings: Settings, torch: TorchInfo | None, nvml: NvmlStatus) -> Finding:
    """PyTorch installed, and a CUDA build that sees the GPU when there is one."""
    needed = settings.engine == "diffusers"
    has_gpu = nvml.available and nvml.gpu_count > 0
    if torch is None:
        if settings.engine == "kenburns":
            return Finding(
                "torch", Status.PASS, "not installed; not needed with I2V_ENGINE=kenburns"
            )
        return Finding(
            "torch",
            Status.FAIL if needed else Status.WARN,
            "PyTorch is not installed, so only the kenburns engine (pan and zoom) can run",
            CUDA_TORCH_FIX
            if has_gpu
            else "to run the AI model, install i2v on a machine with an "
            "NVIDIA GPU: " + CUDA_TORCH_FIX,
        )
    if torch.error and torch.version == "unknown":
        return Finding(
            "torch", Status.FAIL, f"importing PyTorch fails: {torch.error}", CUDA_TORCH_FIX
        )
    if torch.cuda is None:
        summary = f"PyTorch {torch.version} is a CPU-only build"
        if not has_gpu:
            return Finding("torch", Status.PASS, summary + "; there is no NVIDIA GPU to use anyway")
        return Finding(
            "torch",
            Status.FAIL if needed else Status.WARN,
            summary + ", but this machine has an NVIDIA GPU: the AI model cannot use it",
            CUDA_TORCH_FIX,
        )
    if not torch.cuda_available:
        reason = f" ({torch.error})" if torch.error else ""
        return Finding(
            "torch",
            Status.FAIL if needed or has_gpu else Status.WARN,
            f"PyTorch {torch.version} (CUDA {torch.cuda}) cannot use any GPU{reason}",
            "install or update the NVIDIA driver (see the driver check), then reboot",
        )
    gpus = ", ".join(torch.device_names)
    return Finding("torch", Status.PASS, f"PyTorch {torch.version}, CUDA {torch.cuda}; sees {gpus}")


def check_driver(system: str, nvml: NvmlStatus, torch: TorchInfo | None) -> Finding:
    """The NVIDIA driver: present, new enough for PyTorch's CUDA, and the Windows sysmem trap."""
    if not nvml.available:
        return Finding(
            "nvidia driver",
            Status.WARN,
            f"no NVIDIA GPU can be read: {nvml.reason}; videos are made with kenburns on the CPU",
            "on a machine with an NVIDIA GPU, install the current driver from nvidia.com",
        )
    version = driver_tuple(nvml.driver_version)
    summary = f"driver {nvml.driver_version}, {nvml.gpu_count} GPU(s)"
    cuda_major = int(torch.cuda.split(".")[0]) if torch and torch.cuda else None
    needed = MIN_DRIVER.get(system, {}).get(cuda_major or 0)
    if version and needed and version < needed:
        return Finding(
            "nvidia driver",
            Status.FAIL,
            f"{summary}: too old for PyTorch's CUDA {torch.cuda if torch else ''}",
            f"update the NVIDIA driver to {needed[0]}.{needed[1]:02d} or newer",
        )
    if system == "Windows" and version and version >= SYSMEM_POLICY_DRIVER:
        return Finding(
            "nvidia driver",
            Status.WARN,
            f"{summary}. Windows drivers from 536.40 on can let CUDA spill VRAM into shared "
            "system memory when the card is full; the GPU then drops to about 10 % and jobs "
            "crawl. Check that the fallback is off for i2v",
            SYSMEM_FIX,
        )
    if system == "Windows" and version:
        return Finding(
            "nvidia driver",
            Status.WARN,
            f"{summary}: this driver cannot turn off CUDA's shared-memory fallback",
            "update the NVIDIA driver to 536.40 or newer, then: " + SYSMEM_FIX,
        )
    return Finding("nvidia driver", Status.PASS, summary)
