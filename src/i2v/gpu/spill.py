"""Spotting VRAM that spills into shared system memory: a busy-looking card that does little."""

from __future__ import annotations

from dataclasses import dataclass, field

from i2v.gpu.nvml import GpuReading

#: Below this utilisation the GPU is mostly waiting.
SPILL_MAX_UTILIZATION = 30.0
#: Above this share of VRAM in use the driver may start paging to system memory.
SPILL_MIN_MEMORY_FRACTION = 0.95
#: The pattern must last this long; short dips happen while loading or decoding.
SPILL_SECONDS = 30.0

SPILL_ADVICE = (
    "The GPU's memory was full while the GPU itself sat mostly idle: video memory was "
    "spilling into shared system memory, which makes generation many times slower. "
    "To stop it, choose a lower resolution or a shorter video, or a lighter memory plan "
    "(I2V_MEMORY_PLAN=model_offload, group_offload or sequential_offload). On Windows, "
    "also open the NVIDIA Control Panel, Manage 3D settings, and set "
    '"CUDA - Sysmem Fallback Policy" to "Prefer No Sysmem Fallback", so that a job too '
    "big for the card fails cleanly instead of crawling."
)


@dataclass
class SpillDetector:
    """Feed it readings; it reports once the spill pattern has held for ``seconds``."""

    seconds: float = SPILL_SECONDS
    max_utilization: float = SPILL_MAX_UTILIZATION
    min_memory_fraction: float = SPILL_MIN_MEMORY_FRACTION
    _since: float | None = field(default=None, init=False)

    def observe(self, reading: GpuReading, at: float) -> bool:
        """Take a reading made at time ``at`` (seconds); True while the pattern has lasted long enough."""
        spilling = (
            reading.utilization_percent is not None
            and reading.utilization_percent < self.max_utilization
            and reading.memory_fraction > self.min_memory_fraction
        )
        if not spilling:
            self._since = None
            return False
        if self._since is None:
            self._since = at
        return at - self._since >= self.seconds

    def reset(self) -> None:
        """Forget what was seen (a new job starts)."""
        self._since = None
