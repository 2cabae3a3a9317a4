"""Choosing and building the engine a worker runs, from the settings."""

from __future__ import annotations

import logging

from i2v.config import Settings, VideoConfig
from i2v.engine.base import Engine
from i2v.engine.kenburns import KenBurnsEngine
from i2v.errors import ConfigError, EngineError

log = logging.getLogger(__name__)


def choose_engine(settings: Settings) -> tuple[str, str]:
    """Return the engine name to run and, for ``auto``, the plain reason for the choice."""
    if settings.engine != "auto":
        return settings.engine, f"I2V_ENGINE={settings.engine}"
    try:
        import torch
    except ImportError:
        return "kenburns", (
            "Using the Ken Burns engine: PyTorch is not installed, so no AI model can run "
            "(install it and `pip install 'i2v[diffusion]'` for AI videos)."
        )
    if not torch.cuda.is_available():
        return "kenburns", (
            "Using the Ken Burns engine: no CUDA GPU was found, and AI video models need one."
        )
    missing = _missing_weights(settings.model)
    if missing:
        return "kenburns", f"Using the Ken Burns engine: {missing}"
    return "diffusers", f"Using {settings.model} on the GPU."


def _missing_weights(model: str) -> str | None:
    """Why the model's weights cannot be used right now, or None when they can."""
    from i2v.engine import loading

    try:
        source = loading.resolve_model(model)
    except EngineError as exc:
        return exc.message
    if source.local:
        return None
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(source.location, "model_index.json"), str):
        return None
    return (
        f"the weights of {source.location} are not downloaded yet. Run "
        f"`huggingface-cli download {source.location}` (about {source.preset.disk_gb:.0f} GB), "
        "then restart the worker."
    )


def build_engine(
    settings: Settings, *, engine: str | None = None, model: str | None = None
) -> Engine:
    """Build (but do not set up) the engine the settings ask for; ``engine``/``model`` override."""
    video = VideoConfig.from_settings(settings)
    name = engine or settings.engine
    if name == "auto":
        name, reason = choose_engine(settings)
        # Said once, when the worker builds its engine, so a CPU-only user knows why the
        # video is a pan and zoom rather than an AI animation.
        log.log(logging.WARNING if name == "kenburns" else logging.INFO, "%s", reason)
    if name == "kenburns":
        return KenBurnsEngine(video)
    if name == "diffusers":
        from i2v.engine.diffusers_engine import DiffusersEngine

        return DiffusersEngine(
            model or settings.model,
            video=video,
            memory_plan=settings.memory_plan,
            gpu_memory_fraction=settings.gpu_memory_fraction,
        )
    raise ConfigError(f"unknown engine {name!r}; choose auto, kenburns or diffusers")
