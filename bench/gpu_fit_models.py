"""Full-size pipelines with random weights, built from the real models' configs (no download).

The configs are data: ``model_configs/full.json`` holds, per model, the
``config.json`` values of its transformer, VAE, text encoder and scheduler as the
diffusers-format repos publish them (each with a ``_source``); ``model_configs/tiny.json``
changes a few keys so ``--tiny`` builds the same classes small enough for a CPU.
Only shapes matter for memory and speed, so the tokenizer is a tiny one trained in
memory: prompts still pad to the model's full sequence length.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path
from typing import Any

CONFIGS = Path(__file__).parent / "model_configs"
TESTS = Path(__file__).parent.parent / "tests"
COMPONENTS = ("transformer", "vae", "text_encoder", "scheduler")


def model_spec(name: str, tiny: bool) -> dict[str, Any]:
    """The model's configs (with the tiny changes when ``tiny``), size and frames."""
    models = json.loads((CONFIGS / "full.json").read_text())
    if name not in models:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(models))}")
    spec: dict[str, Any] = json.loads(json.dumps(models[name]))
    if tiny:
        changes = json.loads((CONFIGS / "tiny.json").read_text())[name]
        for key, value in changes.items():
            if key in COMPONENTS:
                spec[key].update(value)
            else:
                spec[key] = value
    return spec


def _params(config: dict[str, Any], accepts: Any = None) -> dict[str, Any]:
    """Constructor arguments: the config without its ``_`` bookkeeping keys.

    With ``accepts`` (a class), keys its ``__init__`` does not take are left out: a
    newer config may carry a flag (``clip_output``) an older diffusers lacks; none of
    them changes a shape.
    """
    params = {k: v for k, v in config.items() if not k.startswith("_")}
    if accepts is not None:
        known = inspect.signature(accepts.__init__).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in known.values()):
            params = {k: v for k, v in params.items() if k in known}
    return params


def _model(library: Any, config: dict[str, Any]) -> Any:
    """An instance of the config's ``_class_name`` from ``library``, random weights."""
    cls = getattr(library, config["_class_name"])
    return cls(**_params(config, cls))


def build_pipeline(spec: dict[str, Any], dtype: Any) -> Any:
    """The pipeline ``spec`` describes, every weight random, in ``dtype`` (Wan's VAE in float32).

    Weights are created on the CPU; the memory plan then places them.
    """
    import diffusers
    import torch
    import transformers

    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    from tiny_pipelines import tiny_t5

    def build(make: Any, config: dict[str, Any], as_dtype: Any) -> Any:
        previous = torch.get_default_dtype()
        # Created directly in the target dtype: a float32 T5-XXL alone would need 19 GB of RAM.
        torch.set_default_dtype(as_dtype)
        try:
            return make(config)
        finally:
            torch.set_default_dtype(previous)

    transformer_config = spec["transformer"]
    transformer = build(lambda c: _model(diffusers, c), transformer_config, dtype)
    vae_config = spec["vae"]
    # The Wan VAE decodes in float32, as the diffusers Wan docs recommend and the engine loads it.
    vae_dtype = torch.float32 if vae_config["_class_name"] == "AutoencoderKLWan" else dtype
    vae = build(lambda c: _model(diffusers, c), vae_config, vae_dtype)
    encoder_config = spec["text_encoder"]
    config_class = {"T5EncoderModel": "T5Config", "UMT5EncoderModel": "UMT5Config"}[
        encoder_config["_class_name"]
    ]
    text_encoder = build(
        lambda c: getattr(transformers, c["_class_name"])(
            getattr(transformers, config_class)(**_params(c))
        ),
        encoder_config,
        dtype,
    )
    text_encoder.eval()
    scheduler_config = spec["scheduler"]
    scheduler = _model(diffusers, scheduler_config)
    _, tokenizer = tiny_t5()
    pipeline_class = getattr(diffusers, spec["pipeline"])
    extra = dict(spec.get("pipeline_kwargs", {}))
    if spec["pipeline"].startswith("Wan"):
        extra.update(transformer_2=None, image_encoder=None, image_processor=None)
        extra.setdefault("boundary_ratio", None)
    pipe = pipeline_class(
        transformer=transformer,
        vae=vae,
        scheduler=scheduler,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        **extra,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def weights_gb(pipe: Any) -> dict[str, float]:
    """Each model's weights in GB, as built (before any fp8 storage)."""
    import torch

    sizes = {}
    for name, component in pipe.components.items():
        if isinstance(component, torch.nn.Module):
            total = sum(p.numel() * p.element_size() for p in component.parameters())
            sizes[name] = round(total / 1e9, 2)
    return sizes
