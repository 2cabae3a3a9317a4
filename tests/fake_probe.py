"""A fake machine for the doctor: GPUs, driver, PyTorch, disk and Telegram given, not measured."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from i2v.doctor import TelegramAnswer, TorchInfo
from i2v.gpu import GpuReading, NvmlStatus

RTX_4080_LAPTOP = GpuReading(0, "NVIDIA GeForce RTX 4080 Laptop GPU", 900.0, 12282.0)
GTX_1650 = GpuReading(0, "NVIDIA GeForce GTX 1650", 300.0, 4096.0)
CUDA_TORCH = TorchInfo("2.7.1+cu128", cuda="12.8", cuda_available=True, device_names=("RTX",))


@dataclass
class FakeProbe:
    """A machine described by its readings instead of measured."""

    os_name: str = "Linux"
    driver: str | None = "570.133.07"
    gpu_readings: list[GpuReading] = field(default_factory=lambda: [RTX_4080_LAPTOP])
    torch_info: TorchInfo | None = CUDA_TORCH
    free_gb: float = 500.0
    free_ram: float | None = 48.0
    cache: Path = Path("/nonexistent/hf-cache")
    telegram: TelegramAnswer = field(default_factory=lambda: TelegramAnswer(True, True, "i2v_bot"))
    get_me_calls: list[tuple[str, str]] = field(default_factory=list)

    def system(self) -> str:
        return self.os_name

    def python_version(self) -> tuple[int, int, int]:
        return (3, 12, 4)

    def nvml(self) -> NvmlStatus:
        if self.driver is None:
            return NvmlStatus(False, reason="NVML Shared Library Not Found")
        return NvmlStatus(True, gpu_count=len(self.gpu_readings), driver_version=self.driver)

    def gpus(self) -> list[GpuReading]:
        return list(self.gpu_readings)

    def torch(self) -> TorchInfo | None:
        return self.torch_info

    def free_disk_gb(self, path: Path) -> float:
        return self.free_gb

    def free_ram_gb(self) -> float | None:
        return self.free_ram

    def hf_cache_dir(self) -> Path:
        return self.cache

    def telegram_get_me(self, api_url: str, token: str) -> TelegramAnswer:
        self.get_me_calls.append((api_url, token))
        return self.telegram
