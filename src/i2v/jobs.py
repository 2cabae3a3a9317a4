"""Pure job types: what a front end asks for (:class:`JobSpec`) and what it gets back (:class:`Job`).

Nothing here touches a database, a GPU or a network. The store turns rows into
these frozen values, so no front end ever holds an ORM row.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from i2v.errors import ErrorCode

#: Alphabet of job ids: URL-safe, no look-alike characters (0/O, 1/l/I).
_ID_ALPHABET = "23456789abcdefghijkmnpqrstuvwxyz"
_ID_LENGTH = 10


def new_job_id() -> str:
    """Return a fresh short, URL-safe, random job id (10 chars, 50 bits)."""
    import secrets  # here, not at import: it loads OpenSSL, which `i2v jobs` never needs

    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))


#: Priorities run from -MAX_PRIORITY to MAX_PRIORITY: well inside PostgreSQL's 32-bit
#: INTEGER, which refuses what SQLite's 64-bit one would take.
MAX_PRIORITY = 1000


class JobStatus(str, enum.Enum):
    """Where a job is in its life; only the store changes it."""

    #: Waiting for a worker.
    QUEUED = "queued"
    #: Claimed by a worker that holds a live lease on it.
    RUNNING = "running"
    #: Finished; the video is in the store.
    SUCCEEDED = "succeeded"
    #: Gave up; ``error_code`` and ``error_message`` say why.
    FAILED = "failed"
    #: Stopped at the user's request.
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        """True when the job will never change status again."""
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)

    @property
    def is_active(self) -> bool:
        """True while the job is queued or running."""
        return not self.is_terminal


class Stage(str, enum.Enum):
    """What a running job is doing right now, in the order it happens."""

    #: Loading model weights into memory (first job of a cold worker).
    LOADING_MODEL = "loading_model"
    #: Decoding, orienting and resizing the photo.
    PREPROCESSING = "preprocessing"
    #: Denoising steps on the GPU (or rendering frames for kenburns).
    GENERATING = "generating"
    #: Turning latents into frames (VAE decode).
    DECODING = "decoding"
    #: Writing the MP4 and thumbnail.
    ENCODING = "encoding"


class Resolution(str, enum.Enum):
    """Named output sizes; the number is the video's short side in pixels."""

    P480 = "480p"
    P720 = "720p"
    P1080 = "1080p"

    @property
    def short_side(self) -> int:
        """The short side of the video in pixels."""
        return int(self.value.rstrip("p"))


class WorkerState(str, enum.Enum):
    """What a worker process is doing, as shown by ``i2v workers``."""

    #: Process started, child not up yet.
    STARTING = "starting"
    #: The child is loading the model.
    LOADING = "loading"
    #: Ready and waiting for a job.
    IDLE = "idle"
    #: Running a job.
    BUSY = "busy"
    #: Finishing its last job before exiting.
    STOPPING = "stopping"


@dataclass(frozen=True)
class JobSpec:
    """Everything needed to make one video, as a front end submits it.

    Fields left as ``None`` take the worker's configured default. The input photo
    itself travels beside the spec (``JobStore.submit(spec, image)``) and lives in
    the store's media, so any host can read it.
    """

    prompt: str = ""
    resolution: Resolution | None = None
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None
    fps: int | None = None
    steps: int | None = None
    seed: int | None = None
    engine: str | None = None
    model: str | None = None
    #: Which front end made the job: ``cli``, ``telegram``, ``api``.
    source: str = "cli"
    #: Who asked, in the front end's own terms (a Telegram user id, an API token name).
    owner: str | None = None
    #: Opaque data the front end needs to report back (chat and message ids).
    notify: Mapping[str, Any] | None = None
    #: Submitting twice with the same key returns the first job.
    dedupe_key: str | None = None
    #: Higher runs first; equal priorities run in submission order.
    priority: int = 0
    #: The photo's original file name, for display only.
    image_name: str = "photo"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        # Field by field, not dataclasses.asdict: every field but notify (copied below) is a
        # plain value, and asdict's deep copy was a fifth of the API's work per job read.
        data = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        data["resolution"] = self.resolution.value if self.resolution else None
        data["notify"] = dict(self.notify) if self.notify is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobSpec:
        """Build a spec from :meth:`to_dict` output, ignoring unknown keys."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        if values.get("resolution") is not None:
            values["resolution"] = Resolution(values["resolution"])
        return cls(**values)


@dataclass(frozen=True)
class QueuePosition:
    """Where a queued job stands: how many are ahead and how long until it starts."""

    #: 1 means next to run; 0 means the job is not queued.
    position: int
    #: Estimated seconds until a worker starts it.
    wait_seconds: float
    #: Workers that heartbeated recently.
    live_workers: int
    #: Live workers that would take this job (its engine and model); None when not counted.
    serving_workers: int | None = None

    @property
    def is_unserved(self) -> bool:
        """True when workers are running but none of them makes this job's engine and model."""
        return self.live_workers > 0 and self.serving_workers == 0


