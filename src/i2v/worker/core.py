"""What every layer of the supervisor shares: options, the jobs it holds, its child, its row.

The supervisor is built in layers, one file each, each using only those below it:

- ``core.py``: this state, a job's last write (held through a database outage), the
  worker's row in the store;
- ``childcare.py``: starting the child, its model loading or failing, its death;
- ``watch.py``: deadlines, throttled progress writes (which bring cancels back), GPU readings;
- ``supervisor.py``: the loop, claiming, the child's events, stopping.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from i2v.config import Settings
from i2v.errors import LeaseLost, StoreError, StoreUnavailable
from i2v.gpu import read_gpu
from i2v.jobs import WorkerInfo, WorkerState
from i2v.store import JobStore, Lease
from i2v.worker import outcomes
from i2v.worker.childproc import ChildProcess
from i2v.worker.eta import load_key
from i2v.worker.events import Ready
from i2v.worker.heartbeat import PURGE_SECONDS, Heartbeat
from i2v.worker.jobrun import ActiveJob
from i2v.worker.outage import Outage, UnsavedWrite
from i2v.worker.spool import FinishedVideo, Spool

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    """How one worker runs; the defaults suit ``i2v worker``, tests shrink them."""

    #: Engine factory import path; None takes ``I2V_ENGINE_FACTORY``.
    engine_factory: str | None = None
    #: NVML index of the GPU this worker's child uses (for telemetry).
    gpu_index: int = 0
    #: Exit once the queue is empty (rq's burst mode).
    burst: bool = False
    #: Exit after this many jobs.
    max_jobs: int | None = None
    #: Serve this job only (``i2v generate``), leaving everyone else's queued jobs alone.
    job_id: str | None = None
    #: How often an idle worker looks for a job. A look is one indexed count (about
    #: 0.2 ms on SQLite), and half of this is the mean wait from submit to claim.
    poll_seconds: float = 0.05
    #: Least time between two progress writes of one job (terminal writes are never held).
    progress_seconds: float = 1.0
    #: How often videos older than I2V_KEEP_RESULTS_DAYS are deleted.
    purge_seconds: float = PURGE_SECONDS
    #: Claim the next job while the current one encodes, so the GPU never waits.
    prefetch: bool = True
    #: First wait after a failed model load; it doubles after each failure in a row.
    load_backoff_seconds: float = 2.0
    load_backoff_max_seconds: float = 120.0
    #: Longest wait between two tries of the database during an outage.
    outage_backoff_max_seconds: float = 5.0


def new_worker_id(host: str) -> str:
    """A worker id unique to this process start: host, pid and a random suffix."""
    return f"{host}-{os.getpid()}-{secrets.token_hex(2)}"


class WorkerCore:
    """The supervisor's state, and the writes every layer makes: a job's last one, the row."""

    def __init__(
        self, store: JobStore, settings: Settings, options: WorkerOptions | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.options = options or WorkerOptions()
        self.host = socket.gethostname()
        self.id = new_worker_id(self.host)
        self.factory = self.options.engine_factory or settings.engine_factory
        #: Model loads that finished (a warm worker loads once, however many jobs it runs).
        self.loads = 0
        self._active: dict[str, ActiveJob] = {}
        self._child: ChildProcess | None = None
        self._ready: Ready | None = None
        self._queue_empty = False
        self._stop_at: float | None = None
        self._stop_lock = threading.Lock()
        self._workdir = tempfile.mkdtemp(prefix="i2v-worker-")
        #: Jobs whose last write waits for the database (see ``outage.py``).
        self._unsaved: list[UnsavedWrite] = []
        #: Jobs claimed whose photo could not be read yet (the database went away).
        self._unsent: list[Lease] = []
        self._registered = False
        self.outage = Outage(
            self.id, holding=self._holding, max_backoff=self.options.outage_backoff_max_seconds
        )
        self._spool = Spool(settings.data_dir / "spool", self.id)
        self._heartbeat = Heartbeat(
            store,
            self.id,
            interval=settings.worker_heartbeat_seconds,
            queue_ttl=settings.queue_ttl_seconds,
            keep_results=settings.keep_results_days * 86400,
            purge_every=self.options.purge_seconds,
            gpu=self._gpu_reading,
            outage=self.outage,
            held=self.held_job_ids,
        )

    @property
    def stopping(self) -> bool:
        """True once a stop was requested."""
        return self._stop_at is not None

    def held_job_ids(self) -> set[str]:
        """The jobs whose leases this worker renews: running, waiting for a photo or a write."""
        # Copies first: the heartbeat thread calls this while the loop changes them.
        active, unsent, unsaved = list(self._active), list(self._unsent), list(self._unsaved)
        return {*active, *(lease.job.id for lease in unsent), *(w.job_id for w in unsaved)}

    def _holding(self) -> int:
        """Jobs this worker holds a lease on: running, waiting for a photo or for a last write."""
        return len(self._active) + len(self._unsent) + len(self._unsaved)

    def _finish(self, job: ActiveJob, write: Callable[[ActiveJob], object]) -> None:
        """Make a job's last write and forget it; a lost lease means someone else owns it now."""
        self._active.pop(job.id, None)
        # The job may have gone back to the queue: a burst worker looks once more before it exits.
        self._queue_empty = False
        self._last_write(UnsavedWrite(job.id, write=lambda: write(job)))
        self._update(state=self._busy_or_idle(), job_id=next(iter(self._active), None))

    def _finish_video(
        self, job: ActiveJob, video: FinishedVideo, after: Callable[[], object]
    ) -> None:
        """Store a finished video (or keep it until the database is back) and forget the job."""
        self._active.pop(job.id, None)
        self._queue_empty = False
        self._last_write(UnsavedWrite(job.id, video=video, after=after))
        self._update(state=self._busy_or_idle(), job_id=next(iter(self._active), None))

    def _last_write(self, pending: UnsavedWrite) -> None:
        """Try a last write now; during an outage keep it (and its video) for later."""
        if self.outage.active:
            self._hold(pending)
            return
        try:
            if pending.video is not None:
                outcomes.store_video(self.store, pending.video)
            elif pending.write is not None:
                pending.write()
        except LeaseLost:
            log.warning(
                "job %s: lease lost (another worker took it); dropping this run", pending.job_id
            )
            if pending.video is not None:
                pending.video.discard()
            return
        except StoreUnavailable as exc:
            self.outage.failed(exc, f"job {pending.job_id}: storing its outcome")
            self._hold(pending)
            return
        if pending.after is not None:
            pending.after()

    def _hold(self, pending: UnsavedWrite) -> None:
        if pending.video is not None:
            pending.video = self._spool.keep(pending.video)
        log.info("job %s: finished; its outcome waits for the database", pending.job_id)
        self._unsaved.append(pending)

    def _settle_unsaved(self) -> None:
        """The database is back: make the last writes that waited, oldest first."""
        while self._unsaved and not self.outage.active:
            pending = self._unsaved.pop(0)
            if pending.video is not None and not pending.video.is_there():
                log.warning(
                    "job %s: its waiting video was taken over by a worker that started since; "
                    "leaving it to that worker",
                    pending.job_id,
                )
                continue
            log.info("job %s: storing the outcome that waited for the database", pending.job_id)
            self._last_write(pending)

    # --- the worker's row -------------------------------------------------------------

    def _register(self) -> None:
        try:
            self._register_row()
        except StoreUnavailable as exc:
            self.outage.failed(exc, "registering the worker")
        self._heartbeat.start()
        log.info("worker %s: started (engine factory %s)", self.id, self.factory)

    def _register_row(self) -> None:
        """Add this worker's row, and take over videos that earlier runs left in the spool."""
        info = WorkerInfo(id=self.id, host=self.host, pid=os.getpid(), state=WorkerState.STARTING)
        self.store.register_worker(info)
        self._registered = True
        for video in self._spool.take_over():
            log.info(
                "job %s: found its video from an earlier run in the spool; storing it if the "
                "lease is still valid",
                video.job_id,
            )
            self._unsaved.append(UnsavedWrite(video.job_id, video=video))

    def _shut_down(self) -> None:
        self._update(state=WorkerState.STOPPING)
        for job in list(self._active.values()):
            # Only reached when the loop itself failed: hand the jobs back for another worker.
            self._finish(job, lambda j: outcomes.give_back(self.store, j, None))
        if self._child is not None:
            self._child.stop(timeout=10.0)
            self._child = None
        self._heartbeat.stop()
        self._report_unsettled()
        try:
            self.store.remove_worker(self.id)
        except StoreError as exc:
            log.warning("worker %s: could not unregister: %s", self.id, exc)
        shutil.rmtree(self._workdir, ignore_errors=True)
        self._spool.close()
        log.info("worker %s: stopped", self.id)

    def _report_unsettled(self) -> None:
        """Stopping with the database still away: say what becomes of each job held."""
        for lease in self._unsent:
            log.warning(
                "job %s: stopping before its photo could be read; its lease will lapse and "
                "another worker will run it",
                lease.job.id,
            )
        for pending in self._unsaved:
            if pending.video is not None and pending.video.spooled:
                log.warning(
                    "job %s: its video waits in %s; the next worker to start stores it",
                    pending.job_id,
                    pending.video.video.parent,
                )
            else:
                log.warning(
                    "job %s: stopping before its outcome could be stored; its lease will lapse "
                    "and another worker will run it again",
                    pending.job_id,
                )

    def _busy_or_idle(self) -> WorkerState:
        if self.stopping:
            return WorkerState.STOPPING
        if self._child is not None and self._ready is None:
            return WorkerState.LOADING
        return WorkerState.BUSY if self._active else WorkerState.IDLE

    def _update(self, **fields: Any) -> None:
        if self.outage.active:
            return  # the row is brought up to date when the database is back
        try:
            self.store.update_worker(self.id, **fields)
        except StoreUnavailable as exc:
            self.outage.failed(exc, "updating the worker's row")
        except StoreError as exc:
            log.warning("worker %s: could not update its row: %s", self.id, exc)

    def _load_key(self) -> str:
        return load_key(self.factory, self.settings.model, self.host)

    def _gpu_reading(self) -> dict[str, Any] | None:
        reading = read_gpu(self.options.gpu_index)
        return None if reading is None else reading.to_dict()
