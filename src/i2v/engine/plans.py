"""Memory plans: where each part of a pipeline lives, and the pure choice of one for a job.

A plan combines three things, and its short stable name says all three
(``fp8-dit-framewise``): how the denoiser's weights are stored, which models stay
resident on the GPU, and how the VAE decodes.

- weights: ``bf16`` (or fp16 on cards without bf16), or ``fp8``: the denoiser is
  stored in float8_e4m3fn and each layer is upcast to bf16 to compute (diffusers
  ``enable_layerwise_casting``; storage only, so no fp8 compute is needed, but it
  needs bf16 compute, hence cards of compute capability 8.0 and up).
- placement, fastest first:
  ``all`` every model on the GPU;
  ``dit`` the denoiser and VAE on the GPU, the text/image encoder streamed in one
  layer at a time from pageable RAM (it runs once per new prompt, see the prompt cache);
  ``model`` each whole model moves to the GPU while it runs (model CPU offload);
  ``group`` layers stream in on a CUDA side stream from pinned RAM (group offload);
  ``grouplow`` the same, pinning each group only while it moves (less RAM, slower);
  ``sequential`` one layer at a time, nothing pinned; least VRAM, slowest.
- VAE: ``full`` (one pass; SVD, whose temporal decoder cannot tile), ``tiled``
  (spatial tiles) or ``framewise`` (spatial tiles and chunks of frames: LTX's long clips).

:func:`choose_plan` is a pure function of the preset, the job's size and frames and a
:class:`Budget` (free VRAM, the per-process cap, free host RAM and the card's compute
capability), so it is tested as a table. Figures are planning estimates;
``bench/gpu_fit.py`` measures the real peaks.
"""

from __future__ import annotations

from dataclasses import dataclass

from i2v.engine.presets import REFERENCE_VOXELS, Preset

#: Plans are chosen so that their estimated peak stays under this share of the usable VRAM:
#: the rest absorbs allocator fragmentation and cuDNN workspaces.
HEADROOM = 0.9
#: VRAM left to other programs (the desktop, a browser) when the cap is set from free memory.
RESERVE_GB = 0.5
#: Pinned (page-locked) RAM cannot be swapped out; never pin more than this share of free RAM.
PINNED_RAM_SHARE = 0.5
#: Weights kept in pageable RAM may use this share of free RAM; the OS and the worker need the rest.
PAGEABLE_RAM_SHARE = 0.85

WEIGHTS = ("bf16", "fp8")
PLACEMENTS = ("all", "dit", "model", "group", "grouplow", "sequential")
VAE_MODES = ("full", "tiled", "framewise")
#: Candidate (weights, placement) pairs, fastest first.
ORDER = (
    ("bf16", "all"),
    ("bf16", "dit"),
    ("fp8", "dit"),
    ("bf16", "model"),
    ("bf16", "group"),
    ("fp8", "group"),
    ("bf16", "grouplow"),
    ("fp8", "grouplow"),
    ("bf16", "sequential"),
    ("fp8", "sequential"),
)
#: The names I2V_MEMORY_PLAN accepted before plans were combinations.
LEGACY = {
    "none": ("bf16", "all"),
    "model_offload": ("bf16", "model"),
    "group_offload": ("bf16", "group"),
    "sequential_offload": ("bf16", "sequential"),
}
#: What a layer-streaming placement keeps on the GPU at once (the groups in flight).
_STREAMING_GB = {"dit": 0.3, "group": 0.6, "grouplow": 0.6, "sequential": 0.3}
#: Text encoder activations for one prompt.
_ENCODE_GB = 0.3
#: A VAE tile's side in pixels (diffusers' default sample tile for LTX, Wan and CogVideoX).
TILE_PIXELS = 512
#: Frames per chunk when LTX decodes framewise (diffusers' tile_sample_min_num_frames).
FRAMEWISE_FRAMES = 16


@dataclass(frozen=True)
class MemoryPlan:
    """One combination of weight storage, placement and VAE decoding."""

    weights: str
    placement: str
    vae: str

    def __post_init__(self) -> None:
        if self.weights not in WEIGHTS or self.placement not in PLACEMENTS:
            raise ValueError(f"unknown memory plan {self.name!r}")
        if self.vae not in VAE_MODES:
            raise ValueError(f"unknown VAE mode in memory plan {self.name!r}")

    @property
    def name(self) -> str:
        """The short stable name recorded with each job, e.g. ``fp8-dit-framewise``."""
        return f"{self.weights}-{self.placement}-{self.vae}"

    @property
    def uses_streams(self) -> bool:
        """True when offloaded layers move on a CUDA side stream (pinned RAM)."""
        return self.placement in ("group", "grouplow")

    @classmethod
    def parse(cls, name: str) -> MemoryPlan:
        """The plan a name stands for; raise ValueError for a name that is not a plan."""
        parts = name.split("-")
        if len(parts) != 3:
            raise ValueError(f"unknown memory plan {name!r}")
        return cls(*parts)


