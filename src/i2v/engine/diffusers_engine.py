"""The diffusers engine: a warm image-to-video pipeline on the GPU (or CPU, for tests).

``setup()`` loads the pipeline once and places it by memory plan; ``generate()``
runs the denoising steps with progress and cancel riding ``callback_on_step_end``,
then decodes the latents as a stage of its own. Torch and diffusers are imported
inside the methods, so importing this module costs nothing on a bot host.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from i2v.config import VideoConfig
from i2v.engine import families, loading, memory, plans
from i2v.engine.base import Frames, ProgressSink, RenderPlan
from i2v.engine.imageprep import fit_to, photo_size, prepare_photo, snap
from i2v.engine.plans import LEGACY, MemoryPlan
from i2v.engine.presets import Preset
from i2v.engine.prompts import PromptCache
from i2v.errors import Canceled, EngineError, ErrorCode
from i2v.jobs import JobSpec, Stage

log = logging.getLogger(__name__)


class DiffusersEngine:
    """Image-to-video with a diffusers pipeline; implements :class:`i2v.engine.base.Engine`."""

    name = "diffusers"

    def __init__(
        self,
        model: str = "ltx-video",
        *,
        video: VideoConfig | None = None,
        memory_plan: str = "auto",
        gpu_memory_fraction: float = 0.95,
        device: str | None = None,
    ) -> None:
        self.model = model
        self.video = video or VideoConfig()
        self.requested_plan = memory_plan
        self.gpu_memory_fraction = gpu_memory_fraction
        self.device = device
        self.source = loading.resolve_model(model)
        self.preset: Preset = self.source.preset
        self.memory_plan = "none"
        self._pipe: Any = None
        self.prompts: PromptCache | None = None

    def setup(self, progress: ProgressSink) -> None:
        """Load the weights, pick a memory plan and place the pipeline; once per process."""
        try:
            import torch
        except ImportError:
            raise EngineError(
                ErrorCode.MODEL_LOAD_FAILED,
                "The diffusers engine needs PyTorch and diffusers, which are not installed. "
                "Install PyTorch for your GPU, then run `pip install 'i2v[diffusion]'`; or set "
                "I2V_ENGINE=kenburns.",
            ) from None
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.device = device
        plan = self._choose_plan(device)
        loading.check_disk(self.source)
        progress.load_progress(0.05)
        pipe = loading.load_pipeline(self.source, self._dtype(torch, device))
        progress.load_progress(0.8)
        memory.apply_plan(pipe, plan, device)
        pipe.set_progress_bar_config(disable=True)
        self.preset = families.refine_preset(self.preset, pipe)
        self._pipe = pipe
        self.prompts = PromptCache(self.preset, pipe)
        # The fixed negative prompt and the empty prompt are encoded once per model load.
        self.prompts.warm()
        log.info("loaded %s on %s with memory plan %s", self.model, device, self.memory_plan)
        progress.load_progress(1.0)

    def _choose_plan(self, device: str) -> MemoryPlan:
        """Measure the card, cap this process, and pick the plan for the configured job."""
        if device == "cpu":
            # Offloading to the CPU from the CPU means nothing; an explicit plan still sets
            # weight storage and VAE mode (the tests use that), else plain bf16-less "none".
            if self.requested_plan in ("auto", *LEGACY):
                self.memory_plan = "none"
                return MemoryPlan("bf16", "all", "full")
            self.memory_plan = self.requested_plan
            return MemoryPlan.parse(self.requested_plan)
        budget, total_gb = memory.measure(device, self.gpu_memory_fraction)
        self.source = loading.for_card(self.source, self.model, total_gb)
        self.preset = self.source.preset
        memory.cap_process_memory(budget, total_gb, device, self.gpu_memory_fraction)
        size, frames = self._reference_job()
        choice = plans.choose_plan(self.preset, size, frames, budget, self.requested_plan)
        if not choice.fits_vram:
            raise EngineError(
                ErrorCode.MODEL_LOAD_FAILED,
                f"{self.preset.name} needs at least {choice.estimate.peak_vram_gb:.1f} GB of GPU "
                f"memory for {size[0]}x{size[1]}, {frames} frames, and {budget.usable_gb:.1f} GB "
                "is usable. Close other GPU programs, lower I2V_RESOLUTION or I2V_DURATION, or "
                "set I2V_ENGINE=kenburns.",
            )
        if not choice.fits_ram:
            log.warning(
                "memory plan %s keeps %.1f GB of weights in RAM and %.1f GB is free: expect "
                "swapping; close other programs or add RAM",
                choice.plan.name,
                choice.estimate.host_ram_gb,
                budget.free_ram_gb,
            )
        self.memory_plan = choice.plan.name
        return choice.plan

    def _dtype(self, torch: Any, device: str) -> Any:
        if device == "cpu":
            return torch.float32  # bf16/fp16 kernels on the CPU are slow or missing.
        if self.preset.bf16 and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float16

    def _reference_job(self) -> tuple[tuple[int, int], int]:
        """The configured default job, which the memory plan is chosen for."""
        rendered, _ = self.preset.size_for((16, 9), self.video.resolution.short_side)
        fps = self.video.fps or self.preset.fps
        return rendered, self.preset.frames_for(self.video.duration_seconds, fps)

    def plan(self, spec: JobSpec, photo_size: tuple[int, int]) -> RenderPlan:
        """The size, frames and steps this spec gets with this model."""
        preset = self.preset
        fps = spec.fps or self.video.fps or preset.fps
        duration = spec.duration_seconds or self.video.duration_seconds
        frames = preset.frames_for(duration, fps)
        steps = spec.steps or self.video.steps or preset.steps
        if preset.timesteps is not None and not (spec.steps or self.video.steps):
            steps = len(preset.timesteps)
        if preset.fixed_size is not None and spec.width is not None:
            # A fixed-size model cannot honour an explicit size; it renders its own.
            rendered, wanted = preset.size_for(photo_size, min(preset.fixed_size))
        elif spec.width is not None and spec.height is not None:
            rendered = (snap(spec.width, preset.grid), snap(spec.height, preset.grid))
            wanted = None
        else:
            resolution = spec.resolution or self.video.resolution
            rendered, wanted = preset.size_for(photo_size, resolution.short_side)
        final = wanted or rendered
        return RenderPlan(
            width=final[0],
            height=final[1],
            frames=frames,
            fps=fps,
            steps=steps,
            memory_plan=self.memory_plan,
            upscaled_from=rendered if wanted else None,
        )

    def generate(self, spec: JobSpec, photo: bytes, progress: ProgressSink) -> Frames:
        """Run the steps, then decode; raise Canceled, or EngineError(OUT_OF_MEMORY)."""
        if self._pipe is None:
            raise EngineError(ErrorCode.INTERNAL, "generate() called before setup()")
        import torch

        progress.stage(Stage.PREPROCESSING)
        plan = self.plan(spec, photo_size(photo, self.video))
        rendered = plan.upscaled_from or (plan.width, plan.height)
        image = Image.fromarray(prepare_photo(photo, rendered, self.video))
        pipe = self._pipe

        def on_step_end(
            _pipe: Any, index: int, _t: Any, _tensors: dict[str, Any]
        ) -> dict[str, Any]:
            total = int(getattr(_pipe, "_num_timesteps", 0) or plan.steps)
            # Raising here is the one cancel every pipeline honours: SVD ignores _interrupt.
            if progress.step(index + 1, total):
                raise Canceled("canceled during denoising steps")
            return {}

        arguments = families.call_arguments(
            self.preset, pipe, rendered, plan.frames, plan.fps, plan.steps
        )
        generator = torch.Generator(device="cpu").manual_seed(spec.seed or 0)
        progress.stage(Stage.GENERATING)
        if self.prompts is not None:
            arguments.update(self.prompts.arguments(spec.prompt or ""))
        try:
            with self._out_of_memory_as_error(plan):
                output = pipe(
                    image=image, generator=generator, callback_on_step_end=on_step_end, **arguments
                )
                # SVD returns the bare tensor when return_dict=False; the others a tuple.
                latents = output[0] if isinstance(output, tuple | list) else output
            progress.stage(Stage.DECODING)
            with self._out_of_memory_as_error(plan):
                video = families.decode(
                    self.preset, pipe, latents, rendered, plan.frames, generator
                )
                pixels = families.to_uint8_frames(video)
        finally:
            # Offload hooks leave the last model on the GPU; a canceled run leaves more.
            pipe.maybe_free_model_hooks()
        notes = self._notes(spec, plan)
        if plan.upscaled_from is not None:
            pixels = upscale(pixels, (plan.width, plan.height))
        return Frames(pixels=pixels, fps=plan.fps, notes=notes)

    def _out_of_memory_as_error(self, plan: RenderPlan) -> _OutOfMemoryGuard:
        return _OutOfMemoryGuard(self, plan)

    def _notes(self, spec: JobSpec, plan: RenderPlan) -> tuple[str, ...]:
        notes = []
        if plan.upscaled_from is not None:
            w, h = plan.upscaled_from
            notes.append(
                f"{self.preset.name} renders at most {min(w, h)}p; the video was generated at "
                f"{w}x{h} and upscaled to {plan.width}x{plan.height}."
            )
        asked = spec.duration_seconds or self.video.duration_seconds
        length = plan.frames / plan.fps
        if abs(length - asked) > 0.5:
            notes.append(f"{self.preset.name} makes {plan.frames} frames: {length:.1f} s long.")
        return tuple(notes)


class _OutOfMemoryGuard:
    """Turn CUDA out-of-memory into an EngineError with advice, and free the cache."""

    def __init__(self, engine: DiffusersEngine, plan: RenderPlan) -> None:
        self.engine, self.plan = engine, plan

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        if exc is None:
            return
        import torch

        out_of_memory = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
        if not isinstance(exc, out_of_memory):
            return
        torch.cuda.empty_cache()
        lighter = {
            "all": "model_offload",
            "dit": "model_offload",
            "model": "group_offload",
            "group": "sequential_offload",
            "grouplow": "sequential_offload",
        }.get(self.engine.memory_plan.split("-")[1] if "-" in self.engine.memory_plan else "")
        advice = f"set I2V_MEMORY_PLAN={lighter}, or " if lighter else ""
        raise EngineError(
            ErrorCode.OUT_OF_MEMORY,
            f"The GPU ran out of memory making {self.plan.width}x{self.plan.height}, "
            f"{self.plan.frames} frames with memory plan {self.engine.memory_plan}. Choose a "
            f"lower resolution or a shorter duration, {advice}raise I2V_GPU_MEMORY_FRACTION.",
        ) from exc


def upscale(pixels: npt.NDArray[np.uint8], size: tuple[int, int]) -> npt.NDArray[np.uint8]:
    """Scale every frame up to cover ``size`` (w, h) with Lanczos, cropping the centre.

    Grid snapping can leave the rendered aspect a hair off the requested one; cover
    and crop keeps circles round where a plain resize would stretch them.
    """
    out = np.empty((len(pixels), size[1], size[0], 3), np.uint8)
    for index, frame in enumerate(pixels):
        out[index] = np.asarray(fit_to(Image.fromarray(frame), size))
    return out
