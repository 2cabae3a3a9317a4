"""One row of the GPU fit benchmark, measured inside its own process (see bench/gpu_fit.py).

The row builds the model, caps VRAM, applies the memory plan with the engine's own
``apply_plan``, runs the denoising steps and the decode the way the engine does,
and reads what it cost. Everything that can fail here fails inside this process,
so the parent only ever sees a row.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from multiprocessing.connection import Connection
from typing import Any

#: GB as the engine's planner counts them (torch reports bytes; the plans divide by 1e9).
GB = 1e9
#: A step that arrives before the first callback includes prompt encoding and warm-up.
WARM_UP_STEPS = 1


def child_main(sender: Connection, job: dict[str, Any]) -> None:
    """The spawned process: measure one row and send it back, every failure included."""
    try:
        row = measure(job)
    except BaseException as exc:  # Every failure is a row, never a lost run.
        row = {"status": failure_status(exc)}
    sender.send(row)
    sender.close()


def failure_status(exc: BaseException) -> str:
    """``oom`` for running out of GPU memory, else ``error: <type>: <first line>``."""
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "OutOfMemoryError" in names or "CUDA out of memory" in text or "ALLOC_FAILED" in text:
        return "oom"
    return f"error: {type(exc).__name__}: {text}" if text else f"error: {type(exc).__name__}"


def describe_device() -> str:
    """The first NVIDIA GPU as NVML names it, or ``cpu``; never creates a CUDA context here."""
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            if pynvml.nvmlDeviceGetCount() == 0:
                return "cpu"
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            name = pynvml.nvmlDeviceGetName(handle)
            name = name.decode() if isinstance(name, bytes) else str(name)
            total = pynvml.nvmlDeviceGetMemoryInfo(handle).total / GB
            return f"{name} ({total:.1f} GB)"
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # No driver, no library: no GPU to measure.
        return "cpu"


def cpu_skip_reason(placement: str, tiny: bool) -> str | None:
    """Why a plan cannot be measured without a GPU (None: it can, on tiny configs)."""
    if not tiny:
        return "full-size models need a CUDA GPU"
    if placement != "all":
        return f"the {placement!r} placement moves weights between host RAM and a CUDA GPU"
    return None


def measure(job: dict[str, Any]) -> dict[str, Any]:
    """Build, place, generate and decode one job under one plan; return what it cost."""
    import torch
    from bench.gpu_fit_models import build_pipeline, model_spec, weights_gb

    from i2v.engine import memory, plans
    from i2v.engine.presets import PRESETS

    plan = plans.MemoryPlan.parse(job["plan"])
    tiny = bool(job["tiny"])
    spec = model_spec(job["model"], tiny)
    cuda = torch.cuda.is_available()
    if not cuda:
        reason = cpu_skip_reason(plan.placement, tiny)
        if reason is not None:
            return {"status": f"skipped: {reason}"}
    device = "cuda" if cuda else "cpu"
    cap_gb = float(job["cap_gb"])
    nvml = NvmlProcess() if cuda else None
    if cuda:
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, cap_gb * GB / total), 0)
    dtype = torch.bfloat16 if cuda else torch.float32
    started = time.perf_counter()
    pipe = build_pipeline(spec, dtype)
    built_s = time.perf_counter() - started
    sizes = weights_gb(pipe)
    memory.apply_plan(pipe, plan, device)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    run = generate(pipe, spec, job, device, nvml)
    # What the engine's planner expects of the full-size job, to compare with what was measured.
    size = (int(spec["size"][0]), int(spec["size"][1]))
    estimate = None if tiny else plans.estimate(PRESETS[spec["preset"]], plan, size, run["frames"])
    row: dict[str, Any] = {
        "status": "ok",
        "estimated_peak_gb": estimate.peak_vram_gb if estimate else None,
        "estimated_pinned_gb": estimate.pinned_ram_gb if estimate else None,
        "width": spec["size"][0],
        "height": spec["size"][1],
        "frames": run["frames"],
        "steps": run["steps"],
        # On the CPU (--tiny) every plan computes in float32, whatever its name says.
        "dtype": str(dtype).removeprefix("torch."),
        "weights_gb": sizes,
        "build_s": round(built_s, 1),
        "s_per_step": run["s_per_step"],
        "decode_s": run["decode_s"],
        "job_s": run["job_s"],
        "full_job_est_s": run["full_job_est_s"],
        "pinned_host_gb": round(pinned_host_bytes(torch) / GB, 2),
    }
    if cuda:
        row["peak_allocated_gb"] = round(torch.cuda.max_memory_allocated() / GB, 2)
        row["peak_reserved_gb"] = round(torch.cuda.max_memory_reserved() / GB, 2)
        assert nvml is not None
        row["nvml_process_gb"] = round(nvml.peak / GB, 2)
        row["nvml_source"] = nvml.source
        # What a card of cap_gb really has to hold: the allocator's peak plus the CUDA context.
        row["under_cap"] = nvml.peak / GB <= cap_gb
    return row


def generate(
    pipe: Any, spec: dict[str, Any], job: dict[str, Any], device: str, nvml: NvmlProcess | None
) -> dict[str, Any]:
    """Denoise and decode like the engine: latents out of the pipeline, then decode on its own."""
    import dataclasses

    import torch
    from PIL import Image

    from i2v.engine import families
    from i2v.engine.presets import PRESETS

    width, height = spec["size"]
    frames = int(spec["frames"])
    steps = int(job["steps"] or spec["steps"])
    preset = families.refine_preset(PRESETS[spec["preset"]], pipe)
    if preset.timesteps:
        # A distilled model's explicit schedule, cut to the steps asked for.
        preset = dataclasses.replace(preset, timesteps=preset.timesteps[:steps])
    stamps: list[float] = []

    def on_step(_pipe: Any, _index: int, _t: Any, _kwargs: dict[str, Any]) -> dict[str, Any]:
        if device == "cuda":
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())
        if nvml is not None:
            nvml.sample()
        return {}

    arguments = families.call_arguments(preset, pipe, (width, height), frames, spec["fps"], steps)
    generator = torch.Generator("cpu").manual_seed(0)
    started = time.perf_counter()
    with torch.inference_mode():
        latents = pipe(
            image=Image.new("RGB", (width, height), (120, 110, 100)),
            prompt="a calm sea under a clear sky",
            generator=generator,
            callback_on_step_end=on_step,
            **arguments,
        )[0]
        decode_started = time.perf_counter()
        video = families.decode(preset, pipe, latents, (width, height), frames, generator)
        pixels = families.to_uint8_frames(video)
        if device == "cuda":
            torch.cuda.synchronize()
    finished = time.perf_counter()
    if nvml is not None:
        nvml.sample()
    gaps = [b - a for a, b in zip([started, *stamps[:-1]], stamps, strict=True)]
    steady = gaps[WARM_UP_STEPS:] or gaps
    per_step = statistics.median(steady) if steady else 0.0
    # With fewer steps than the model's own (--quick, --steps), the same job at full length.
    missing = max(0, int(spec["steps"]) - len(stamps))
    return {
        "frames": int(pixels.shape[0]),
        "steps": len(stamps),
        "s_per_step": round(per_step, 3) if steady else None,
        "decode_s": round(finished - decode_started, 2),
        "job_s": round(finished - started, 2),
        "full_job_est_s": round(finished - started + missing * per_step, 1),
    }


def pinned_host_bytes(torch: Any) -> int:
    """Page-locked host RAM held now: the pinned allocator's count, or pinned tensors found."""
    if not torch.cuda.is_available():
        return 0  # Pinning needs CUDA: nothing can be pinned here.
    counted = 0
    stats = getattr(torch.cuda, "host_memory_stats", None)
    if stats is not None:
        try:
            counted = int(stats().get("allocated_bytes.current", 0))
        except RuntimeError:
            counted = 0
    seen: set[int] = set()
    found = 0
    for obj in gc.get_objects():
        try:
            if isinstance(obj, torch.Tensor) and obj.device.type == "cpu" and obj.is_pinned():
                storage = obj.untyped_storage()
                if storage.data_ptr() not in seen:
                    seen.add(storage.data_ptr())
                    found += storage.nbytes()
        except Exception:  # Some objects cannot be inspected; skip them.
            continue
    return max(counted, found)


