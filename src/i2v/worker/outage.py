"""A database outage as the worker lives it: when it began, when to try again, one line each way.

After start-up a store error that says the database is out of reach for now
(:class:`~i2v.errors.StoreUnavailable`: server restarting, disk full) is not a reason to
exit: the worker keeps its child and loaded model, keeps finished videos until they can
be stored, drops progress writes, and tries the database again with a capped, doubling
backoff. The outage is logged once when it begins and once when it ends, with its length,
so a log of a week with a nightly database restart reads as seven pairs of lines.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from i2v.errors import StoreError
from i2v.worker.deadlines import say_seconds
from i2v.worker.spool import FinishedVideo

log = logging.getLogger(__name__)

#: First wait after a failed try; it doubles with every failure up to the cap.
FIRST_BACKOFF_SECONDS = 0.25
MAX_BACKOFF_SECONDS = 5.0


@dataclass
class UnsavedWrite:
    """A job's last write that the database has not taken yet: a status write, or a video."""

    job_id: str
    #: The status write (fail, cancel, give back), for a job without a video.
    write: Callable[[], object] | None = None
    #: The finished video to store (kept in the spool meanwhile).
    video: FinishedVideo | None = None
    #: What to do once it is stored (learn the job's timings).
    after: Callable[[], object] | None = None


class Outage:
    """Whether the database is out of reach, since when, and when to try it again (thread-safe)."""

    def __init__(
        self,
        worker_id: str,
        *,
        holding: Callable[[], int] = lambda: 0,
        first_backoff: float = FIRST_BACKOFF_SECONDS,
        max_backoff: float = MAX_BACKOFF_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._worker_id = worker_id
        self._holding = holding
        self._first = first_backoff
        self._max = max(max_backoff, first_backoff)
        self._clock = clock
        self._lock = threading.Lock()
        self._began: float | None = None
        self._backoff = 0.0
        self._next_try = 0.0
        self._failures = 0
        #: Outages ridden out since the worker started (for tests and the log).
        self.count = 0

    @property
    def active(self) -> bool:
        """True while the database is out of reach."""
        return self._began is not None

    def may_try(self) -> bool:
        """True if the database may be tried now: no outage, or its backoff has passed."""
        with self._lock:
            return self._began is None or self._clock() >= self._next_try

    def next_try_in(self) -> float:
        """Seconds until the database may be tried again (0 when there is no outage)."""
        with self._lock:
            return 0.0 if self._began is None else max(0.0, self._next_try - self._clock())

    def failed(self, exc: StoreError, doing: str) -> None:
        """A store call failed with an outage error; the first failure logs the outage's start."""
        with self._lock:
            now = self._clock()
            self._failures += 1
            if self._began is None:
                self._began = now
                self._backoff = self._first
                self.count += 1
                log.warning(
                    "worker %s: database outage began (%s: %s); keeping the model and %d job(s), "
                    "retrying every %s at most",
                    self._worker_id,
                    doing,
                    exc,
                    self._holding(),
                    say_seconds(self._max),
                )
            else:
                self._backoff = min(self._max, self._backoff * 2)
                log.debug("worker %s: database still out of reach (%s)", self._worker_id, doing)
            self._next_try = now + self._backoff

    def ended(self) -> float | None:
        """A store call worked: log the end of the outage (if one was on); return its length."""
        with self._lock:
            if self._began is None:
                return None
            lasted = self._clock() - self._began
            log.warning(
                "worker %s: database outage ended after %.1f s (%d failed tries); carrying on",
                self._worker_id,
                lasted,
                self._failures,
            )
            self._began = None
            self._failures = 0
            return lasted
