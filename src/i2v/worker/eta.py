"""What a job should take, stage by stage, and how far along it is.

Expectations come from the store's measured averages for jobs like this one
(same engine, model, size, frames, steps, memory plan and host); before any such
job has run, from the request-level average, and before that from the
``I2V_ETA_PRIOR_SECONDS`` setting split by typical stage shares. The same numbers
drive the ETA the user sees and the deadlines the worker enforces.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from i2v.engine.base import RenderPlan
from i2v.jobs import Stage
from i2v.store import STEP, Timing

#: The stages of a job after the model is loaded, in order.
JOB_STAGES = (Stage.PREPROCESSING, Stage.GENERATING, Stage.DECODING, Stage.ENCODING)
#: How a job's time usually splits before anything is measured (a diffusion model's shape).
PRIOR_SHARES = {
    Stage.PREPROCESSING: 0.03,
    Stage.GENERATING: 0.8,
    Stage.DECODING: 0.07,
    Stage.ENCODING: 0.1,
}
#: Timing name of each job's slowest step, which sizes the stall budget.
STEP_MAX = "step_max"
#: A stage that runs past its estimate is shown at most this far along, until it ends.
STAGE_CEILING = 0.95


def plan_key(engine: str, model: str, plan: RenderPlan, host: str) -> str:
    """The timing key for everything that changes how long a job takes."""
    return "|".join(
        [
            "plan",
            engine,
            model or "-",
            f"{plan.width}x{plan.height}",
            f"{plan.frames}f",
            f"{plan.steps}st",
            plan.memory_plan,
            host,
        ]
    )


def load_key(engine: str, model: str, host: str) -> str:
    """The timing key for loading a model on a host."""
    return "|".join(["load", engine, model or "-", host])


@dataclass(frozen=True)
class Expectation:
    """Expected seconds for each stage of one job, and per generating step."""

    stages: Mapping[Stage, float]
    steps: int
    #: Measured averages this came from (empty before any job like it ran).
    measured: Mapping[str, Timing] = field(default_factory=dict)

    @property
    def total(self) -> float:
        """Expected seconds from preprocessing to the encoded file."""
        return sum(self.stages.values())

    @classmethod
    def prior(cls, total: float, steps: int = 0) -> Expectation:
        """Split ``total`` seconds over the stages by the usual shares."""
        return cls({stage: total * PRIOR_SHARES[stage] for stage in JOB_STAGES}, steps)

    @classmethod
    def from_timings(
        cls, timings: Mapping[str, Timing], steps: int, prior_total: float
    ) -> Expectation:
        """Use measured stage averages where there are any, the prior elsewhere."""
        prior = cls.prior(prior_total, steps)
        if not any(stage.value in timings for stage in JOB_STAGES):
            return cls(prior.stages, steps, timings)
        stages = {
            stage: timings[stage.value].mean if stage.value in timings else 0.0
            for stage in JOB_STAGES
        }
        if STEP in timings and steps:
            stages[Stage.GENERATING] = timings[STEP].mean * steps
        return cls(stages, steps, timings)

    def stage_p95(self, stage: Stage) -> float | None:
        """An upper estimate of a stage's normal length, if it has been measured."""
        timing = self.measured.get(STEP_MAX if stage is Stage.GENERATING else stage.value)
        return None if timing is None else timing.p95


@dataclass
class Position:
    """Where a running job is: its stage, seconds in it, and steps done."""

    stage: Stage
    stage_elapsed: float
    done: int = 0
    total: int = 0


def estimate(expected: Expectation, at: Position) -> tuple[float, float]:
    """Return (progress 0..1, seconds left) for a job at ``at``.

    Progress is weighted by each stage's expected time, so a slow generate fills
    most of the bar; within generating it follows the steps, within decoding and
    encoding the frames (where the child reports them), and elsewhere the clock,
    held below the stage's end until the stage really ends.
    """
    if at.stage is Stage.LOADING_MODEL:
        return 0.0, expected.total
    total = max(expected.total, 1e-6)
    index = JOB_STAGES.index(at.stage)
    before = sum(expected.stages[s] for s in JOB_STAGES[:index])
    after = sum(expected.stages[s] for s in JOB_STAGES[index + 1 :])
    planned = expected.stages[at.stage]
    if at.stage is not Stage.PREPROCESSING and at.total > 0:
        fraction = at.done / at.total
        if at.stage is not Stage.GENERATING:
            # The last frame is not the end: the encoder still flushes and the file is stored.
            fraction = min(STAGE_CEILING, fraction)
        if at.done > 0:
            # Trust this job's own pace once it has one: the GPU may be busier or idler today.
            left = (at.total - at.done) * at.stage_elapsed / at.done
        else:
            left = max(planned - at.stage_elapsed, 0.0)
    else:
        fraction = min(STAGE_CEILING, at.stage_elapsed / planned) if planned > 0 else STAGE_CEILING
        left = max(planned - at.stage_elapsed, 0.0)
    progress = (before + fraction * planned) / total
    return min(1.0, progress), left + after
