"""The supervisor's care of its child process: start it, see its model load or fail, replace it.

The child is killed rather than asked whenever it may be stuck, because a hung GPU
call can only be stopped by killing its process. Whatever happens to the child, each
job it held gets its last write here: failed, canceled, or back in the queue.
"""

from __future__ import annotations

import logging
import time

from i2v import messages
from i2v.config import Settings
from i2v.errors import ErrorCode, StoreError
from i2v.jobs import Stage, WorkerState
from i2v.store import JobStore
from i2v.worker import outcomes
from i2v.worker.childproc import ChildProcess
from i2v.worker.core import WorkerCore, WorkerOptions
from i2v.worker.deadlines import say_seconds
from i2v.worker.events import Ready
from i2v.worker.jobrun import ActiveJob
from i2v.worker.routing import claim_filter

log = logging.getLogger(__name__)


class ChildCare(WorkerCore):
    """Starts the child when due, backs off after failed loads, settles jobs when it is lost."""

    def __init__(
        self, store: JobStore, settings: Settings, options: WorkerOptions | None = None
    ) -> None:
        super().__init__(store, settings, options)
        self._load_failures = 0
        self._next_load_at = 0.0

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
            "worker %s: %s %s loaded in %.1f s with memory plan %s",
            self.id,
            event.engine,
            event.model,
            event.load_seconds,
            event.memory_plan,
        )
        now = time.monotonic()
        for job in self._active.values():
            job.start(now)
        serves = claim_filter(self.settings, event, self.options.job_id)
        self._update(
            state=self._busy_or_idle(),
            engine=event.engine,
            model=event.model,
            serves=serves.to_dict(),
            memory_plan=event.memory_plan,
        )
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
        # Users read the catalogue's sentence; the loader's own words are for admins.
        summary = messages.text("job.model_load_failed", "en")
        for job in list(self._active.values()):
            self._finish(
                job,
                lambda j: self.store.fail(
                    j.id, j.token, ErrorCode.MODEL_LOAD_FAILED, summary, detail=reason
                ),
            )
        self._update(state=WorkerState.IDLE, child_pid=None)

    def _child_died(self, child: ChildProcess) -> None:
        """The child ended on its own (segfault, out-of-memory killer, os._exit): replace it."""
        code = child.exitcode
        if self._ready is None:
            self._load_failed(
                f"the process loading the model exited unexpectedly (exit code {code})"
            )
            return
        self._discard_child(kill=False)
        message = f"the process making the video crashed (exit code {code})"
        log.error("worker %s: %s; starting a new one", self.id, message)
        # Only the job the child was working on pays an attempt; one prefetched behind it
        # lost nothing but its place and goes back uncounted.
        culprit = outcomes.crash_culprit(list(self._active.values()))
        for job in list(self._active.values()):
            self._finish(job, lambda j: outcomes.settle_crashed(self.store, j, culprit, message))

    def _kill_child(self, culprit: ActiveJob) -> None:
        """The child ignored a cancel: kill it, settle every job it held, start afresh."""
        log.warning(
            "job %s: the GPU process did not stop within the grace period; killing it", culprit.id
        )
        self._discard_child(kill=True)
        for job in list(self._active.values()):
            self._finish(job, lambda j: outcomes.settle_killed(self.store, j))

    def _discard_child(self, *, kill: bool) -> None:
        if self._child is not None:
            if kill:
                self._child.kill()
            else:
                self._child.stop(timeout=1.0)
        self._child = None
        self._ready = None
