"""What every command shares: settings and the store, built once and only when needed."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    # Imported where used, so `i2v --help` starts without pydantic or SQLAlchemy.
    from i2v.config import Settings, VideoConfig
    from i2v.store import JobStore


@dataclass
class CliContext:
    """Lazily built settings and store, so `i2v --help` works with a broken configuration."""

    _settings: Settings | None = None
    _store: JobStore | None = None
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        """The effective settings (raises ConfigError with one readable line if bad)."""
        if self._settings is None:
            from i2v.config import load_settings

            self._settings = load_settings(**self.overrides)
            configure_logging(self._settings.log_level)
        return self._settings

    @property
    def video(self) -> VideoConfig:
        """The video defaults and limits."""
        from i2v.config import VideoConfig

        return VideoConfig.from_settings(self.settings)

    @property
    def store(self) -> JobStore:
        """The job store, opened (and migrated) on first use."""
        if self._store is None:
            from i2v.store import open_store

            self._store = open_store(self.settings)
        return self._store

    def close(self) -> None:
        """Release the database connections."""
        if self._store is not None:
            self._store.close()


def get_context(ctx: typer.Context) -> CliContext:
    """The CliContext of the running command."""
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):
        obj = CliContext()
        ctx.find_root().obj = obj
    return obj


def configure_logging(level: str) -> None:
    """Configure logging once for the whole process (to stderr)."""
    root = logging.getLogger()
    if root.handlers:
        return
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )


def print_json(data: Any) -> None:
    """Print one JSON document on stdout (the stable --json output)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, sort_keys=True) + "\n")
    sys.stdout.flush()