@dataclass(frozen=True)
class Budget:
    """What the machine offers a worker, measured once at start."""

    #: Free VRAM when measured (GB).
    free_vram_gb: float
    #: The per-process cap (GB): min(fraction x total, free - reserve), see :func:`process_cap_gb`.
    cap_gb: float
    #: Free (available) host RAM (GB).
    free_ram_gb: float
    #: CUDA compute capability, e.g. (8, 9) for Ada.
    capability: tuple[int, int] = (8, 0)

    @property
    def usable_gb(self) -> float:
        """The VRAM a plan's estimated peak must stay under."""
        return min(self.cap_gb, self.free_vram_gb) * HEADROOM

    @property
    def has_bf16(self) -> bool:
        """bf16 compute (and so fp8 storage with bf16 compute) needs Ampere or newer."""
        return self.capability >= (8, 0)


@dataclass(frozen=True)
class Estimate:
    """A plan's estimated peaks for one job."""

    #: Peak VRAM over prompt encoding, denoising and decoding (GB).
    peak_vram_gb: float
    #: Peak VRAM while decoding alone (GB); part of ``peak_vram_gb``.
    decode_vram_gb: float
    #: Weights held in host RAM while jobs run (GB), pinned or not.
    host_ram_gb: float
    #: Of those, page-locked for CUDA streams (GB).
    pinned_ram_gb: float


@dataclass(frozen=True)
class Choice:
    """The chosen plan, its estimate, and what the budget allowed."""

    plan: MemoryPlan
    estimate: Estimate
    #: False when even the leanest plan's VRAM estimate exceeds the cap.
    fits_vram: bool = True
    #: False when the plan's weights need more host RAM than is free (the OS will page).
    fits_ram: bool = True

    @property
    def fits(self) -> bool:
        """True when the plan fits both VRAM and host RAM."""
        return self.fits_vram and self.fits_ram


def process_cap_gb(total_gb: float, free_gb: float, fraction: float) -> float:
    """The per-process VRAM cap: the configured share of the card, but never more than is free.

    ``fraction`` of the total alone would let this process take memory the desktop,
    a browser or another process already holds, and the Windows driver would then
    spill into system RAM; so the cap is also kept ``RESERVE_GB`` under what is free.
    ``fraction`` 0 means no configured cap: only what is free counts.
    """
    by_fraction = total_gb * fraction if fraction > 0 else total_gb
    return max(0.0, min(by_fraction, free_gb - RESERVE_GB))


def estimate(preset: Preset, plan: MemoryPlan, size: tuple[int, int], frames: int) -> Estimate:
    """Estimated peak VRAM and host RAM of one job under ``plan``."""
    sizes = preset.footprint
    denoiser = sizes.denoiser_gb / 2 if plan.weights == "fp8" else sizes.denoiser_gb
    encoder = sizes.text_encoder_gb + sizes.image_encoder_gb
    vae = sizes.vae_gb
    width, height = size
    scale = (width * height * frames) / REFERENCE_VOXELS
    denoise_activations = preset.activation_gb * scale
    decode_activations = decode_gb(preset, plan.vae, size, frames)
    # The decoded clip itself sits on the GPU until it is moved to the CPU in chunks
    # (float32 from Wan's VAE, 16-bit from the others).
    clip_gb = 3 * width * height * frames * (4 if preset.family == "wan" else 2) / 1e9
    streaming = _STREAMING_GB.get(plan.placement, 0.0)
    if plan.placement == "all":
        resident = denoiser + encoder + vae
        phases = (resident + _ENCODE_GB, resident + denoise_activations)
        decode_peak = resident + decode_activations + clip_gb
    elif plan.placement == "dit":
        resident = denoiser + vae + streaming
        phases = (resident + _ENCODE_GB, resident + denoise_activations)
        decode_peak = resident + decode_activations + clip_gb
    elif plan.placement == "model":
        phases = (encoder + _ENCODE_GB, denoiser + denoise_activations)
        decode_peak = vae + decode_activations + clip_gb
    else:
        # Group offload keeps the VAE resident (see memory.apply_plan); sequential streams it too.
        resident = streaming + (vae if plan.uses_streams else 0.0)
        phases = (resident + _ENCODE_GB, resident + denoise_activations)
        decode_peak = resident + decode_activations + clip_gb
    on_gpu = {"all": denoiser + encoder + vae, "dit": denoiser + vae}.get(
        plan.placement, vae if plan.uses_streams else 0.0
    )
    host = max(0.0, denoiser + encoder + vae - on_gpu)
    pinned = host if plan.placement == "group" else (0.6 if plan.placement == "grouplow" else 0.0)
    return Estimate(
        peak_vram_gb=round(max(*phases, decode_peak), 2),
        decode_vram_gb=round(decode_peak, 2),
        host_ram_gb=round(host, 2),
        pinned_ram_gb=round(pinned, 2),
    )