class NvmlProcess:
    """GPU memory NVML sees this process use (with the CUDA context), at its highest sample.

    In a container NVML may not list this process's pid; then the device's used
    memory, minus what was used before this process touched CUDA, stands in.
    """

    def __init__(self) -> None:
        import pynvml

        self._nvml = pynvml
        pynvml.nvmlInit()
        self._handle = pynvml.nvmlDeviceGetHandleByIndex(_nvml_index())
        self._baseline = pynvml.nvmlDeviceGetMemoryInfo(self._handle).used
        self.peak = 0
        self.source = "process"

    def sample(self) -> None:
        """Read the process's usage now and keep the highest."""
        pynvml = self._nvml
        used = None
        try:
            for process in pynvml.nvmlDeviceGetComputeRunningProcesses(self._handle):
                if process.pid == os.getpid() and process.usedGpuMemory:
                    used = int(process.usedGpuMemory)
        except pynvml.NVMLError:
            used = None
        if used is None:
            self.source = "device used minus baseline"
            used = int(pynvml.nvmlDeviceGetMemoryInfo(self._handle).used - self._baseline)
        self.peak = max(self.peak, used)


def _nvml_index() -> int:
    """NVML's index of the GPU torch calls 0 (CUDA_VISIBLE_DEVICES may name another)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    return int(visible) if visible.isdigit() else 0
