"""The worker's supervisor: claims jobs, keeps their leases, writes progress, enforces deadlines.

It never imports torch or touches CUDA. The engine lives in a child process
(``child.py``) that loads the model once; the supervisor kills and respawns that
child when it stalls or dies, because a hung GPU call can only be stopped by
killing its process. Read :meth:`Worker.run` top to bottom for the whole story.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

from i2v.config import Settings
from i2v.errors import ErrorCode, LeaseLost, StoreError
from i2v.gpu import read_gpu
from i2v.jobs import JobStatus, Stage, WorkerInfo, WorkerState
from i2v.store import PHOTO, JobStore, Lease
from i2v.worker import outcomes
from i2v.worker.childproc import ChildProcess
from i2v.worker.deadlines import say_seconds
from i2v.worker.eta import Expectation, load_key, plan_key
from i2v.worker.events import (
    ChildEvent,
    JobCanceled,
    JobDone,
    JobFailed,
    LoadProgress,
    LogLine,
    Planned,
    Ready,
    RunJob,
    SetupFailed,
    StageChanged,
    StepDone,
)
from i2v.worker.heartbeat import PURGE_SECONDS, Heartbeat
from i2v.worker.jobrun import ActiveJob
from i2v.worker.routing import claim_filter
from i2v.worker.telemetry import JobTelemetry
from i2v.worker.watch import JobWatch

log = logging.getLogger(__name__)

#: How long the loop waits for child events while a job runs (deadline resolution).
BUSY_TICK_SECONDS = 0.05
#: Queued jobs this worker cannot run (another model) are looked at again this often,
#: or as soon as the number of queued jobs changes.
RECHECK_SECONDS = 1.0


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
    #: How often an idle worker looks for a job.
    poll_seconds: float = 0.1
    #: Least time between two progress writes of one job (terminal writes are never held).
    progress_seconds: float = 1.0
    #: How often videos older than I2V_KEEP_RESULTS_DAYS are deleted.
    purge_seconds: float = PURGE_SECONDS
    #: Claim the next job while the current one encodes, so the GPU never waits.
    prefetch: bool = True
    #: First wait after a failed model load; it doubles after each failure in a row.
    load_backoff_seconds: float = 2.0
    load_backoff_max_seconds: float = 120.0


def new_worker_id(host: str) -> str:
    """A worker id unique to this process start: host, pid and a random suffix."""
    return f"{host}-{os.getpid()}-{secrets.token_hex(2)}"


class Worker(JobWatch):
    """A supervisor with one child process; ``run()`` serves jobs until stopped."""

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
        self._load_failures = 0
        self._next_load_at = 0.0
        self._last_claim = float("-inf")
        #: (queued jobs, when) of the last look that found none this worker can run.
        self._passed_over: tuple[int, float] | None = None
        self._last_gpu_sample = float("-inf")
        self._progress_seconds = self.options.progress_seconds
        self._claimed = 0
        self._queue_empty = False
        self._stop_at: float | None = None
        self._stop_announced = False
        self._stop_lock = threading.Lock()
        self._workdir = tempfile.mkdtemp(prefix="i2v-worker-")
        self._heartbeat = Heartbeat(
            store,
            self.id,
            interval=settings.worker_heartbeat_seconds,
            queue_ttl=settings.queue_ttl_seconds,
            keep_results=settings.keep_results_days * 86400,
            purge_every=self.options.purge_seconds,
            gpu=self._gpu_reading,
        )

    # --- the loop ---------------------------------------------------------------------

    def run(self) -> int:
        """Serve jobs until stopped, out of work (burst) or done with ``max_jobs``; return 0."""
        self._register()
        try:
            while not self._finished():
                self._start_child_if_needed()
                for event in self._receive():
                    self._handle(event)
                self._claim_if_room()
                self._check_child()
                self._enforce_deadlines()
                self._report_progress()
                self._sample_gpu()
                self._handle_stop()
        finally:
            self._shut_down()
        return 0

    def stop(self, *, immediately: bool = False) -> None:
        """Stop claiming; let running jobs finish within the stop grace (none if ``immediately``)."""
        with self._stop_lock:
            grace = 0.0 if immediately else self.settings.stop_grace_seconds
            deadline = time.monotonic() + grace
            if self._stop_at is None or deadline < self._stop_at:
                self._stop_at = deadline
        log.info("worker %s: stopping; running jobs get %s to finish", self.id, say_seconds(grace))

    @property
    def stopping(self) -> bool:
        """True once a stop was requested."""
        return self._stop_at is not None

    def _finished(self) -> bool:
        if self._active:
            return False
        if self.stopping:
            return True
        if self.options.max_jobs is not None and self._claimed >= self.options.max_jobs:
            return True
        return self.options.burst and self._queue_empty

    # --- child lifecycle --------------------------------------------------------------

    def _start_child_if_needed(self) -> None:
        if self._child is not None or self.stopping or time.monotonic() < self._next_load_at:
            return
        self._child = ChildProcess(self.factory, self.settings, self._workdir)
        self._ready = None
        log.info("worker %s: started GPU process %s; loading the model", self.id, self._child.pid)
        self._update(state=WorkerState.LOADING, child_pid=self._child.pid)

    def _on_ready(self, event: Ready) -> None:
        self._ready = event
        self.loads += 1
        self._load_failures = 0
        log.info(
            "worker %s: %s %s loaded in %.1f s",
            self.id,
            event.engine,
            event.model,
            event.load_seconds,
        )
        now = time.monotonic()
        for job in self._active.values():
            job.start(now)
        self._update(state=self._busy_or_idle(), engine=event.engine, model=event.model)
        try:
            self.store.record_timing(
                self._load_key(), Stage.LOADING_MODEL.value, event.load_seconds
            )
        except StoreError as exc:
            log.warning("worker %s: could not record the load time: %s", self.id, exc)

    def _load_failed(self, reason: str) -> None:
        """The model did not load: fail the jobs waiting for it and retry later, backing off."""
        self._discard_child(kill=True)
        self._load_failures += 1
        backoff = min(
            self.options.load_backoff_seconds * 2 ** (self._load_failures - 1),
            self.options.load_backoff_max_seconds,
        )
        self._next_load_at = time.monotonic() + backoff
        log.error(
            "worker %s: model load failed: %s; next try in %s",
            self.id,
            reason,
            say_seconds(backoff),
        )
        for job in list(self._active.values()):
            self._finish(
                job, lambda j: self.store.fail(j.id, j.token, ErrorCode.MODEL_LOAD_FAILED, reason)
            )
        self._update(state=WorkerState.IDLE, child_pid=None)

    def _check_child(self) -> None:
        """Notice a child that died on its own (segfault, out-of-memory killer, os._exit)."""
        child = self._child
        if child is None or child.is_alive():
            return
        for event in child.receive(0):  # what it said before dying still counts
            self._handle(event)
        if self._child is not child:
            return
        code = child.exitcode
        if self._ready is None:
            self._load_failed(
                f"the process loading the model exited unexpectedly (exit code {code})"
            )
            return
        self._discard_child(kill=False)
        message = f"the process making the video crashed (exit code {code})"
        log.error("worker %s: %s; starting a new one", self.id, message)
        for job in list(self._active.values()):
            self._finish(
                job, lambda j: outcomes.give_back(self.store, j, (ErrorCode.WORKER_LOST, message))
            )

    def _kill_child(self, culprit: ActiveJob) -> None:
        """The child ignored a cancel: kill it, settle every job it held, start afresh."""
        log.warning(
            "job %s: the GPU process did not stop within the grace period; killing it", culprit.id
        )
        self._discard_child(kill=True)
        for job in list(self._active.values()):
            if job.verdict is not None:
                error: tuple[ErrorCode, str] | None = (job.verdict.code, job.verdict.message)
                self._finish(job, lambda j, e=error: outcomes.give_back(self.store, j, e))
            elif job.cancel_sent_at is not None:
                self._finish(job, lambda j: self.store.mark_canceled(j.id, j.token))
            else:
                # A bystander lost its work through no fault of its own: no attempt counted.
                self._finish(job, lambda j: outcomes.give_back(self.store, j, None))

    def _discard_child(self, *, kill: bool) -> None:
        if self._child is not None:
            if kill:
                self._child.kill()
            else:
                self._child.stop(timeout=1.0)
        self._child = None
        self._ready = None

    # --- claiming ---------------------------------------------------------------------

    def _claim_if_room(self) -> None:
        now = time.monotonic()
        if (
            self._child is None
            or self.stopping
            or not self._has_room()
            or now - self._last_claim < self.options.poll_seconds
            or (self.options.max_jobs is not None and self._claimed >= self.options.max_jobs)
        ):
            return
        self._last_claim = now
        lease = self._claim_next(now)
        self._queue_empty = lease is None
        if lease is not None:
            self._claimed += 1
            self._take(lease)

    def _claim_next(self, now: float) -> Lease | None:
        """Claim the next job this worker can run (its engine and model); None if there is none."""
        wanted = claim_filter(self.settings, self._ready, self.options.job_id)
        queued = 0
        if wanted.job_id is None:
            # A read never waits for writers, so an idle worker can look often; only a
            # real claim takes the write lock, and only when the queue may hold a job
            # for this worker.
            queued = self.store.count_jobs(statuses=[JobStatus.QUEUED])
            passed = self._passed_over
            if queued == 0 or (
                passed is not None and passed[0] == queued and now - passed[1] < RECHECK_SECONDS
            ):
                return None
        lease = self.store.claim(
            self.id, engines=wanted.engines, models=wanted.models, job_id=wanted.job_id
        )
        self._passed_over = (queued, now) if lease is None and queued else None
        return lease

    def _has_room(self) -> bool:
        """Room for a job: none running, or (prefetch) the only one is done with the GPU steps."""
        if not self._active:
            return True
        if not self.options.prefetch or self._ready is None or len(self._active) > 1:
            return False
        return all(job.is_past_generating for job in self._active.values())

    def _take(self, lease: Lease) -> None:
        now = time.monotonic()
        expected = Expectation.prior(self.store.expected_job_seconds(lease.job.spec))
        telemetry = JobTelemetry(lease.job.id, self.options.gpu_index)
        job = ActiveJob(
            lease, expected, telemetry, claimed_at=now, stage_started=now, last_event=now
        )
        self._active[job.id] = job
        log.info("job %s: claimed (attempt %d)", job.id, lease.job.attempts)
        photo = self.store.read_media(job.id, PHOTO)
        assert self._child is not None
        self._child.send(RunJob(job.id, lease.job.spec, photo))
        if self._ready is not None:
            job.start(now)
        self._update(state=self._busy_or_idle(), job_id=job.id)

    # --- events from the child --------------------------------------------------------

    def _receive(self) -> list[ChildEvent]:
        tick = BUSY_TICK_SECONDS if self._active else self.options.poll_seconds
        if self._child is None:
            time.sleep(tick)
            return []
        return self._child.receive(tick)

    def _handle(self, event: ChildEvent) -> None:
        now = time.monotonic()
        if isinstance(event, Ready):
            self._on_ready(event)
        elif isinstance(event, SetupFailed):
            log.debug("worker %s: model load traceback:\n%s", self.id, event.traceback)
            self._load_failed(f"the model could not be loaded: {event.message}")
        elif isinstance(event, LoadProgress):
            log.debug("worker %s: model %.0f%% loaded", self.id, 100 * event.fraction)
        elif isinstance(event, LogLine):
            log.log(event.level, "job %s: %s", event.job_id or "-", event.message)
        elif (job := self._active.get(event.job_id)) is None:
            # A job this worker gave up (lease lost): throw its output away.
            if isinstance(event, JobDone):
                outcomes.discard_files(event)
        elif isinstance(event, Planned):
            job.plan = event.plan
            self._expect(job)
        elif isinstance(event, StageChanged):
            job.enter(event.stage, now)
            log.debug("job %s: %s", job.id, event.stage.value)
        elif isinstance(event, StepDone):
            job.stepped(event.done, event.total, now)
        elif isinstance(event, JobDone):
            engine = self._ready.engine if self._ready else ""
            self._finish(
                job,
                lambda j: outcomes.store_video(self.store, j, event, engine=engine, host=self.host),
            )
        elif isinstance(event, JobFailed):
            self._finish(job, lambda j: outcomes.fail_job(self.store, j, event))
        elif isinstance(event, JobCanceled):
            self._finish(job, lambda j: outcomes.cancel_job(self.store, j))

    def _expect(self, job: ActiveJob) -> None:
        """Now that the plan is known, expect what jobs with this plan took before."""
        if job.plan is None or self._ready is None:
            return
        key = plan_key(self._ready.engine, self._ready.model, job.plan, self.host)
        try:
            timings = self.store.timings(key)
        except StoreError:
            return
        job.expected = Expectation.from_timings(timings, job.plan.steps, job.expected.total)

    def _finish(self, job: ActiveJob, write: Any) -> None:
        """Make a job's last write and forget it; a lost lease means someone else owns it now."""
        self._active.pop(job.id, None)
        # The job may have gone back to the queue: a burst worker looks once more before it exits.
        self._queue_empty = False
        try:
            write(job)
        except LeaseLost:
            log.warning("job %s: lease lost (another worker took it); dropping this run", job.id)
        self._update(state=self._busy_or_idle(), job_id=next(iter(self._active), None))

    def _handle_stop(self) -> None:
        """Once stopping: say so, and when the grace is over put unfinished jobs back."""
        if self._stop_at is None:
            return
        if not self._stop_announced:
            self._stop_announced = True
            self._update(state=WorkerState.STOPPING)
        if not self._active or time.monotonic() < self._stop_at:
            return
        log.warning(
            "worker %s: stop grace over; putting %d job(s) back in the queue",
            self.id,
            len(self._active),
        )
        self._discard_child(kill=True)
        for job in list(self._active.values()):
            self._finish(job, lambda j: outcomes.give_back(self.store, j, None))

    # --- registration -----------------------------------------------------------------

    def _register(self) -> None:
        info = WorkerInfo(id=self.id, host=self.host, pid=os.getpid(), state=WorkerState.STARTING)
        self.store.register_worker(info)
        self._heartbeat.start()
        log.info("worker %s: started (engine factory %s)", self.id, self.factory)

    def _shut_down(self) -> None:
        self._update(state=WorkerState.STOPPING)
        for job in list(self._active.values()):
            # Only reached when the loop itself failed: hand the jobs back for another worker.
            try:
                self._finish(job, lambda j: outcomes.give_back(self.store, j, None))
            except StoreError as exc:
                log.error("job %s: could not put it back in the queue: %s", job.id, exc)
        if self._child is not None:
            self._child.stop(timeout=10.0)
            self._child = None
        self._heartbeat.stop()
        try:
            self.store.remove_worker(self.id)
        except StoreError as exc:
            log.warning("worker %s: could not unregister: %s", self.id, exc)
        shutil.rmtree(self._workdir, ignore_errors=True)
        log.info("worker %s: stopped", self.id)

    def _busy_or_idle(self) -> WorkerState:
        if self.stopping:
            return WorkerState.STOPPING
        if self._child is not None and self._ready is None:
            return WorkerState.LOADING
        return WorkerState.BUSY if self._active else WorkerState.IDLE

    def _update(self, **fields: Any) -> None:
        try:
            self.store.update_worker(self.id, **fields)
        except StoreError as exc:
            log.warning("worker %s: could not update its row: %s", self.id, exc)

    def _load_key(self) -> str:
        return load_key(self.factory, self.settings.model, self.host)

    def _gpu_reading(self) -> dict[str, Any] | None:
        reading = read_gpu(self.options.gpu_index)
        return None if reading is None else reading.to_dict()
