"""The memory plan a worker would pick on each GPU: does it fit the VRAM, and its weights the RAM?

The plan is chosen by the engine's own pure :func:`i2v.engine.plans.choose_plan`,
from the readings a worker takes at start (free VRAM, the per-process cap, free
RAM, the card's compute capability), so the doctor names the plan a worker will use.

Offload plans keep weights in system RAM; group offload with CUDA streams pins
(page-locks) a copy of every offloaded weight, about 14 GB for LTX-Video with its
T5 text encoder. Pinned pages cannot be swapped out, so on a 16 GB laptop such a
plan would make the machine swap everything else or kill the worker.
"""

from __future__ import annotations

import dataclasses

from i2v.config import Settings
from i2v.doctor.findings import Finding, Status
from i2v.doctor.models import ModelWeights
from i2v.engine.plans import Budget, Choice, choose_plan, process_cap_gb
from i2v.engine.presets import DISTILLED_UP_TO_GB, PRESETS, Preset
from i2v.gpu import GpuReading

NAME = "host ram"
VRAM = "vram"
#: With no RAM reading, the VRAM verdict assumes RAM is plentiful (the RAM check warns).
_UNKNOWN_RAM_GB = 1e6
#: The photo the check plans for: a landscape 16:9 shot, the usual worst case.
REFERENCE_PHOTO = (1920, 1080)
#: Bytes per MiB, as NVML reports memory; plans count GB of 1e9 bytes, as torch does.
_MIB = 1024 * 1024


def preset_on_card(preset: Preset, model: str, total_gb: float) -> Preset:
    """The preset a worker really loads on this card: ``ltx-video`` above 16 GB is the 50-step one."""
    if model != "ltx-video" or total_gb <= DISTILLED_UP_TO_GB:
        return preset
    return dataclasses.replace(PRESETS["ltx-video-quality"], name=model)


def plan_for(
    settings: Settings,
    preset: Preset,
    gpu: GpuReading,
    free_ram_gb: float,
    capability: tuple[int, int] | None,
) -> Choice:
    """The plan a worker on ``gpu`` would choose for the default job, as it would choose it."""
    total_gb = gpu.memory_total_mb * _MIB / 1e9
    free_gb = max(0.0, gpu.memory_total_mb - gpu.memory_used_mb) * _MIB / 1e9
    preset = preset_on_card(preset, settings.model, total_gb)
    budget = Budget(
        free_vram_gb=free_gb,
        cap_gb=process_cap_gb(total_gb, free_gb, settings.gpu_memory_fraction),
        free_ram_gb=free_ram_gb,
        # Without a reading (no CUDA PyTorch yet) assume Ampere or newer, as most cards are.
        capability=capability or (8, 0),
    )
    size, _ = preset.size_for(REFERENCE_PHOTO, settings.resolution.short_side)
    frames = preset.frames_for(settings.duration_seconds, settings.fps or preset.fps)
    return choose_plan(preset, size, frames, budget, settings.memory_plan)


def check_host_ram(
    settings: Settings,
    gpus: list[GpuReading],
    weights: ModelWeights | None,
    free_ram_gb: float | None,
    capabilities: tuple[tuple[int, int], ...] = (),
) -> Finding:
    """The chosen plan's weights in host RAM, pinned ones counted, fit in the RAM that is free."""
    if settings.engine == "kenburns" or not gpus:
        return Finding(NAME, Status.PASS, "not checked: no model runs on a GPU here")
    preset = weights.preset if weights else None
    if preset is None:
        return Finding(NAME, Status.WARN, f"cannot estimate the RAM {settings.model!r} needs")
    if free_ram_gb is None:
        return Finding(
            NAME,
            Status.WARN,
            "cannot read how much RAM is free on this system",
            "check by hand that free RAM exceeds the model's weights (see the README)",
        )
    findings = []
    for gpu in gpus:
        choice = plan_for(settings, preset, gpu, free_ram_gb, _capability(gpu, capabilities))
        findings.append(_verdict(settings, preset.name, gpu, choice, free_ram_gb))
    # One worker per GPU, each with its own copies: the worst one decides.
    return max(findings, key=_rank)


