"""Which queued jobs a worker may claim: those its engine and model can make, or one job only.

A job that names no engine or model fits every worker. A job that names a model
waits for a worker serving that model, under any of the model's names: a preset
(``ltx-video``) and its Hugging Face repo id (``Lightricks/LTX-Video``) are the
same weights. The Ken Burns engine has no model and takes any job sent to it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from i2v.config import Settings
from i2v.engine.presets import PRESETS
from i2v.worker.events import Ready


@dataclass(frozen=True)
class ClaimFilter:
    """The arguments of ``store.claim`` that keep a worker to jobs it can run."""

    #: Engines it runs (None: any).
    engines: list[str] | None = None
    #: Names of the model it serves (None: any; jobs naming no model always fit).
    models: list[str] | None = None
    #: The one job it serves (``i2v generate``), or None for the whole queue.
    job_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The shape the worker registry keeps, so front ends can tell who serves a job."""
        return dataclasses.asdict(self)


def model_names(model: str) -> list[str]:
    """Every name a job may give this model: itself, plus its preset's name and repo id."""
    for preset in PRESETS.values():
        if model in (preset.name, preset.repo_id):
            return sorted({model, preset.name, preset.repo_id})
    # A folder or another repo id: a fine-tune of a preset is not the preset.
    return [model]


def claim_filter(settings: Settings, ready: Ready | None, job_id: str | None) -> ClaimFilter:
    """What to claim: by the loaded engine and model, or before loading by the settings."""
    if ready is not None:
        models = model_names(ready.model) if ready.model else None
        return ClaimFilter([ready.engine], models, job_id)
    # While the model loads, take only jobs the settings say it will serve; "auto" may
    # still become either engine, and the Ken Burns engine has no model to match.
    engines: list[str] | None = None if settings.engine == "auto" else [settings.engine]
    models = None if settings.engine == "kenburns" else model_names(settings.model)
    return ClaimFilter(engines, models, job_id)
