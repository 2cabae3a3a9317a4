"""The engine's ProgressSink inside the child: turns stage and step calls into events, times them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from i2v.jobs import Stage
from i2v.worker.events import ChildEvent, ChunkDone, LoadProgress, StageChanged, StepDone

#: Least time between two chunk events of one stage (the last chunk always goes).
CHUNK_EVENT_SECONDS = 0.2


class EventSender(Protocol):
    """Anything that can send an event to the supervisor."""

    def send(self, event: ChildEvent) -> None:
        """Send one event."""


class JobProgress:
    """Implements :class:`i2v.engine.base.ProgressSink` for one attempt; cancel rides ``step``."""

    def __init__(
        self, job_id: str, token: str, sender: EventSender, is_canceled: Callable[[], bool]
    ) -> None:
        self.job_id = job_id
        self.token = token
        self._sender = sender
        self._is_canceled = is_canceled
        self._stage: Stage | None = None
        self._stage_started = time.monotonic()
        self._seconds: dict[str, float] = {}
        self._last_step = time.monotonic()
        self._steps: list[float] = []
        self._last_chunk = float("-inf")

    def stage(self, stage: Stage) -> None:
        """The engine entered ``stage``."""
        self._close_stage()
        self._stage = stage
        if stage is Stage.GENERATING:
            self._last_step = time.monotonic()
        self._last_chunk = float("-inf")
        self._sender.send(StageChanged(self.job_id, self.token, stage))

    def step(self, done: int, total: int) -> bool:
        """A step finished; True if the job must stop now."""
        now = time.monotonic()
        self._steps.append(now - self._last_step)
        self._last_step = now
        self._sender.send(StepDone(self.job_id, self.token, done, total))
        return self._is_canceled()

    def chunk(self, done: int, total: int) -> bool:
        """``done`` of ``total`` frames of this stage are done; True if the job must stop now.

        For stages measured in frames (decoding, encoding): each call proves the stage is
        alive, and at most one event per CHUNK_EVENT_SECONDS goes to the supervisor.
        """
        now = time.monotonic()
        if done >= total or now - self._last_chunk >= CHUNK_EVENT_SECONDS:
            self._last_chunk = now
            self._sender.send(ChunkDone(self.job_id, self.token, done, total))
        return self._is_canceled()

    def load_progress(self, fraction: float) -> None:
        """Model loading is ``fraction`` done."""
        self._sender.send(LoadProgress(min(1.0, max(0.0, fraction))))

    def cancel_requested(self) -> bool:
        """True once the supervisor asked to stop this job."""
        return self._is_canceled()

    def finish_generation(self) -> None:
        """Frames are ready; what follows is encoding (possibly after a wait for the encoder)."""
        self.stage(Stage.ENCODING)

    def finish(self) -> dict[str, float]:
        """Close the last stage and return the seconds spent in each."""
        self._close_stage()
        self._stage = None
        return dict(self._seconds)

    def step_seconds(self) -> tuple[float, float] | None:
        """Mean and slowest seconds per step, or None if the engine reported no steps."""
        if not self._steps:
            return None
        return sum(self._steps) / len(self._steps), max(self._steps)

    def _close_stage(self) -> None:
        now = time.monotonic()
        if self._stage is not None:
            key = self._stage.value
            self._seconds[key] = self._seconds.get(key, 0.0) + now - self._stage_started
        self._stage_started = now
