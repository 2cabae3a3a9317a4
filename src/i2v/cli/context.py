"""What every command shares: settings and the store, built once and only when needed."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    # Imported where used, so `i2v --help` starts without pydantic or SQLAlchemy.
    from i2v.config import Settings, VideoConfig
    from i2v.store import JobStore
    from i2v.store.sqlitereads import JobReader, SQLiteReader

T = TypeVar("T")

#: The ``--json`` option of every command that has one.
JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")


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

    def read(self, reading: Callable[[JobReader], T]) -> T:
        """Run a read-only ``reading``: on SQLite without SQLAlchemy when sure, else on the store.

        ``reading`` must only read (it may run twice: once on the quick path, which can
        give up half-way, then on the store).
        """
        from i2v.store.sqlitereads import FastReadUnavailable

        reader = self._quick_reader()
        if reader is not None:
            try:
                return reading(reader)
            except FastReadUnavailable:
                pass  # the store reads it again, and explains whatever went wrong
            finally:
                reader.close()
        return reading(self.store)

    def _quick_reader(self) -> SQLiteReader | None:
        """A standard-library SQLite reader, when the essentials are sure and the file is ready."""
        if self._settings is not None or self._store is not None:
            return None
        from i2v.config.essentials import read_essentials

        essentials = read_essentials(**self.overrides)
        if essentials is None:
            return None
        from i2v.store.sqlitereads import open_sqlite_reader

        reader = open_sqlite_reader(
            essentials.database_url_resolved, lease_seconds=essentials.worker_lease_seconds
        )
        if reader is not None:
            configure_logging(essentials.log_level)
        return reader

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
