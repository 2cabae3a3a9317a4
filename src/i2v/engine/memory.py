"""Measuring the machine and placing a loaded pipeline by a memory plan (see :mod:`plans`).

:func:`measure` reads free VRAM, the card's total and compute capability, and free
host RAM once at start; :func:`apply_plan` stores, places and sets up the VAE of a
loaded pipeline as a :class:`~i2v.engine.plans.MemoryPlan` says. Torch is imported
inside the functions.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from i2v.engine.plans import (
    FRAMEWISE_FRAMES,
    HEADROOM,
    LEGACY,
    TILE_PIXELS,
    Budget,
    MemoryPlan,
    process_cap_gb,
)
from i2v.gpu.hostram import free_ram_gb

log = logging.getLogger(__name__)

__all__ = [
    "API_SINCE",
    "HEADROOM",
    "PLANS",
    "apply_plan",
    "cap_process_memory",
    "free_ram_gb",
    "measure",
    "to_plan",
]

#: The names I2V_MEMORY_PLAN takes (each a placement; the VAE mode and storage are chosen).
PLANS = tuple(LEGACY)

#: The oldest diffusers release with each API the engine calls; pyproject's floor covers them all.
API_SINCE = {
    "FromSingleFileMixin for LTXVideoTransformer3DModel and AutoencoderKLLTXVideo": "0.32",
    "LTXConditionPipeline": "0.33",
    "ModelMixin.enable_layerwise_casting": "0.33",
    "hooks.group_offloading.apply_group_offloading": "0.33",
    "apply_group_offloading(low_cpu_mem_usage=...)": "0.34",
    "WanImageToVideoPipeline(expand_timesteps=...) for Wan 2.2 TI2V-5B": "0.35",
    "DiffusionPipeline.enable_group_offload(exclude_modules=...)": "0.36",
}

#: Components that only run once per new prompt (or photo): streamed under the ``dit`` placement.
ENCODERS = ("text_encoder", "text_encoder_2", "image_encoder")
#: Components that denoise: the ones fp8 storage applies to.
DENOISERS = ("transformer", "transformer_2", "unet")


def to_plan(plan: MemoryPlan | str, vae: str = "tiled") -> MemoryPlan:
    """A plan from a plan, a plan name, or a legacy name (with the VAE mode ``vae``)."""
    if isinstance(plan, MemoryPlan):
        return plan
    if plan in LEGACY:
        weights, placement = LEGACY[plan]
        return MemoryPlan(weights, placement, vae)
    return MemoryPlan.parse(plan)


def apply_plan(pipe: Any, plan: MemoryPlan | str, device: str) -> None:
    """Store, place and set up the VAE of ``pipe`` as ``plan`` says.

    On the CPU every model simply stays there; weight storage and VAE mode still
    apply, so the tiny-model tests exercise them.
    """
    import torch

    plan = to_plan(plan)
    if plan.weights == "fp8":
        compute = torch.float32 if device == "cpu" else torch.bfloat16
        for name in DENOISERS:
            model = getattr(pipe, name, None)
            if model is not None:
                # Storage only: each layer is upcast to ``compute`` for its forward pass.
                model.enable_layerwise_casting(
                    storage_dtype=torch.float8_e4m3fn, compute_dtype=compute
                )
    if device == "cpu":
        pipe.to("cpu")
    else:
        _place(pipe, plan.placement, device)
    set_vae_mode(getattr(pipe, "vae", None), plan.vae)


def _place(pipe: Any, placement: str, device: str) -> None:
    import torch

    onload = torch.device(device)
    if placement == "all":
        pipe.to(device)
    elif placement == "dit":
        from diffusers.hooks.group_offloading import apply_group_offloading

        for name, component in pipe.components.items():
            if not isinstance(component, torch.nn.Module):
                continue
            if name in ENCODERS:
                # No stream, so nothing is pinned: it runs once per new prompt.
                apply_group_offloading(
                    component, onload_device=onload, offload_type="leaf_level", use_stream=False
                )
            else:
                component.to(onload)
    elif placement == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif placement in ("group", "grouplow"):
        # Leaf level with streams overlaps the next layer's upload with this one's compute.
        # The VAE stays resident: tiled decoding breaks the stream's recorded layer order.
        pipe.enable_group_offload(
            onload_device=onload,
            offload_device=torch.device("cpu"),
            offload_type="leaf_level",
            use_stream=True,
            low_cpu_mem_usage=placement == "grouplow",
            exclude_modules=["vae"],
        )
        pipe.vae.to(onload)
    elif placement == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        raise ValueError(f"unknown placement {placement!r}")


def set_vae_mode(vae: Any, mode: str) -> None:
    """Turn on tiling (and framewise decoding) where this VAE really supports them.

    Since diffusers 0.36 every autoencoder has ``enable_tiling``, but some (SVD's
    temporal decoder) raise NotImplementedError from it, so the call is the test.
    """
    if vae is None or mode == "full":
        return
    for switch in ("enable_tiling", "enable_slicing"):
        try:
            method = getattr(vae, switch)
            method(**_tile_sizes(method) if switch == "enable_tiling" else {})
        except (NotImplementedError, AttributeError):
            log.info("%s has no %s; it decodes whole frames", type(vae).__name__, switch)
    if mode == "framewise" and hasattr(vae, "use_framewise_decoding"):
        vae.use_framewise_decoding = True


def _tile_sizes(enable_tiling: Any) -> dict[str, int]:
    """The tile the plan estimates were made for, where this VAE lets it be set."""
    wanted = {
        "tile_sample_min_height": TILE_PIXELS,
        "tile_sample_min_width": TILE_PIXELS,
        "tile_sample_min_num_frames": FRAMEWISE_FRAMES,
    }
    accepted = inspect.signature(enable_tiling).parameters
    return {name: value for name, value in wanted.items() if name in accepted}


def measure(device: str, fraction: float) -> tuple[Budget, float]:
    """The budget this process has on ``device`` and the card's total VRAM (GB)."""
    import torch

    index = torch.device(device)
    free, total = torch.cuda.mem_get_info(index)
    free_gb, total_gb = free / 1e9, total / 1e9
    budget = Budget(
        free_vram_gb=free_gb,
        cap_gb=process_cap_gb(total_gb, free_gb, fraction),
        # Unreadable RAM counts as none free: the plan then pins nothing, the safe side.
        free_ram_gb=free_ram_gb() or 0.0,
        capability=tuple(torch.cuda.get_device_capability(index)),  # type: ignore[arg-type]
    )
    return budget, total_gb


def cap_process_memory(budget: Budget, total_gb: float, device: str, fraction: float) -> None:
    """Limit this process to the measured cap so a too-big job fails as a clean OOM.

    Without the cap, the Windows driver spills into shared system memory and the
    job crawls at a tenth of its speed instead of failing; fraction 0 turns it off.
    """
    if fraction <= 0 or not device.startswith("cuda") or total_gb <= 0:
        return
    import torch

    share = max(0.01, min(1.0, budget.cap_gb / total_gb))
    torch.cuda.set_per_process_memory_fraction(share, torch.device(device))
    log.info(
        "GPU memory capped at %.1f GB (%.0f%% of %s; %.1f GB was free)",
        budget.cap_gb,
        share * 100,
        device,
        budget.free_vram_gb,
    )
