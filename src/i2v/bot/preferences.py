"""A user's saved choices (/settings) and how they shape the next job."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from i2v.bot.locale import LANGUAGES
from i2v.jobs import Resolution

#: Durations offered in /settings, in seconds.
DURATIONS = (2.0, 4.0, 6.0, 8.0, 10.0)
RESOLUTIONS = tuple(Resolution)


@dataclass(frozen=True)
class Preferences:
    """What a user picked; None means the service default."""

    resolution: Resolution | None = None
    duration_seconds: float | None = None
    language: str | None = None
    model: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Preferences:
        """Read saved settings, ignoring values this version no longer offers."""
        resolution = data.get("resolution")
        duration = data.get("duration_seconds")
        language = data.get("language")
        model = data.get("model")
        return cls(
            resolution=Resolution(resolution)
            if resolution in {r.value for r in Resolution}
            else None,
            duration_seconds=float(duration) if isinstance(duration, (int, float)) else None,
            language=language if language in LANGUAGES else None,
            model=model if isinstance(model, str) and model else None,
        )

    def offered(self, models: Sequence[str]) -> Preferences:
        """These choices without a model that is no longer offered (the list may have changed)."""
        if self.model is None or (len(models) > 1 and self.model in models):
            return self
        return dataclasses.replace(self, model=None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON saved in the store (unset choices left out)."""
        data: dict[str, Any] = {
            "resolution": self.resolution.value if self.resolution else None,
            "duration_seconds": self.duration_seconds,
            "language": self.language,
            "model": self.model,
        }
        return {key: value for key, value in data.items() if value is not None}


def apply_choice(prefs: Preferences, key: str, value: str) -> Preferences:
    """Return ``prefs`` with one /settings button applied; raise ValueError for a stale button."""
    if key == "res":
        return dataclasses.replace(prefs, resolution=Resolution(value))
    if key == "dur":
        if float(value) not in DURATIONS:
            raise ValueError(f"duration {value} is not offered")
        return dataclasses.replace(prefs, duration_seconds=float(value))
    if key == "lang":
        if value not in LANGUAGES:
            raise ValueError(f"language {value} is not offered")
        return dataclasses.replace(prefs, language=value)
    if key == "model":
        if not value:
            raise ValueError("that model is no longer offered")
        return dataclasses.replace(prefs, model=value)
    raise ValueError(f"unknown setting {key!r}")
