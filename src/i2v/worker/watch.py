"""What the supervisor checks on every turn of its loop: deadlines, progress writes, GPU readings.

A layer of :class:`i2v.worker.supervisor.Worker` (see ``core.py``): it stops jobs that
stall or run past their cap through the child's care below it.
"""

from __future__ import annotations

import logging
import time

from i2v.config import Settings
from i2v.errors import LeaseLost, StoreError, StoreUnavailable
from i2v.jobs import Stage
from i2v.store import JobStore, wakeups
from i2v.worker import deadlines
from i2v.worker.childcare import ChildCare
from i2v.worker.core import WorkerOptions
from i2v.worker.deadlines import Verdict, say_seconds
from i2v.worker.events import CancelJob
from i2v.worker.jobrun import ActiveJob

log = logging.getLogger(__name__)

#: How often GPU readings are taken during a job.
GPU_SAMPLE_SECONDS = 1.0


class JobWatch(ChildCare):
    """Deadline enforcement, throttled progress writes (which carry cancel back) and telemetry."""

    def __init__(
        self, store: JobStore, settings: Settings, options: WorkerOptions | None = None
    ) -> None:
        super().__init__(store, settings, options)
        self._last_gpu_sample = float("-inf")
        feed = store.change_feed(settings.wakeup_safety_poll_seconds)
        #: Cancel requests announced by the store, seen on the next turn of the loop.
        self._cancels = feed.waiter([wakeups.CANCEL])

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        child = self._child
        if child is not None and self._ready is None:
            if now - child.started_at > self.settings.model_load_timeout_seconds:
                limit = say_seconds(self.settings.model_load_timeout_seconds)
                self._load_failed(
                    f"loading the model took longer than {limit} (I2V_MODEL_LOAD_TIMEOUT_SECONDS)"
                )
            return
        for job in list(self._active.values()):
            if job.started_at is None:
                continue
            if job.cancel_sent_at is not None:
                if now - job.cancel_sent_at > self.settings.cancel_grace_seconds:
                    self._kill_child(job)
                    return
                continue
            verdict = deadlines.check(
                stage=job.stage,
                silent_for=now - job.last_event,
                running_for=now - job.started_at,
                expected=job.expected,
                settings=self.settings,
            )
            if verdict is not None:
                self._cancel(job, verdict)

    def _cancel(self, job: ActiveJob, verdict: Verdict | None) -> None:
        """Ask the child to stop the job at its next step; the grace clock starts now."""
        job.verdict = verdict
        job.cancel_sent_at = time.monotonic()
        if verdict is not None:
            log.warning("job %s: %s; stopping it", job.id, verdict.message)
        else:
            log.info("job %s: cancel requested; stopping it at the next step", job.id)
        if self._child is not None:
            self._child.send(CancelJob(job.id))

    def _report_progress(self) -> None:
        if self.outage.active:
            # Progress during an outage is dropped, not queued: the next write says it all.
            return
        self._check_cancels()
        now = time.monotonic()
        for job in list(self._active.values()):
            if now - job.reported_at < self.options.progress_seconds and not job.warnings_dirty:
                continue
            job.reported_at = now
            progress, left = job.estimate(now)
            if job.started_at is None:
                left += self._expected_load_left(now)
            try:
                cancel = self.store.report_progress(
                    job.id,
                    job.token,
                    stage=job.stage,
                    progress=progress,
                    eta_seconds=left,
                    warnings=job.warnings if job.warnings_dirty else None,
                )
            except LeaseLost:
                self._abandon(job)
                continue
            except StoreUnavailable as exc:
                self.outage.failed(exc, f"job {job.id}: writing its progress")
                return
            except StoreError as exc:
                log.warning("job %s: progress write failed: %s", job.id, exc)
                continue
            job.warnings_dirty = False
            if cancel and job.cancel_sent_at is None:
                self._cancel(job, None)

    def _check_cancels(self) -> None:
        """On a cancel notification, pass it to the child now, not at the next progress write."""
        if not self._active or not self._cancels.wait(0):
            return
        for job in list(self._active.values()):
            if job.cancel_sent_at is not None:
                continue
            try:
                canceled = self.store.get(job.id).cancel_requested
            except StoreUnavailable as exc:
                self.outage.failed(exc, f"job {job.id}: reading its cancel flag")
                return  # the next progress write carries the flag back anyway
            except StoreError:
                continue  # the next progress write carries the flag back anyway
            if canceled:
                self._cancel(job, None)

    def _abandon(self, job: ActiveJob) -> None:
        log.warning("job %s: lease lost (another worker took it); stopping this run", job.id)
        self._active.pop(job.id, None)
        if self._child is not None:
            self._child.send(CancelJob(job.id))

    def _expected_load_left(self, now: float) -> float:
        if self._child is None:
            return 0.0
        try:
            load = self.store.timings(self._load_key()).get(Stage.LOADING_MODEL.value)
        except StoreError:
            return 0.0
        return 0.0 if load is None else max(0.0, load.mean - (now - self._child.started_at))

    def _sample_gpu(self) -> None:
        now = time.monotonic()
        if now - self._last_gpu_sample < GPU_SAMPLE_SECONDS:
            return
        self._last_gpu_sample = now
        for job in self._active.values():
            warning = job.telemetry.sample(job.stage, now)
            if warning is not None:
                job.warn(warning)
