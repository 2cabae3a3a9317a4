"""Caps on open event streams: per client and in total.

An SSE stream holds a connection, a subscription and a little memory for as long
as its job runs, which may be an hour. Without a cap one client could open
thousands. A stream takes a slot before it starts and gives it back when it
ends, however it ends (finished job, client gone, server stopping); a stream
over either cap is refused with 429 and a Retry-After.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from i2v.api.problems import ProblemCode, ProblemError

#: Seconds a refused client is told to wait: about the time a short job takes.
RETRY_AFTER_SECONDS = 30


@dataclass(eq=False)
class Slot:
    """One open stream's place; :meth:`release` is safe to call more than once."""

    slots: StreamSlots
    client: str
    released: bool = False

    def release(self) -> None:
        """Give the place back (once)."""
        self.slots._release(self)


@dataclass
class StreamSlots:
    """Counts open streams per client and in total."""

    total: int
    per_client: int
    _open: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def open(self) -> int:
        """Streams open now."""
        return sum(self._open.values())

    def take(self, client: str) -> Slot:
        """Take a place for ``client``'s new stream, or raise 429 too_many_streams."""
        with self._lock:
            if self._open[client] >= self.per_client:
                raise _refuse(
                    f"you already follow {self.per_client} jobs live "
                    "(I2V_API_MAX_STREAMS_PER_CLIENT); close one or poll GET /v1/jobs/{id}"
                )
            if sum(self._open.values()) >= self.total:
                raise _refuse(
                    f"the server already serves {self.total} live streams "
                    "(I2V_API_MAX_STREAMS); poll GET /v1/jobs/{id} or retry later"
                )
            self._open[client] += 1
        return Slot(self, client)

    def _release(self, slot: Slot) -> None:
        with self._lock:
            if slot.released:
                return
            slot.released = True
            self._open[slot.client] -= 1
            if self._open[slot.client] <= 0:
                del self._open[slot.client]


def _refuse(detail: str) -> ProblemError:
    return ProblemError(
        429,
        ProblemCode.TOO_MANY_STREAMS,
        detail,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
