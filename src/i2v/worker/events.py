"""Messages between the supervisor and its child process, one small frozen dataclass each.

They travel pickled over a ``multiprocessing`` pipe, so they hold only plain
data: ids, numbers, strings, specs and file paths (never frames or engines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from i2v.engine.base import RenderPlan
from i2v.errors import ErrorCode
from i2v.jobs import JobSpec, Stage

# --- from supervisor --------------------------------------------------------------------


@dataclass(frozen=True)
class RunJob:
    """Make the video for this job (queued behind the one in progress, if any)."""

    job_id: str
    spec: JobSpec
    photo: bytes


@dataclass(frozen=True)
class CancelJob:
    """Stop this job at its next step."""

    job_id: str


@dataclass(frozen=True)
class Shutdown:
    """Finish nothing more; exit."""


# --- from child -----------------------------------------------------------------------


@dataclass(frozen=True)
class LoadProgress:
    """Model loading is ``fraction`` done (where the loader can tell)."""

    fraction: float


@dataclass(frozen=True)
class Ready:
    """``engine.setup()`` finished; jobs can run."""

    engine: str
    model: str
    load_seconds: float
    #: The memory plan the model was placed with ("none" for CPU engines).
    memory_plan: str = "none"


@dataclass(frozen=True)
class SetupFailed:
    """``engine.setup()`` raised; the child exits after sending this."""

    message: str
    traceback: str


@dataclass(frozen=True)
class Planned:
    """What the engine will make for this job, known before any GPU work."""

    job_id: str
    plan: RenderPlan


@dataclass(frozen=True)
class StageChanged:
    """The job entered ``stage``."""

    job_id: str
    stage: Stage


@dataclass(frozen=True)
class StepDone:
    """``done`` of ``total`` steps of the job finished."""

    job_id: str
    done: int
    total: int


@dataclass(frozen=True)
class LogLine:
    """Something the child wants in the worker's log."""

    job_id: str | None
    level: int
    message: str


@dataclass(frozen=True)
class JobDone:
    """The video is encoded; the files are in the child's temp folder for the supervisor to store."""

    job_id: str
    video_path: str
    thumbnail_path: str | None
    #: Video metadata (width, height, frames, fps, duration_seconds, bytes, codec, ...).
    result: dict[str, Any]
    #: Seconds spent in each stage, measured in the child.
    stage_seconds: dict[str, float]
    #: Mean and slowest seconds per step.
    step_seconds: tuple[float, float] | None
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class JobFailed:
    """The job could not be made; ``code`` says which way."""

    job_id: str
    code: ErrorCode
    message: str
    traceback: str = ""


@dataclass(frozen=True)
class JobCanceled:
    """The job stopped because cancel was requested."""

    job_id: str


#: What the child says about one job.
JobEvent = Planned | StageChanged | StepDone | JobDone | JobFailed | JobCanceled

#: Everything the child may send.
ChildEvent = LoadProgress | Ready | SetupFailed | LogLine | JobEvent
