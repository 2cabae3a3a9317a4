"""The engine interface: ``setup()`` once, then ``generate(...)`` per job.

An engine knows nothing of jobs, databases or Telegram. The worker's child
process owns one engine, calls ``setup()`` once (the slow part: loading
weights) and then ``generate()`` for job after job with the model warm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from i2v.jobs import JobSpec, Stage


class ProgressSink(Protocol):
    """Where an engine reports what it is doing; cancel rides the same channel."""

    def stage(self, stage: Stage) -> None:
        """The engine entered ``stage``."""

    def step(self, done: int, total: int) -> bool:
        """``done`` of ``total`` steps finished; return True if the job must stop now."""

    def load_progress(self, fraction: float) -> None:
        """Model loading is ``fraction`` (0..1) done, where the loader can tell."""


@dataclass(frozen=True)
class RenderPlan:
    """What an engine will actually make for a spec, known before any GPU work.

    The worker uses it to key ETA statistics and to set deadlines.
    """

    width: int
    height: int
    frames: int
    fps: int
    steps: int
    #: Memory plan in use (``none`` for CPU engines).
    memory_plan: str = "none"
    #: Set when the model renders smaller and the frames are upscaled (e.g. "720p->1080p").
    upscaled_from: tuple[int, int] | None = None


@dataclass(frozen=True)
class Frames:
    """A finished clip: uint8 RGB frames shaped (count, height, width, 3)."""

    pixels: npt.NDArray[np.uint8]
    fps: int
    #: Plain-language notes for the user (e.g. "generated at 720p and upscaled to 1080p").
    notes: tuple[str, ...] = field(default=())

    @property
    def count(self) -> int:
        """Number of frames."""
        return int(self.pixels.shape[0])


class Engine(Protocol):
    """An image-to-video engine."""

    #: Short engine name: ``kenburns`` or ``diffusers``.
    name: str
    #: The model it serves (preset name, repo id or folder), or ``""`` for none.
    model: str

    def setup(self, progress: ProgressSink) -> None:
        """Load whatever is slow to load, once. Raise EngineError(MODEL_LOAD_FAILED) on failure."""

    def plan(self, spec: JobSpec, photo_size: tuple[int, int]) -> RenderPlan:
        """Return what ``generate`` will make for this spec and a photo of ``photo_size`` (w, h)."""

    def generate(self, spec: JobSpec, photo: bytes, progress: ProgressSink) -> Frames:
        """Make the frames; raise Canceled when ``progress.step`` asks to stop."""
