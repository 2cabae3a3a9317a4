"""VideoConfig: the video defaults and limits a user tunes, and how a spec is checked against them."""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass

from i2v.config.settings import Settings
from i2v.jobs import JobSpec, Resolution

MIN_DURATION_SECONDS = 1.0
MAX_DURATION_SECONDS = 10.0
#: Explicit sizes are for tests and power users; anything beyond 4K is a typo.
MAX_SIDE = 3840
MIN_SIDE = 16
MAX_STEPS = 200
MAX_FPS = 60


@dataclass(frozen=True)
class VideoConfig:
    """Defaults for new jobs and the limits every submission is checked against."""

    resolution: Resolution = Resolution.P720
    duration_seconds: float = 6.0
    fps: int | None = None
    steps: int | None = None
    seed: int | None = None
    max_prompt_chars: int = 1000
    max_image_bytes: int = 20 * 1024 * 1024
    max_image_pixels: int = 50_000_000
    min_image_side: int = 16

    @classmethod
    def from_settings(cls, settings: Settings) -> VideoConfig:
        """Take the video fields out of the settings."""
        names = [f.name for f in dataclasses.fields(cls)]
        return cls(**{name: getattr(settings, name) for name in names})

    def complete(self, spec: JobSpec) -> JobSpec:
        """Check a spec against the limits and fill in defaults; raise InputError if unusable.

        The filled-in spec records what the user actually gets (resolution, length,
        seed), so a job can be reproduced from its record alone.
        """
        # Imported here: the sentences (and Babel) load only when a spec is checked.
        from i2v.messages import refusal

        prompt = spec.prompt.strip()
        if len(prompt) > self.max_prompt_chars:
            raise refusal("prompt_too_long", n=len(prompt), limit=self.max_prompt_chars)
        duration = self.duration_seconds if spec.duration_seconds is None else spec.duration_seconds
        if not MIN_DURATION_SECONDS <= duration <= MAX_DURATION_SECONDS:
            raise refusal(
                "duration_out_of_range",
                low=MIN_DURATION_SECONDS,
                high=MAX_DURATION_SECONDS,
                value=duration,
            )
        if (spec.width is None) != (spec.height is None):
            raise refusal("size_needs_both_sides")
        for side in (spec.width, spec.height):
            if side is not None and not MIN_SIDE <= side <= MAX_SIDE:
                raise refusal("side_out_of_range", low=MIN_SIDE, high=MAX_SIDE, value=side)
        fps = self.fps if spec.fps is None else spec.fps
        if fps is not None and not 1 <= fps <= MAX_FPS:
            raise refusal("fps_out_of_range", high=MAX_FPS, value=fps)
        steps = self.steps if spec.steps is None else spec.steps
        if steps is not None and not 1 <= steps <= MAX_STEPS:
            raise refusal("steps_out_of_range", high=MAX_STEPS, value=steps)
        seed = spec.seed if spec.seed is not None else self.seed
        if seed is None:
            seed = secrets.randbelow(2**31)
        elif not 0 <= seed < 2**63:
            raise refusal("seed_out_of_range", value=seed)
        resolution = spec.resolution or self.resolution
        return dataclasses.replace(
            spec,
            prompt=prompt,
            resolution=resolution,
            duration_seconds=float(duration),
            fps=fps,
            steps=steps,
            seed=seed,
        )
