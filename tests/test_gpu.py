"""GPU readings through NVML, answered cleanly without a driver, and the VRAM spill detector."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from i2v.gpu import SPILL_ADVICE, GpuReading, SpillDetector, nvml_status, read_gpu, read_gpus
from i2v.gpu.nvml import _Nvml
from i2v.jobs import Stage
from i2v.worker.telemetry import JobTelemetry

GIB = 1024**3


class FakeNvmlError(Exception):
    """Stands in for pynvml.NVMLError."""


class FakeNvml:
    """The part of the pynvml module i2v uses, over one scripted GPU (utilisation, VRAM)."""

    NVMLError = FakeNvmlError
    NVML_TEMPERATURE_GPU = 0
    NVML_CLOCK_SM = 1
    NVML_CLOCK_MEM = 2

    def __init__(
        self, *, used_gib: float = 6.0, total_gib: float = 12.0, util: int = 97, power: bool = True
    ) -> None:
        self.used, self.total, self.util, self.power = used_gib, total_gib, util, power
        self.initialised = 0

    def nvmlInit(self) -> None:
        self.initialised += 1

    def nvmlDeviceGetCount(self) -> int:
        return 1

    def nvmlSystemGetDriverVersion(self) -> bytes:
        return b"555.42"

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        if index != 0:
            raise FakeNvmlError("Invalid Argument")
        return index

    def nvmlDeviceGetName(self, handle: int) -> str:
        return "NVIDIA GeForce RTX 4070"

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:
        return SimpleNamespace(used=int(self.used * GIB), total=int(self.total * GIB))

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> Any:
        return SimpleNamespace(gpu=self.util, memory=40)

    def nvmlDeviceGetTemperature(self, handle: int, sensor: int) -> int:
        return 71

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        if not self.power:
            raise FakeNvmlError("Not Supported")
        return 180_500

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: int) -> int:
        return 200_000

    def nvmlDeviceGetClockInfo(self, handle: int, kind: int) -> int:
        return 2475 if kind == self.NVML_CLOCK_SM else 10501


class NoDriverNvml(FakeNvml):
    def nvmlInit(self) -> None:
        raise FakeNvmlError("NVML Shared Library Not Found")


def test_a_reading_has_utilisation_vram_temperature_power_and_clocks() -> None:
    reading = _Nvml(FakeNvml()).read(0)
    assert reading == GpuReading(
        index=0,
        name="NVIDIA GeForce RTX 4070",
        memory_used_mb=6144,
        memory_total_mb=12288,
        utilization_percent=97,
        temperature_c=71,
        power_w=180.5,
        power_limit_w=200,
        sm_clock_mhz=2475,
        memory_clock_mhz=10501,
    )
    assert reading.memory_fraction == 0.5
    assert reading.to_dict()["memory_total_mb"] == 12288


def test_a_counter_the_card_does_not_report_is_left_empty_not_an_error() -> None:
    reading = _Nvml(FakeNvml(power=False)).read(0)
    assert reading is not None
    assert reading.power_w is None
    assert reading.utilization_percent == 97


def test_without_a_driver_every_call_answers_no_gpu_and_says_why() -> None:
    nvml = _Nvml(NoDriverNvml())
    status = nvml.status()
    assert not status.available
    assert "NVML Shared Library Not Found" in (status.reason or "")
    assert nvml.read(0) is None
    assert nvml.read_all() == []


def test_nvml_is_initialised_once_per_process() -> None:
    fake = FakeNvml()
    nvml = _Nvml(fake)
    for _ in range(3):
        nvml.read_all()
    assert fake.initialised == 1
    assert nvml.status().driver_version == "555.42"


def test_a_gpu_index_that_does_not_exist_reads_as_none() -> None:
    assert _Nvml(FakeNvml()).read(3) is None


def test_the_public_api_works_on_this_machine_with_or_without_a_gpu() -> None:
    status = nvml_status()
    readings = read_gpus()
    assert len(readings) == status.gpu_count
    if not status.available:
        assert readings == [] and read_gpu(0) is None and status.reason


def _reading(util: float, used_fraction: float) -> GpuReading:
    return GpuReading(
        index=0,
        name="gpu",
        memory_used_mb=used_fraction * 12000,
        memory_total_mb=12000,
        utilization_percent=util,
    )


def test_spill_is_reported_after_thirty_seconds_of_low_utilisation_with_full_vram() -> None:
    detector = SpillDetector()
    assert not any(detector.observe(_reading(10, 0.98), float(t)) for t in range(30))
    assert detector.observe(_reading(10, 0.98), 30.0)


def test_a_busy_gpu_or_a_dip_resets_the_spill_clock() -> None:
    detector = SpillDetector()
    for t in range(20):
        detector.observe(_reading(10, 0.98), float(t))
    assert not detector.observe(_reading(95, 0.98), 20.0)
    assert not detector.observe(_reading(10, 0.98), 45.0)
    assert not detector.observe(_reading(10, 0.5), 80.0)
    assert not SpillDetector().observe(_reading(10, 0.90), 1000.0)


def test_job_telemetry_summarises_generation_and_warns_about_a_spill_once() -> None:
    script = [_reading(95, 0.6)] * 3 + [_reading(12, 0.97)] * 40
    readings = iter(script)
    telemetry = JobTelemetry("job1", reader=lambda index: next(readings))
    warnings = [telemetry.sample(Stage.GENERATING, float(t)) for t in range(len(script))]
    assert [w for w in warnings if w] == [SPILL_ADVICE]
    assert "Prefer No Sysmem Fallback" in SPILL_ADVICE and "lower resolution" in SPILL_ADVICE
    summary = telemetry.summary()
    assert summary is not None
    assert summary["peak_vram_mb"] == round(0.97 * 12000)
    assert summary["mean_utilization_generating"] == pytest.approx((3 * 95 + 40 * 12) / 43, abs=0.1)
    assert summary["vram_spill"] is True


def test_job_telemetry_is_absent_without_a_gpu() -> None:
    telemetry = JobTelemetry("job1", reader=lambda index: None)
    assert telemetry.sample(Stage.GENERATING, 0.0) is None
    assert telemetry.summary() is None
