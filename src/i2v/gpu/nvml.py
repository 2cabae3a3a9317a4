"""Reading NVIDIA GPUs through NVML (the ``nvidia-ml-py`` package), absent-driver safe."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any

_MIB = 1024 * 1024


@dataclass(frozen=True)
class GpuReading:
    """One GPU at one moment. A counter the GPU does not report is None."""

    index: int
    name: str
    memory_used_mb: float
    memory_total_mb: float
    utilization_percent: float | None = None
    temperature_c: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    sm_clock_mhz: float | None = None
    memory_clock_mhz: float | None = None

    @property
    def memory_fraction(self) -> float:
        """Share of VRAM in use, 0..1."""
        return self.memory_used_mb / self.memory_total_mb if self.memory_total_mb else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class NvmlStatus:
    """Whether NVML can be used here: the GPU count and driver version, or the reason not."""

    available: bool
    gpu_count: int = 0
    driver_version: str | None = None
    #: Why NVML is unusable, in words a person can act on (None when available).
    reason: str | None = None


class _Nvml:
    """Initialises NVML once per process and serialises calls (NVML handles are per process)."""

    def __init__(self, module: ModuleType | Any | None = None) -> None:
        self._module = module
        self._lock = threading.Lock()
        self._status: NvmlStatus | None = None

    def _load(self) -> Any:
        if self._module is None:
            import pynvml

            self._module = pynvml
        return self._module

    def status(self) -> NvmlStatus:
        """Initialise NVML on first use and report whether it works."""
        with self._lock:
            if self._status is None:
                self._status = self._initialise()
            return self._status

    def _initialise(self) -> NvmlStatus:
        try:
            nvml = self._load()
        except ImportError:
            return NvmlStatus(False, reason="the nvidia-ml-py package is not installed")
        try:
            nvml.nvmlInit()
            count = int(nvml.nvmlDeviceGetCount())
            driver = _text(nvml.nvmlSystemGetDriverVersion())
        except nvml.NVMLError as exc:
            return NvmlStatus(False, reason=f"no usable NVIDIA driver ({exc})")
        return NvmlStatus(True, gpu_count=count, driver_version=driver)

    def read(self, index: int) -> GpuReading | None:
        """Read one GPU; None if NVML is unusable or there is no GPU at ``index``."""
        if not self.status().available:
            return None
        nvml = self._load()
        with self._lock:
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
                name = _text(nvml.nvmlDeviceGetName(handle))
            except nvml.NVMLError:
                return None

            def optional(call: str, *args: Any) -> Any:
                # Consumer cards and VMs leave some counters unsupported; a reading
                # without power draw is still a useful reading.
                try:
                    return getattr(nvml, call)(handle, *args)
                except nvml.NVMLError:
                    return None

            utilization = optional("nvmlDeviceGetUtilizationRates")
            power = optional("nvmlDeviceGetPowerUsage")
            limit = optional("nvmlDeviceGetEnforcedPowerLimit")
            temperature = optional("nvmlDeviceGetTemperature", nvml.NVML_TEMPERATURE_GPU)
            sm_clock = optional("nvmlDeviceGetClockInfo", nvml.NVML_CLOCK_SM)
            mem_clock = optional("nvmlDeviceGetClockInfo", nvml.NVML_CLOCK_MEM)
        return GpuReading(
            index=index,
            name=name,
            memory_used_mb=memory.used / _MIB,
            memory_total_mb=memory.total / _MIB,
            utilization_percent=None if utilization is None else float(utilization.gpu),
            temperature_c=_number(temperature),
            power_w=None if power is None else power / 1000.0,
            power_limit_w=None if limit is None else limit / 1000.0,
            sm_clock_mhz=_number(sm_clock),
            memory_clock_mhz=_number(mem_clock),
        )

    def read_all(self) -> list[GpuReading]:
        """Read every GPU NVML sees."""
        status = self.status()
        readings = (self.read(index) for index in range(status.gpu_count))
        return [reading for reading in readings if reading is not None]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


_default = _Nvml()


def nvml_status() -> NvmlStatus:
    """Whether NVIDIA GPUs can be read here, and if not, why."""
    return _default.status()


def read_gpus() -> list[GpuReading]:
    """Read every NVIDIA GPU now; an empty list when there is no driver or no GPU."""
    return _default.read_all()


def read_gpu(index: int = 0) -> GpuReading | None:
    """Read the GPU with NVML index ``index``; None when there is no such GPU."""
    return _default.read(index)
