"""Blocking work off the event loop, in three lanes: store reads, store writes, photo checks.

Store calls block (SQLAlchemy over sync drivers) and the photo check decodes an image,
so routes run them in threads. Sharing Starlette's default 40 threads made the API
slower under load, not faster: 40 threads fought over the GIL and over the store's
connection pool (5 kept, 10 more opened and closed per use), and on SQLite up to 40
writers queued for its single write lock inside SQLite's busy handler, which sleeps
up to 100 ms between tries while the lock sits free. Each lane here has its own threads:

* reads: as many threads as the store keeps pooled connections;
* writes: one at a time on SQLite, where writers take turns anyway, so the next one
  starts the moment the last commits; as many as reads on PostgreSQL;
* photo checks: I2V_API_PHOTO_CHECKS at once (2 by default): a check of a huge photo
  holds its decoded pixels (147 MB for 7000x7000), so this lane bounds the API's peak
  memory; after each check the freed pixels go back to the system (:mod:`i2v.api.heap`).

A call waiting for its lane sits in the lane's queue and holds no thread. A lane is a
queue and a few threads that take calls from it, not anyio's ``to_thread``: that spent
0.1-0.15 ms of CPU per call on cancel scopes, limiter tokens and a thread wake-up each
(a tenth of a whole ``GET /v1/jobs/{id}``), a lane about 0.02 ms under load, since its
busy threads take the next call without sleeping in between. Each call runs in a copy of the caller's context
(so the request's language follows it), and its answer goes back to the caller's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from i2v.api.heap import give_back_freed_memory

T = TypeVar("T")

#: Matches SQLAlchemy's default pool size, so a read never waits for a connection to open.
READ_THREADS = 5
#: A lane's thread that found nothing to do for this long ends; the next call starts one.
IDLE_SECONDS = 10.0

_Call = tuple[
    asyncio.AbstractEventLoop,
    "asyncio.Future[Any]",
    contextvars.Context,
    Callable[..., Any],
    tuple[Any, ...],
]


class Lane:
    """Runs blocking calls in at most ``threads`` threads, in the order they came."""

    def __init__(self, name: str, threads: int, idle_seconds: float = IDLE_SECONDS) -> None:
        self.name = name
        self.threads = threads
        self.idle_seconds = idle_seconds
        self._calls: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._started = 0
        #: Threads waiting for a call, and calls queued but not yet taken.
        self._waiting = 0
        self._queued = 0

    async def run(self, call: Callable[..., T], *args: object) -> T:
        """Run ``call(*args)`` in one of the lane's threads and return (or raise) what it did.

        If the awaiting task is cancelled, the call still runs to its end (a thread cannot
        be stopped), and its answer is dropped.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._calls.put((loop, future, contextvars.copy_context(), call, args))
        with self._lock:
            self._queued += 1
            start = self._waiting < self._queued and self._started < self.threads
            if start:
                self._started += 1
        if start:
            # A daemon: an idle lane never holds up the process's exit.
            threading.Thread(target=self._work, name=f"i2v-{self.name}", daemon=True).start()
        return await future

    def _work(self) -> None:
        while True:
            with self._lock:
                self._waiting += 1
            try:
                item = self._calls.get(timeout=self.idle_seconds)
            except queue.Empty:
                with self._lock:
                    self._waiting -= 1
                    # A call queued since the timeout is taken; otherwise this thread ends.
                    if self._queued == 0:
                        self._started -= 1
                        return
                continue
            with self._lock:
                self._waiting -= 1
                self._queued -= 1
            _run(*item)
            del item  # so a finished call's arguments are not kept while the thread waits


def _run(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    context: contextvars.Context,
    call: Callable[..., Any],
    args: tuple[Any, ...],
) -> None:
    """Run one call and hand its outcome to the loop that waits for it."""
    try:
        result = context.run(call, *args)
    except BaseException as exc:  # handed to the caller, who raises it
        outcome: tuple[Callable[..., None], object] = (_fail, exc)
    else:
        outcome = (_succeed, result)
    # If the caller's loop has closed, nobody waits for this answer any more.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(outcome[0], future, outcome[1])


def _succeed(future: asyncio.Future[Any], result: object) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


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
        self._reads = Lane("read", self.read_threads)
        self._writes = Lane("write", self.write_threads)
        self._images = Lane("image", self.image_threads)

    async def read(self, call: Callable[..., T], *args: object) -> T:
        """Run a store read in a thread."""
        return await self._reads.run(call, *args)

    async def write(self, call: Callable[..., T], *args: object) -> T:
        """Run a store write in a thread, one at a time where the database allows only one."""
        return await self._writes.run(call, *args)

    async def image(self, call: Callable[..., T], *args: object) -> T:
        """Run image work (decoding a photo) in a thread, then give the pixels' memory back."""

        def run_and_trim() -> T:
            try:
                return call(*args)
            finally:
                give_back_freed_memory()

        return await self._images.run(run_and_trim)
