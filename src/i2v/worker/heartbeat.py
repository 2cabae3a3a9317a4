"""The heartbeat thread: renews leases, shows the worker alive, and does the queue's housekeeping.

It runs on its own thread so that a long store write or a slow event on the main
loop never lets a lease lapse. Any live worker requeues jobs whose worker died,
expires jobs that waited too long and, less often, deletes videos older than
``I2V_KEEP_RESULTS_DAYS``; the statements are guarded, so several workers doing it
at once is harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from typing import Any

from i2v.errors import StoreError, StoreUnavailable
from i2v.store import JobStore
from i2v.worker.outage import Outage

log = logging.getLogger(__name__)


#: How often old videos are purged; finding them scans finished jobs, so not every beat.
PURGE_SECONDS = 600.0


class Heartbeat:
    """Every ``interval`` seconds: heartbeat, requeue expired leases, expire old queued jobs.

    Every ``purge_every`` seconds (and on the first beat) it also deletes the videos of
    jobs finished more than ``keep_results`` seconds ago.
    """

    def __init__(
        self,
        store: JobStore,
        worker_id: str,
        *,
        interval: float,
        queue_ttl: float,
        keep_results: float,
        purge_every: float = PURGE_SECONDS,
        gpu: Callable[[], dict[str, Any] | None] = lambda: None,
        outage: Outage | None = None,
        held: Callable[[], Collection[str]] | None = None,
    ) -> None:
        self._store = store
        self._worker_id = worker_id
        self._interval = interval
        self._queue_ttl = queue_ttl
        self._keep_results = keep_results
        self._purge_every = purge_every
        self._purged_at = float("-inf")
        self._gpu = gpu
        self._outage = outage
        self._held = held
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
            self._store.heartbeat(self._worker_id, None if self._held is None else self._held())
            reading = self._gpu()
            if reading is not None:
                self._store.update_worker(self._worker_id, gpu=reading)
            for job_id in self._store.requeue_expired():
                log.warning(
                    "job %s: its worker stopped renewing the lease; requeued or failed", job_id
                )
            for job_id in self._store.expire_queued(self._queue_ttl):
                log.warning("job %s: waited longer than the queue TTL; expired", job_id)
            self._purge_old_results()
        except StoreUnavailable as exc:
            # The database is briefly out of reach; the next beat tries again, and the lease
            # is long enough to survive missed beats. The outage is logged once, not per beat.
            if self._outage is not None:
                self._outage.failed(exc, "renewing the leases")
            else:
                log.warning("worker %s: heartbeat failed: %s", self._worker_id, exc)
        except StoreError as exc:
            log.warning("worker %s: heartbeat failed: %s", self._worker_id, exc)

    def _purge_old_results(self) -> None:
        now = time.monotonic()
        if now - self._purged_at < self._purge_every:
            return
        self._purged_at = now
        deleted = self._store.purge_results(self._keep_results)
        if deleted:
            log.info(
                "worker %s: deleted %d video(s) and thumbnail(s) older than %.1f days",
                self._worker_id,
                deleted,
                self._keep_results / 86400,
            )
