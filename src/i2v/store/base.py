"""What every part of the store shares: the engine, the clock, and transaction helpers."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

import sqlalchemy as sa

from i2v.store.blobs import BLOBS_OPTION, DatabaseChunks, MediaBlobs
from i2v.store.database import READONLY, translated_errors
from i2v.store.wakeups import ChangeFeed


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
        media_blobs: MediaBlobs | None = None,
    ) -> None:
        #: Where photos and videos keep their bytes (database chunks unless told otherwise).
        self.media_blobs: MediaBlobs = media_blobs or DatabaseChunks()
        # Every connection carries it, so writes inside a transition find it.
        self._engine = engine.execution_options(**{BLOBS_OPTION: self.media_blobs})
        self._url = engine.url.render_as_string(hide_password=True)
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.eta_prior_seconds = eta_prior_seconds
        self._clock = clock
        self._feed: ChangeFeed | None = None
        self._feed_lock = threading.Lock()

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

    def change_feed(self, safety_poll_seconds: float = 5.0) -> ChangeFeed:
        """This store's one change feed (one listening connection per process and store)."""
        with self._feed_lock:
            if self._feed is None:
                self._feed = ChangeFeed(self._engine, safety_poll_seconds=safety_poll_seconds)
            return self._feed

    def close(self) -> None:
        """Close the change feed and every pooled connection."""
        with self._feed_lock:
            feed, self._feed = self._feed, None
        if feed is not None:
            feed.close()
        self._engine.dispose()
