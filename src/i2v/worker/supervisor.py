"""The worker's supervisor: claims jobs, keeps their leases, writes progress, enforces deadlines.

It never imports torch or touches CUDA. The engine lives in a child process
(``child.py``) that loads the model once; the supervisor kills and respawns that
child when it stalls or dies (``childcare.py``), and watches every job it holds
(``watch.py``). Read :meth:`Worker.run` top to bottom for the whole story.

A database outage after start-up never stops it (``outage.py``): the loop skips the
store while it is out of reach, tries it again with a capped backoff, and makes the
writes that waited (``_settle_unsaved``) as soon as it is back.
"""

from __future__ import annotations

import logging
import time

from i2v.config import Settings
from i2v.errors import StoreError, StoreUnavailable
from i2v.jobs import JobStatus, WorkerState
from i2v.store import PHOTO, JobStore, Lease, wakeups
from i2v.worker import events, outcomes
from i2v.worker.core import WorkerOptions
from i2v.worker.deadlines import say_seconds
from i2v.worker.eta import Expectation, plan_key
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
#: Longest an idle worker blocks on wake-ups before it checks its child, its database
#: outage and so on (a stop request ends the wait at once; see ``stop``).
IDLE_WAIT_SECONDS = 5.0


class Worker(JobWatch):
    """A supervisor with one child process; ``run()`` serves jobs until stopped."""

    def __init__(
        self, store: JobStore, settings: Settings, options: WorkerOptions | None = None
    ) -> None:
        super().__init__(store, settings, options)
        self._claimed = 0
        self._last_claim = float("-inf")
        #: (queued jobs, when) of the last look that found none this worker can run.
        self._passed_over: tuple[int, float] | None = None
        self._stop_announced = False
        self._feed = store.change_feed(settings.wakeup_safety_poll_seconds)
        #: Wakes the idle loop when a job is queued (or the safety poll passes).
        self._queued = self._feed.waiter([wakeups.QUEUED])
        self._woken = False

    # --- the loop ---------------------------------------------------------------------

    def run(self) -> int:
        """Serve jobs until stopped, out of work (burst) or done with ``max_jobs``; return 0."""
        self._register()
        try:
            while not self._finished():
                self._start_child_if_needed()
                for event in self._receive():
                    self._handle(event)
                if self._store_is_reachable():
                    self._settle_unsaved()
                    self._send_unsent()
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
        # An idle loop blocks on wake-ups for seconds: end that wait so the stop is seen now.
        self._feed.kick()

    def _finished(self) -> bool:
        if self._active:
            return False
        if self._unsaved or self._unsent:
            # Held for the database: wait for it, unless a stop's grace is over (a spooled
            # video survives the stop; any other job's lease lapses and it runs again).
            return self._stop_at is not None and time.monotonic() >= self._stop_at
        if self.stopping:
            return True
        if self.options.max_jobs is not None and self._claimed >= self.options.max_jobs:
            return True
        return self.options.burst and self._queue_empty

    # --- the database -----------------------------------------------------------------

    def _store_is_reachable(self) -> bool:
        """True unless in an outage; during one, try the database again once its backoff passed."""
        if not self.outage.active:
            return True
        if not self.outage.may_try():
            return False
        try:
            # Renew the leases first, before any worker's housekeeping can requeue them.
            if self._registered:
                self.store.heartbeat(self.id, self.held_job_ids())
            else:
                self._register_row()
        except StoreUnavailable as exc:
            self.outage.failed(exc, "trying the database again")
            return False
        self.outage.ended()
        self._update(state=self._busy_or_idle(), job_id=next(iter(self._active), None))
        return True

    def _send_unsent(self) -> None:
        """Jobs claimed just before an outage: read their photos now and start them."""
        # Only to a child: one that died meanwhile is replaced first (the jobs wait in order).
        while self._unsent and self._child is not None and not self.outage.active:
            self._take(self._unsent.pop(0))

    # --- claiming ---------------------------------------------------------------------

    def _claim_if_room(self) -> None:
        now = time.monotonic()
        if (
            self._child is None
            or self.stopping
            or self.outage.active
            or not self._has_room()
            or (self.options.max_jobs is not None and self._claimed >= self.options.max_jobs)
        ):
            return
        # Look only when the queue may hold a job: one was queued, the last look found one,
        # a job finished (it may be back in the queue), or the safety poll is due.
        safety = self.settings.wakeup_safety_poll_seconds
        woken = self._woken or self._queued.wait(0)
        if self._queue_empty and not woken and now - self._last_claim < safety:
            return
        self._woken = False
        self._last_claim = now
        try:
            lease = self._claim_next(now)
        except StoreUnavailable as exc:
            self.outage.failed(exc, "looking for a job")
            return
        self._queue_empty = lease is None
        if lease is not None:
            self._claimed += 1
            self._take(lease)

    def _has_room(self) -> bool:
        """Room for a job: none running, or (prefetch) the only one is done with the GPU steps."""
        if self._unsent:
            return False
        if not self._active:
            return True
        if not self.options.prefetch or self._ready is None or len(self._active) > 1:
            return False
        return all(job.is_past_generating for job in self._active.values())

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

    def _take(self, lease: Lease) -> None:
        try:
            photo = self.store.read_media(lease.job.id, PHOTO)
            expected = Expectation.prior(self.store.expected_job_seconds(lease.job.spec))
        except StoreUnavailable as exc:
            # The job is ours (the heartbeat keeps its lease); start it when the database is back.
            self.outage.failed(exc, f"job {lease.job.id}: reading its photo")
            log.info("job %s: claimed; its photo waits for the database", lease.job.id)
            self._unsent.append(lease)
            return
        now = time.monotonic()
        telemetry = JobTelemetry(lease.job.id, self.options.gpu_index)
        job = ActiveJob(
            lease, expected, telemetry, claimed_at=now, stage_started=now, last_event=now
        )
        self._active[job.id] = job
        log.info("job %s: claimed (attempt %d)", job.id, lease.job.attempts)
        assert self._child is not None
        self._child.send(events.RunJob(job.id, lease.token, lease.job.spec, photo))
        if self._ready is not None:
            job.start(now)
        self._update(state=self._busy_or_idle(), job_id=job.id)

    # --- events from the child --------------------------------------------------------

    def _receive(self) -> list[events.ChildEvent]:
        tick = BUSY_TICK_SECONDS if self._active else self.options.poll_seconds
        if self._child is None:
            time.sleep(tick)
            return []
        if self._active or self._ready is None or not self._queue_empty:
            return self._child.receive(tick)
        # Idle with a loaded model: the child has nothing to say, so block on the store's
        # wake-ups instead of polling it (a stop kicks the wait, so it is noticed at once).
        received = self._child.receive(0)
        if not received:
            self._woken = self._queued.wait(IDLE_WAIT_SECONDS) or self._woken
        return received

    def _handle(self, event: events.ChildEvent) -> None:
        match event:
            case events.Ready():
                self._on_ready(event)
            case events.SetupFailed():
                log.debug("worker %s: model load traceback:\n%s", self.id, event.traceback)
                self._load_failed(f"the model could not be loaded: {event.message}")
            case events.LoadProgress():
                log.debug("worker %s: model %.0f%% loaded", self.id, 100 * event.fraction)
            case events.LogLine():
                log.log(event.level, "job %s: %s", event.job_id or "-", event.message)
            case _:
                self._handle_job_event(event)

    def _handle_job_event(self, event: events.JobEvent) -> None:
        now = time.monotonic()
        job = self._active.get(event.job_id)
        if job is None or job.token != event.token:
            # An attempt this worker gave up (lease lost), though perhaps holding a retry of
            # the same job now: throw its output away, and never let it touch the retry.
            if isinstance(event, events.JobDone):
                outcomes.discard_files(event)
            return
        job.heard(now)
        match event:
            case events.Planned():
                job.plan = event.plan
                self._expect(job)
            case events.StageChanged():
                job.enter(event.stage, now)
                log.debug("job %s: %s", job.id, event.stage.value)
            case events.StepDone() | events.ChunkDone():
                job.stepped(event.done, event.total, now)
            case events.JobDone():
                engine = self._ready.engine if self._ready else ""
                video = outcomes.finished_video(job, event)
                self._finish_video(
                    job,
                    video,
                    lambda: outcomes.learn_from(
                        self.store, job, event, engine=engine, host=self.host
                    ),
                )
            case events.JobFailed():
                self._finish(job, lambda j: outcomes.fail_job(self.store, j, event))
            case events.JobCanceled():
                self._finish(job, lambda j: outcomes.cancel_job(self.store, j))

    def _expect(self, job: ActiveJob) -> None:
        """Now that the plan is known, expect what jobs with this plan took before."""
        if job.plan is None or self._ready is None or self.outage.active:
            return
        key = plan_key(self._ready.engine, self._ready.model, job.plan, self.host)
        try:
            timings = self.store.timings(key)
        except StoreError:
            return
        job.expected = Expectation.from_timings(timings, job.plan.steps, job.expected.total)

    def _check_child(self) -> None:
        """Notice a child that died on its own, once what it said before dying is handled."""
        child = self._child
        if child is None or child.is_alive():
            return
        for event in child.receive(0):
            self._handle(event)
        if self._child is child:
            self._child_died(child)

    # --- stopping ---------------------------------------------------------------------

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