def worker_command(engine: str | None, model: str | None) -> str:
    """The command that starts a worker taking jobs that name ``engine`` and ``model``."""
    if model:
        return f"i2v worker --model {model}"
    if engine and engine != "auto":
        return f"i2v worker --engine {engine}"
    return "i2v worker"


@dataclass(frozen=True)
class Job:
    """A job as the store last saw it. Frozen: ask the store for a fresh one."""

    id: str
    spec: JobSpec
    status: JobStatus
    stage: Stage | None = None
    #: 0..1 across the whole job, weighted by each stage's expected time; never moves back.
    progress: float = 0.0
    #: Seconds until done: for a queued job its expected run time, for a running job what is left.
    eta_seconds: float | None = None
    attempts: int = 0
    error_code: ErrorCode | None = None
    error_message: str | None = None
    #: For admins only: the exception and traceback behind a failure (never shown to users).
    error_detail: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime | None = None
    worker_id: str | None = None
    cancel_requested: bool = False
    #: Output metadata: width, height, frames, fps, duration_seconds, bytes, engine, ...
    result: Mapping[str, Any] = field(default_factory=dict)
    #: Plain-language notes for the user (upscaled, VRAM spill, ...).
    warnings: tuple[str, ...] = ()
    #: The front end has handed the result to the user.
    delivered: bool = False
    #: The front end's notify data, possibly updated since submission (status message id).
    notify: Mapping[str, Any] | None = None

    @property
    def elapsed_seconds(self) -> float | None:
        """Seconds from start to finish (or to the last update while running)."""
        if self.started_at is None:
            return None
        end = self.finished_at or self.updated_at
        return None if end is None else max(0.0, (end - self.started_at).total_seconds())

    def to_dict(self, *, admin: bool = False) -> dict[str, Any]:
        """Return the stable JSON shape used by ``--json`` and the API.

        ``admin`` adds ``error.detail`` (exception and traceback) to a failed job.
        """
        data: dict[str, Any] = {
            "id": self.id,
            "status": self.status.value,
            "stage": self.stage.value if self.stage else None,
            "progress": round(self.progress, 4),
            "eta_seconds": None if self.eta_seconds is None else round(self.eta_seconds, 1),
            "attempts": self.attempts,
            "error": None
            if self.error_code is None
            else {"code": self.error_code.value, "message": self.error_message},
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "updated_at": _iso(self.updated_at),
            "worker": self.worker_id,
            "cancel_requested": self.cancel_requested,
            "result": dict(self.result),
            "warnings": list(self.warnings),
            "delivered": self.delivered,
            "spec": {k: v for k, v in self.spec.to_dict().items() if k != "notify"},
        }
        if admin and data["error"] is not None:
            data["error"]["detail"] = self.error_detail
        return data


@dataclass(frozen=True)
class WorkerInfo:
    """A worker as registered in the store."""

    id: str
    host: str
    pid: int
    state: WorkerState
    child_pid: int | None = None
    job_id: str | None = None
    engine: str | None = None
    model: str | None = None
    started_at: datetime | None = None
    heartbeat_at: datetime | None = None
    #: Latest GPU reading (utilisation, VRAM, temperature, power), if any.
    gpu: Mapping[str, Any] = field(default_factory=dict)
    #: The memory plan its model was loaded with (e.g. ``fp8-dit-framewise``), once loaded.
    memory_plan: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the stable JSON shape used by ``i2v workers --json`` and the API."""
        return {
            "id": self.id,
            "host": self.host,
            "pid": self.pid,
            "child_pid": self.child_pid,
            "state": self.state.value,
            "job_id": self.job_id,
            "engine": self.engine,
            "model": self.model,
            "started_at": _iso(self.started_at),
            "heartbeat_at": _iso(self.heartbeat_at),
            "gpu": dict(self.gpu),
            "memory_plan": self.memory_plan,
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
