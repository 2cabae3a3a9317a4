"""What every part of the store shares: the engine, the clock, and transaction helpers."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import sqlalchemy as sa

from i2v.store.database import READONLY, translated_errors


class StoreBase:
    """Holds the database engine and the knobs every transition needs."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        lease_seconds: float = 60.0,
        max_attempts: int = 3,
        eta_prior_seconds: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._url = engine.url.render_as_string(hide_password=True)
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.eta_prior_seconds = eta_prior_seconds
        self._clock = clock

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    @property
    def url(self) -> str:
        """The database URL with the password hidden."""
        return self._url

    def now(self) -> float:
        """The store's clock, in Unix seconds."""
        return self._clock()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """A short write transaction (SQLite: BEGIN IMMEDIATE), errors made readable."""
        with translated_errors(self._url), self._engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        """A read-only transaction that never waits for writers."""
        with translated_errors(self._url), self._engine.connect() as conn:
            conn.execution_options(**READONLY)
            with conn.begin():
                yield conn

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()
