"""The real Ken Burns engine, slowed down, for bot tests that must watch a job while it runs.

The worker builds it in its child process from ``bot_engines:slow_kenburns``
(``I2V_ENGINE_FACTORY``). It renders exactly what the real engine renders; only
each step takes ``step_seconds`` longer, the way a diffusion step on a GPU does,
and, like such a step, it cannot be interrupted: a cancel lands after it. The
delay comes from ``slow.json`` in the worker's data folder (:func:`slow_down`),
because the factory gets nothing but the settings.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from i2v.config import Settings
from i2v.engine.base import Engine, Frames, ProgressSink, RenderPlan
from i2v.engine.factory import build_engine
from i2v.jobs import JobSpec, Stage

CONFIG = "slow.json"


def slow_down(data_dir: Path, step_seconds: float) -> None:
    """Make every step of the engines built with ``data_dir`` take ``step_seconds`` more."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / CONFIG).write_text(json.dumps({"step_seconds": step_seconds}))


class _SlowSteps:
    """A progress sink that holds each step for ``step_seconds`` before passing it on."""

    def __init__(self, sink: ProgressSink, step_seconds: float) -> None:
        self.sink = sink
        self.step_seconds = step_seconds

    def stage(self, stage: Stage) -> None:
        self.sink.stage(stage)

    def step(self, done: int, total: int) -> bool:
        time.sleep(self.step_seconds)
        return self.sink.step(done, total)

    def load_progress(self, fraction: float) -> None:
        self.sink.load_progress(fraction)


class SlowKenBurns:
    """The Ken Burns engine with slow steps; implements :class:`i2v.engine.base.Engine`."""

    def __init__(self, engine: Engine, step_seconds: float) -> None:
        self.engine = engine
        self.step_seconds = step_seconds
        self.name = engine.name
        self.model = engine.model

    def setup(self, progress: ProgressSink) -> None:
        """Set up the real engine."""
        self.engine.setup(progress)

    def plan(self, spec: JobSpec, photo_size: tuple[int, int]) -> RenderPlan:
        """The real engine's plan."""
        return self.engine.plan(spec, photo_size)

    def generate(self, spec: JobSpec, photo: bytes, progress: ProgressSink) -> Frames:
        """The real engine's frames, each step held back."""
        return self.engine.generate(spec, photo, _SlowSteps(progress, self.step_seconds))


def slow_kenburns(settings: Settings) -> Engine:
    """Build the Ken Burns engine, slowed as ``slow.json`` in the data folder says."""
    path = settings.data_dir / CONFIG
    step_seconds = float(json.loads(path.read_text())["step_seconds"]) if path.exists() else 0.0
    return SlowKenBurns(build_engine(settings, engine="kenburns"), step_seconds)
