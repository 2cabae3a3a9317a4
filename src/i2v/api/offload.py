"""Blocking work off the event loop, in three lanes: store reads, store writes, photo checks.

Store calls block (SQLAlchemy over sync drivers) and the photo check decodes an image,
so routes run them in threads. Sharing Starlette's default 40 threads made the API
slower under load, not faster: 40 threads fought over the GIL and over the store's
connection pool (5 kept, 10 more opened and closed per use), and on SQLite up to 40
writers queued for its single write lock inside SQLite's busy handler, which sleeps
up to 100 ms between tries while the lock sits free. Each lane here has its own limit:

* reads: as many threads as the store keeps pooled connections;
* writes: one at a time on SQLite, where writers take turns anyway, so the next one
  starts the moment the last commits; as many as reads on PostgreSQL;
* photo checks: I2V_API_PHOTO_CHECKS at once (2 by default): a check of a huge photo
  holds its decoded pixels (147 MB for 7000x7000), so this lane bounds the API's peak
  memory; after each check the freed pixels go back to the system (:mod:`i2v.api.heap`).

A task waiting for its lane waits on the event loop and holds no thread.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

from i2v.api.heap import give_back_freed_memory

T = TypeVar("T")

#: Matches SQLAlchemy's default pool size, so a read never waits for a connection to open.
READ_THREADS = 5


@dataclass(frozen=True)
class _Lanes:
    reads: CapacityLimiter
    writes: CapacityLimiter
    images: CapacityLimiter


class Offload:
    """Runs blocking calls in threads, at most a lane's limit at once."""

    def __init__(
        self,
        *,
        serial_writes: bool,
        read_threads: int = READ_THREADS,
        image_threads: int | None = None,
    ) -> None:
        self.read_threads = read_threads
        self.write_threads = 1 if serial_writes else read_threads
        self.image_threads = image_threads or os.cpu_count() or 1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lanes: _Lanes | None = None

    async def read(self, call: Callable[..., T], *args: object) -> T:
        """Run a store read in a thread."""
        return await anyio.to_thread.run_sync(call, *args, limiter=self._current().reads)

    async def write(self, call: Callable[..., T], *args: object) -> T:
        """Run a store write in a thread, one at a time where the database allows only one."""
        return await anyio.to_thread.run_sync(call, *args, limiter=self._current().writes)

    async def image(self, call: Callable[..., T], *args: object) -> T:
        """Run image work (decoding a photo) in a thread, then give the pixels' memory back."""

        def run_and_trim() -> T:
            try:
                return call(*args)
            finally:
                give_back_freed_memory()

        return await anyio.to_thread.run_sync(run_and_trim, limiter=self._current().images)

    def _current(self) -> _Lanes:
        # Limiters belong to one event loop; tests start a loop per client, so make new ones.
        loop = asyncio.get_running_loop()
        if self._lanes is None or self._loop is not loop:
            self._loop = loop
            self._lanes = _Lanes(
                reads=CapacityLimiter(self.read_threads),
                writes=CapacityLimiter(self.write_threads),
                images=CapacityLimiter(self.image_threads),
            )
        return self._lanes
