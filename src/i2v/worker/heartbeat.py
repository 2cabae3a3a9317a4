"""The heartbeat thread: renews leases, shows the worker alive, and does the queue's housekeeping.

It runs on its own thread so that a long store write or a slow event on the main
loop never lets a lease lapse. Any live worker requeues jobs whose worker died
and expires jobs that waited too long; the statements are guarded, so several
workers doing it at once is harmless.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from i2v.errors import StoreError
from i2v.store import JobStore

log = logging.getLogger(__name__)


class Heartbeat:
    """Every ``interval`` seconds: heartbeat, requeue expired leases, expire old queued jobs."""

    def __init__(
        self,
        store: JobStore,
        worker_id: str,
        *,
        interval: float,
        queue_ttl: float,
        gpu: Callable[[], dict[str, Any] | None] = lambda: None,
    ) -> None:
        self._store = store
        self._worker_id = worker_id
        self._interval = interval
        self._queue_ttl = queue_ttl
        self._gpu = gpu
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="i2v-heartbeat", daemon=True)

    def start(self) -> None:
        """Beat once now, then every interval."""
        self.beat()
        self._thread.start()

    def stop(self) -> None:
        """Stop beating (the leases then lapse unless the jobs were finished or released)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._interval + 5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.beat()

    def beat(self) -> None:
        """One round of lease renewal and housekeeping; store errors are logged, not fatal."""
        try:
            self._store.heartbeat(self._worker_id)
            reading = self._gpu()
            if reading is not None:
                self._store.update_worker(self._worker_id, gpu=reading)
            for job_id in self._store.requeue_expired():
                log.warning(
                    "job %s: its worker stopped renewing the lease; requeued or failed", job_id
                )
            for job_id in self._store.expire_queued(self._queue_ttl):
                log.warning("job %s: waited longer than the queue TTL; expired", job_id)
        except StoreError as exc:
            # The database may be briefly unreachable; the next beat tries again, and the
            # lease is long enough to survive a missed beat.
            log.warning("worker %s: heartbeat failed: %s", self._worker_id, exc)
