"""Deadlines: is a job still moving, and is it taking absurdly long?

Two separate questions (ARCHITECTURE.md, "Time"). *Stalled*: no event from the
child for max(I2V_STALL_TIMEOUT_SECONDS, 5 x the slowest normal step, or stage).
*Over the cap*: running longer than clamp(3 x ETA + 2 min, I2V_MIN_JOB_SECONDS,
I2V_MAX_JOB_SECONDS). A job that keeps stepping is never stalled, however long
it takes in total. Model loading is judged by its own budget elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from i2v.config import Settings
from i2v.errors import ErrorCode
from i2v.jobs import Stage
from i2v.worker.eta import Expectation

#: How many normal steps (or stages) of silence count as a stall.
STALL_FACTOR = 5.0
#: The cap allows three times the estimate ...
CAP_FACTOR = 3.0
#: ... plus this much, so short jobs are not cut off by a noisy estimate.
CAP_SLACK_SECONDS = 120.0

STAGE_WORDS = {
    Stage.LOADING_MODEL: "loading the model",
    Stage.PREPROCESSING: "preparing the photo",
    Stage.GENERATING: "generating",
    Stage.DECODING: "decoding the frames",
    Stage.ENCODING: "encoding the video",
}


@dataclass(frozen=True)
class Verdict:
    """Why a job must be stopped: the error code and a message for the user."""

    code: ErrorCode
    message: str


def job_cap(expected_total: float, settings: Settings) -> float:
    """Longest a job may run: clamp(3 x ETA + 2 min, min job seconds, max job seconds)."""
    raw = CAP_FACTOR * expected_total + CAP_SLACK_SECONDS
    return min(max(raw, settings.min_job_seconds), settings.max_job_seconds)


def stall_budget(stage: Stage, expected: Expectation, settings: Settings) -> float:
    """Longest silence allowed in ``stage`` before the job counts as stalled."""
    p95 = expected.stage_p95(stage)
    return (
        max(settings.stall_timeout_seconds, STALL_FACTOR * p95)
        if p95
        else settings.stall_timeout_seconds
    )


def check(
    *,
    stage: Stage,
    silent_for: float,
    running_for: float,
    expected: Expectation,
    settings: Settings,
) -> Verdict | None:
    """Return why the job must be stopped now, or None while it is healthy."""
    budget = stall_budget(stage, expected, settings)
    if silent_for > budget:
        return Verdict(
            ErrorCode.STALLED,
            f"the video stopped making progress while {STAGE_WORDS[stage]} "
            f"(nothing happened for {say_seconds(silent_for)})",
        )
    cap = job_cap(expected.total, settings)
    if running_for > cap:
        return Verdict(
            ErrorCode.TIMEOUT,
            f"the video took more than {say_seconds(cap)}, far longer than the "
            f"{say_seconds(expected.total)} expected, so it was stopped",
        )
    return None


def say_seconds(seconds: float) -> str:
    """A duration in words: "45 seconds", "12 minutes"."""
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    return f"{seconds / 60:.0f} minutes"
