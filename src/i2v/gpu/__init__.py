"""GPU readings from NVIDIA's management library (NVML), and VRAM spill detection.

This package needs no torch and no CUDA context: NVML reads the driver's own
counters, so the worker's supervisor (which never touches CUDA) can watch the
GPU its child uses. On a machine without an NVIDIA driver every function
answers "no GPU" instead of raising.

Public API, for the worker and for ``i2v gpu`` / ``i2v doctor``:

- :func:`nvml_status` -> :class:`NvmlStatus`: is NVML usable, the driver version, or why not.
- :func:`read_gpus` -> list of :class:`GpuReading`: every NVIDIA GPU now (``[]`` without one).
- :func:`read_gpu` -> :class:`GpuReading` or None: one GPU by NVML index.
- :class:`SpillDetector`: utilisation below 30 % while VRAM is above 95 % full for 30 s,
  the sign that VRAM is spilling into shared system memory; :data:`SPILL_ADVICE` says
  what to do about it.
"""

from i2v.gpu.nvml import GpuReading, NvmlStatus, nvml_status, read_gpu, read_gpus
from i2v.gpu.spill import SPILL_ADVICE, SpillDetector

__all__ = [
    "SPILL_ADVICE",
    "GpuReading",
    "NvmlStatus",
    "SpillDetector",
    "nvml_status",
    "read_gpu",
    "read_gpus",
]