def decode_gb(preset: Preset, mode: str, size: tuple[int, int], frames: int) -> float:
    """VAE activations (GB) for decoding a clip in ``mode``: what one tile x chunk costs."""
    width, height = size
    if mode == "full":
        pixels = width * height
    else:
        pixels = min(width, TILE_PIXELS) * min(height, TILE_PIXELS)
    chunk = preset.footprint.vae_chunk_frames or frames
    if mode == "framewise":
        chunk = min(chunk, FRAMEWISE_FRAMES + 1)
    voxels = pixels * min(frames, chunk)
    return preset.footprint.decode_gb_per_mvoxel * voxels / 1e6


def candidates(preset: Preset, budget: Budget) -> list[MemoryPlan]:
    """Every plan this preset can use on this card, fastest first."""
    plans = []
    for weights, placement in ORDER:
        if weights == "fp8" and not (budget.has_bf16 and preset.fp8):
            continue
        for vae in preset.footprint.vae_modes:
            plans.append(MemoryPlan(weights, placement, vae))
    return plans


def fits_vram(estimated: Estimate, budget: Budget) -> bool:
    """True when the estimated peak stays under the usable VRAM."""
    return estimated.peak_vram_gb <= budget.usable_gb


def fits_ram(estimated: Estimate, budget: Budget) -> bool:
    """True when the weights kept in host RAM (and those pinned) fit in what is free."""
    return (
        estimated.pinned_ram_gb <= budget.free_ram_gb * PINNED_RAM_SHARE
        and estimated.host_ram_gb <= budget.free_ram_gb * PAGEABLE_RAM_SHARE
    )


def choose_plan(
    preset: Preset,
    size: tuple[int, int],
    frames: int,
    budget: Budget,
    override: str = "auto",
) -> Choice:
    """The fastest plan whose estimate fits the budget (pure: no GPU is touched).

    ``override`` is ``auto``, a full plan name, or one of the legacy names
    (``none``, ``model_offload``, ``group_offload``, ``sequential_offload``), for
    which the lightest VAE mode that fits is picked. When no plan fits host RAM,
    the one needing least RAM among those that fit VRAM comes back with
    ``fits_ram=False`` (it runs, but the OS pages);
    when none fits VRAM, the leanest comes back with ``fits_vram=False``.
    """
    plans = candidates(preset, budget)
    if override in LEGACY:
        weights, placement = LEGACY[override]
        plans = [p for p in plans if (p.weights, p.placement) == (weights, placement)]
    elif override != "auto":
        forced = MemoryPlan.parse(override)
        estimated = estimate(preset, forced, size, frames)
        return Choice(forced, estimated, fits_vram(estimated, budget), fits_ram(estimated, budget))
    estimates = [(plan, estimate(preset, plan, size, frames)) for plan in plans]
    in_vram = [(plan, e) for plan, e in estimates if fits_vram(e, budget)]
    for plan, estimated in in_vram:
        if fits_ram(estimated, budget):
            return Choice(plan, estimated)
    if in_vram:
        # Pinned pages cannot be swapped out: never over-pin; otherwise keep the least in RAM.
        plan, estimated = min(
            in_vram,
            key=lambda pair: (
                pair[1].pinned_ram_gb > budget.free_ram_gb * PINNED_RAM_SHARE,
                pair[1].host_ram_gb,
            ),
        )
        return Choice(plan, estimated, fits_ram=False)
    plan, estimated = min(estimates, key=lambda pair: pair[1].peak_vram_gb)
    return Choice(plan, estimated, fits_vram=False, fits_ram=fits_ram(estimated, budget))