def check_vram(
    settings: Settings,
    gpus: list[GpuReading],
    weights: ModelWeights | None,
    free_ram_gb: float | None = None,
    capabilities: tuple[tuple[int, int], ...] = (),
) -> Finding:
    """The chosen model at the default resolution and duration fits each GPU under its plan."""
    if settings.engine == "kenburns":
        return Finding(VRAM, Status.PASS, "not needed with I2V_ENGINE=kenburns")
    if not gpus and settings.engine == "auto":
        return Finding(VRAM, Status.PASS, "not checked: no NVIDIA GPU, so kenburns is used")
    if not gpus:
        return Finding(
            VRAM,
            Status.FAIL,
            "I2V_ENGINE=diffusers, but there is no NVIDIA GPU for the AI model",
            "run workers on a machine with an NVIDIA GPU, or set I2V_ENGINE=auto",
        )
    preset = weights.preset if weights else None
    if preset is None:
        return Finding(
            VRAM, Status.WARN, f"cannot estimate the VRAM {settings.model!r} needs (unknown model)"
        )
    ram = _UNKNOWN_RAM_GB if free_ram_gb is None else free_ram_gb
    findings = []
    for gpu in gpus:
        choice = plan_for(settings, preset, gpu, ram, _capability(gpu, capabilities))
        findings.append(_fits(settings, preset.name, gpu, choice))
    # Each GPU runs its own worker, so the smallest card decides.
    return max(findings, key=_rank)


def _fits(settings: Settings, model: str, gpu: GpuReading, choice: Choice) -> Finding:
    total_gb = gpu.memory_total_mb * _MIB / 1e9
    free_gb = max(0.0, gpu.memory_total_mb - gpu.memory_used_mb) * _MIB / 1e9
    usable = Budget(free_gb, process_cap_gb(total_gb, free_gb, settings.gpu_memory_fraction), 0.0)
    usable_gb = usable.usable_gb
    need = choice.estimate.peak_vram_gb
    card = f"GPU {gpu.index} ({gpu.name}, {total_gb:.1f} GB)"
    job = f"{model} at {settings.resolution.value} x {settings.duration_seconds:g} s"
    lighter = "choose a lower resolution (I2V_RESOLUTION=480p) or a shorter video"
    forced = settings.memory_plan != "auto"
    plan = (
        f"I2V_MEMORY_PLAN={settings.memory_plan} ({choice.plan.name})"
        if forced
        else (f"memory plan {choice.plan.name}")
    )
    if not choice.fits_vram:
        fix = (
            "set I2V_MEMORY_PLAN=auto so i2v picks a plan that fits, or " + lighter
            if forced
            else lighter + ", or use a GPU with more memory"
        )
        return Finding(
            VRAM,
            Status.FAIL,
            f"{card}: {job} needs about {need:.1f} GB with {plan}; "
            f"about {usable_gb:.1f} GB is usable",
            fix,
        )
    summary = f"{card}: {job} fits with {plan} (about {need:.1f} of {usable_gb:.1f} GB usable)"
    if choice.plan.placement == "sequential":
        return Finding(
            VRAM,
            Status.WARN,
            summary + "; it streams one layer at a time, which is slow",
            lighter + " for faster videos",
        )
    return Finding(VRAM, Status.PASS, summary)


def _capability(
    gpu: GpuReading, capabilities: tuple[tuple[int, int], ...]
) -> tuple[int, int] | None:
    return capabilities[gpu.index] if gpu.index < len(capabilities) else None


def _rank(finding: Finding) -> int:
    return [Status.PASS, Status.WARN, Status.FAIL].index(finding.status)


def _verdict(
    settings: Settings, model: str, gpu: GpuReading, choice: Choice, free_gb: float
) -> Finding:
    plan = choice.plan.name
    held, pinned = choice.estimate.host_ram_gb, choice.estimate.pinned_ram_gb
    job = f"{model} at {settings.resolution.value} x {settings.duration_seconds:g} s"
    kept = f"keeps about {held:.1f} GB of weights in RAM"
    if pinned:
        kept += f", {pinned:.1f} GB of it pinned (page-locked for CUDA streams)"
    summary = f"GPU {gpu.index}: memory plan {plan} for {job} {kept}; {free_gb:.1f} GB is free"
    if choice.fits_ram:
        return Finding(NAME, Status.PASS, summary)
    if settings.memory_plan != "auto":
        fix = (
            "set I2V_MEMORY_PLAN=auto so i2v picks a plan that fits this RAM "
            "(group offload pins a copy of every offloaded weight; model offload pins none), "
            "or close programs to free RAM"
        )
    else:
        fix = (
            "close programs to free RAM, or add RAM: this is already the plan that needs the "
            "least of it on this card; a lower I2V_RESOLUTION lets a leaner plan fit the GPU"
        )
    return Finding(
        NAME,
        Status.WARN,
        summary + ": not enough, so the system will page to disk or stop the worker",
        fix,
    )
