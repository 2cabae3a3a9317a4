"""GPU telemetry for one job: sampled about once a second by the supervisor, summarised at the end.

NVML reads the driver's counters, so the supervisor watches the GPU without a
CUDA context of its own. With no NVIDIA GPU every reading is None and the job's
metadata simply has no ``gpu`` entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from i2v.gpu import SPILL_ADVICE, GpuReading, SpillDetector, read_gpu
from i2v.jobs import Stage

log = logging.getLogger(__name__)

Reader = Callable[[int], "GpuReading | None"]


class JobTelemetry:
    """Collects one job's GPU readings: mean utilisation while generating, peak VRAM, spill."""

    def __init__(
        self,
        job_id: str,
        gpu_index: int = 0,
        *,
        reader: Reader = read_gpu,
        spill: SpillDetector | None = None,
    ) -> None:
        self.job_id = job_id
        self._index = gpu_index
        self._reader = reader
        self._spill = spill or SpillDetector()
        self._utilization: list[float] = []
        self._peak_mb = 0.0
        self._last: GpuReading | None = None
        self.spilled = False

    def sample(self, stage: Stage | None, at: float) -> str | None:
        """Take one reading; return the spill warning the first time the pattern is seen."""
        reading = self._reader(self._index)
        if reading is None:
            return None
        self._last = reading
        self._peak_mb = max(self._peak_mb, reading.memory_used_mb)
        if stage is Stage.GENERATING and reading.utilization_percent is not None:
            self._utilization.append(reading.utilization_percent)
        if self.spilled or stage is not Stage.GENERATING or not self._spill.observe(reading, at):
            return None
        self.spilled = True
        log.warning(
            "job %s: GPU %d at %.0f%% utilisation with %.0f%% of VRAM used for 30 s: "
            "VRAM is spilling into system memory",
            self.job_id,
            self._index,
            reading.utilization_percent or 0,
            100 * reading.memory_fraction,
        )
        return SPILL_ADVICE

    @property
    def last(self) -> GpuReading | None:
        """The latest reading, if any."""
        return self._last

    def summary(self) -> dict[str, Any] | None:
        """What goes into the job's metadata, or None when there was no GPU to read."""
        if self._last is None:
            return None
        mean = sum(self._utilization) / len(self._utilization) if self._utilization else None
        return {
            "name": self._last.name,
            "index": self._index,
            "mean_utilization_generating": None if mean is None else round(mean, 1),
            "peak_vram_mb": round(self._peak_mb),
            "vram_total_mb": round(self._last.memory_total_mb),
            "vram_spill": self.spilled,
        }
