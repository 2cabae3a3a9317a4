"""What the supervisor knows about one attempt at a job: lease, stage, steps, clocks and budgets.

An :class:`ActiveJob` lives from claim to the attempt's last store write; a retry
of the same job is a new one, so nothing here carries over to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from i2v.engine.base import RenderPlan
from i2v.jobs import JobSpec, Stage
from i2v.store import Lease
from i2v.worker.deadlines import Verdict
from i2v.worker.eta import Expectation, Position, estimate
from i2v.worker.telemetry import JobTelemetry


@dataclass
class ActiveJob:
    """A claimed job, from claim to its last store write. Times are ``time.monotonic()``."""

    lease: Lease
    expected: Expectation
    telemetry: JobTelemetry
    claimed_at: float
    #: When the job reached a ready child: its run-time clock (model loading never counts).
    started_at: float | None = None
    #: When the child began this attempt (its first event); None while the job waits
    #: behind another in the child (prefetched), untouched by anything the child does.
    began_at: float | None = None
    stage: Stage = Stage.LOADING_MODEL
    stage_started: float = 0.0
    last_event: float = 0.0
    #: Steps while generating, frames while decoding or encoding (reset with each stage).
    done: int = 0
    total: int = 0
    plan: RenderPlan | None = None
    progress: float = 0.0
    reported_at: float = float("-inf")
    warnings: list[str] = field(default_factory=list)
    #: Warnings changed since the last write.
    warnings_dirty: bool = False
    #: When a cancel was sent to the child (by the user or a deadline).
    cancel_sent_at: float | None = None
    #: Set when a deadline, not the user, asked for the cancel.
    verdict: Verdict | None = None

    @property
    def id(self) -> str:
        """The job id."""
        return self.lease.job.id

    @property
    def token(self) -> str:
        """The lease token every write carries."""
        return self.lease.token

    @property
    def spec(self) -> JobSpec:
        """What was asked for."""
        return self.lease.job.spec

    @property
    def is_past_generating(self) -> bool:
        """True once the last step is done: the GPU is free for the next job."""
        if self.stage in (Stage.DECODING, Stage.ENCODING):
            return True
        return self.stage is Stage.GENERATING and self.total > 0 and self.done >= self.total

    def start(self, now: float) -> None:
        """The child has the job and a loaded model: start its clocks."""
        self.started_at = now
        self.enter(Stage.PREPROCESSING, now)

    def heard(self, now: float) -> None:
        """The child said something about this attempt: it has begun (if it had not)."""
        if self.began_at is None:
            self.began_at = now

    def enter(self, stage: Stage, now: float) -> None:
        """The job moved to ``stage``."""
        if stage is not self.stage:
            self.done = self.total = 0
        self.stage = stage
        self.stage_started = now
        self.last_event = now

    def stepped(self, done: int, total: int, now: float) -> None:
        """A step (or a chunk of frames) finished."""
        self.done, self.total = done, total
        self.last_event = now

    def estimate(self, now: float) -> tuple[float, float]:
        """Progress (never lower than already shown) and seconds left."""
        position = Position(self.stage, now - self.stage_started, self.done, self.total)
        progress, left = estimate(self.expected, position)
        self.progress = max(self.progress, progress)
        return self.progress, left

    def warn(self, text: str) -> None:
        """Attach a note for the user (written with the next progress report)."""
        if text not in self.warnings:
            self.warnings.append(text)
            self.warnings_dirty = True
