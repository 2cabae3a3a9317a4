"""GPU memory plans: how much of a pipeline lives on the GPU, chosen from free VRAM.

From fastest to leanest (diffusers docs, "Reduce memory usage"):

- ``none``: everything on the GPU.
- ``model_offload``: each whole model moves to the GPU only while it runs.
- ``group_offload``: groups of layers stream in on a CUDA side stream while the previous
  group computes, so transfers overlap compute; near ``none`` speed at a fraction of VRAM.
- ``sequential_offload``: one layer at a time; least VRAM, slowest.

VAE tiling and slicing are always on: they cost little and decode is where a
long 720p clip spikes. Torch is imported lazily by the callers.
"""

from __future__ import annotations

import logging
from typing import Any

from i2v.engine.presets import Preset

log = logging.getLogger(__name__)

PLANS = ("none", "model_offload", "group_offload", "sequential_offload")
#: Keep this share of free VRAM spare for the CUDA context, cuDNN workspaces and fragmentation.
HEADROOM = 0.9


def choose_plan(
    preset: Preset, free_gb: float, size: tuple[int, int], frames: int, override: str = "auto"
) -> str:
    """Return the fastest plan whose estimated peak fits in ``free_gb``; ``override`` wins."""
    if override != "auto":
        if override not in PLANS:
            raise ValueError(f"unknown memory plan {override!r}; choose one of {', '.join(PLANS)}")
        return override
    for plan in PLANS:
        if preset.vram_needed_gb(plan, size[0], size[1], frames) <= free_gb * HEADROOM:
            return plan
    return "sequential_offload"


def fits(preset: Preset, plan: str, free_gb: float, size: tuple[int, int], frames: int) -> bool:
    """True when the job's estimated peak under ``plan`` fits in ``free_gb``."""
    return preset.vram_needed_gb(plan, size[0], size[1], frames) <= free_gb * HEADROOM


def apply_plan(pipe: Any, plan: str, device: str) -> None:
    """Place the pipeline's weights according to ``plan`` and turn on VAE tiling/slicing."""
    if device == "cpu" or plan == "none":
        pipe.to(device)
    elif plan == "model_offload":
        pipe.enable_model_cpu_offload(device=device)
    elif plan == "group_offload":
        import torch

        # Streams overlap the next group's upload with the current group's compute;
        # leaf level with streams is what the diffusers docs recommend for speed.
        pipe.enable_group_offload(
            onload_device=torch.device(device),
            offload_device=torch.device("cpu"),
            offload_type="leaf_level",
            use_stream=True,
        )
    elif plan == "sequential_offload":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        raise ValueError(f"unknown memory plan {plan!r}")
    vae = getattr(pipe, "vae", None)
    # SVD's temporal-decoder VAE has neither; it decodes in chunks instead.
    for switch in ("enable_tiling", "enable_slicing"):
        if vae is not None and hasattr(vae, switch) and device != "cpu":
            getattr(vae, switch)()


def free_vram_gb(device: str) -> float:
    """Free memory on a CUDA device in GB (0 on the CPU)."""
    if not device.startswith("cuda"):
        return 0.0
    import torch

    free, _total = torch.cuda.mem_get_info(torch.device(device))
    return float(free) / 1e9


def cap_process_memory(fraction: float, device: str) -> None:
    """Limit this process to ``fraction`` of the GPU so a too-big job fails as a clean OOM.

    Without the cap, the Windows driver spills into shared system memory and the
    job crawls at a tenth of its speed instead of failing; 0 turns the cap off.
    """
    if fraction <= 0 or not device.startswith("cuda"):
        return
    import torch

    torch.cuda.set_per_process_memory_fraction(fraction, torch.device(device))
    log.info("GPU memory capped at %.0f%% of %s", fraction * 100, device)
