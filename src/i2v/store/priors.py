"""What a job should take before any job like it has run: a prior per engine and model family.

The first Ken Burns job used to be promised "about 2 min" (the one-size-fits-all
prior) and took 4 s. Time grows with frames × pixels × denoising steps, so each
family gets a rate in seconds per frame·megapixel·step, plus a fixed part; the
first measurement of a request like this one replaces the prior (see
:meth:`i2v.store.timings.TimingStats.expected_job_seconds`). The rates are rough
figures for a current consumer GPU (RTX 4090 class); the measurements take over
after one job.
"""

from __future__ import annotations

from dataclasses import dataclass

from i2v.jobs import JobSpec, Resolution

#: The video's long side over its short side when the photo is not known yet (16:9).
ASSUMED_ASPECT = 16 / 9
DEFAULT_DURATION_SECONDS = 6.0


@dataclass(frozen=True)
class Prior:
    """How one engine or model family spends its time."""

    #: Lower-case text in the model name (or the engine name) that marks the family.
    marker: str
    fps: int
    steps: int
    #: Seconds per frame · megapixel · step.
    rate: float
    #: Seconds on top of the work that scales (preparing the photo, starting the encoder).
    fixed: float = 2.0


#: Checked in order; the first whose marker is in "engine model" wins.
PRIORS: tuple[Prior, ...] = (
    # Ken Burns renders each frame once on the CPU: "steps" is 1. 144 frames of 720p: ~4 s.
    Prior("kenburns", fps=24, steps=1, rate=0.025, fixed=0.5),
    Prior("distil", fps=24, steps=8, rate=0.04),
    Prior("ltx", fps=24, steps=50, rate=0.04),
    Prior("wan", fps=24, steps=50, rate=0.1),
    Prior("cogvideo", fps=8, steps=50, rate=0.2),
    Prior("svd", fps=7, steps=25, rate=0.08),
    Prior("stable-video", fps=7, steps=25, rate=0.08),
)


def prior_for(engine: str | None, model: str | None) -> Prior | None:
    """The prior of the family ``engine`` / ``model`` belongs to, if i2v knows it."""
    name = f"{engine or ''} {model or ''}".lower()
    return next((prior for prior in PRIORS if prior.marker in name), None)


def prior_seconds(spec: JobSpec, engine: str | None, model: str | None) -> float | None:
    """Expected run time of ``spec`` on ``engine``/``model``, or None for an unknown family."""
    prior = prior_for(
        spec.engine if spec.engine not in (None, "auto") else engine, spec.model or model
    )
    if prior is None:
        return None
    pixels: float
    if spec.width and spec.height:
        pixels = spec.width * spec.height
    else:
        short = (spec.resolution or Resolution.P720).short_side
        pixels = short * short * ASSUMED_ASPECT
    frames = (spec.duration_seconds or DEFAULT_DURATION_SECONDS) * (spec.fps or prior.fps)
    steps = 1 if prior.steps == 1 else spec.steps or prior.steps
    return prior.fixed + prior.rate * frames * (pixels / 1e6) * steps
