"""Random sequences of transitions never break the store's invariants (Hypothesis state machine)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from i2v.errors import ErrorCode, LeaseLost
from i2v.jobs import JobSpec, JobStatus, Stage
from i2v.store import Lease, open_store_url

LEASE = 60.0
MAX_ATTEMPTS = 3


class StoreMachine(RuleBasedStateMachine):
    """Drives one SQLite store with a hand-moved clock and checks it after every step."""

    jobs = Bundle("jobs")
    leases = Bundle("leases")

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.now = 1_000_000.0
        url = f"sqlite:///{(Path(self.folder.name) / 'm.db').as_posix()}"
        self.store = open_store_url(
            url, lease_seconds=LEASE, max_attempts=MAX_ATTEMPTS, clock=lambda: self.now
        )
        #: Leases the model knows are stale: every write with them must be refused.
        self.stale: set[str] = set()
        #: Jobs the model saw reach a terminal status, with that status.
        self.finished: dict[str, JobStatus] = {}

    def teardown(self) -> None:
        self.store.close()
        self.folder.cleanup()

    @rule(target=jobs, priority=st.integers(0, 2))
    def submit(self, priority: int) -> str:
        return self.store.submit(JobSpec(priority=priority), b"p").id

    @rule(target=leases, worker=st.sampled_from(["a", "b"]))
    def claim(self, worker: str) -> Lease | None:
        lease = self.store.claim(worker)
        if lease is not None:
            assert lease.job.status is JobStatus.RUNNING
            assert lease.job.attempts <= MAX_ATTEMPTS
        return lease

    @rule(lease=leases, progress=st.floats(0, 1))
    def report(self, lease: Lease | None, progress: float) -> None:
        if lease is None:
            return
        try:
            self.store.report_progress(
                lease.job.id, lease.token, stage=Stage.GENERATING, progress=progress
            )
        except LeaseLost:
            # Legitimate when time passed and the lease expired; from now on it must stay refused.
            self.stale.add(lease.token)
        else:
            assert lease.token not in self.stale, "a stale lease was allowed to write"

    @rule(lease=leases, outcome=st.sampled_from(["succeed", "fail", "cancel", "release", "retry"]))
    def finish(self, lease: Lease | None, outcome: str) -> None:
        if lease is None:
            return
        job_id, token = lease.job.id, lease.token
        try:
            if outcome == "succeed":
                self.store.succeed(job_id, token, result={}, video=b"v")
            elif outcome == "fail":
                self.store.fail(job_id, token, ErrorCode.INTERNAL, "x")
            elif outcome == "cancel":
                self.store.mark_canceled(job_id, token)
            elif outcome == "release":
                self.store.release(job_id, token)
            else:
                self.store.release(job_id, token, error=(ErrorCode.STALLED, "stalled"))
        except LeaseLost:
            self.stale.add(token)
            return
        assert token not in self.stale, "a stale lease was allowed to finish a job"
        self.stale.add(token)

    @rule(job=jobs)
    def cancel(self, job: str) -> None:
        before = self.store.get(job).status
        after = self.store.request_cancel(job)
        if before is JobStatus.QUEUED:
            assert after.status is JobStatus.CANCELED
        if before.is_terminal:
            assert after.status is before

    @rule(seconds=st.sampled_from([1.0, 30.0, 61.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        self.store.requeue_expired()

    @rule(worker=st.sampled_from(["a", "b"]))
    def heartbeat(self, worker: str) -> None:
        self.store.heartbeat(worker)

    @invariant()
    def every_job_is_consistent(self) -> None:
        for job in self.store.list_jobs(limit=1000):
            assert 0.0 <= job.progress <= 1.0
            assert 0 <= job.attempts <= MAX_ATTEMPTS
            if job.status is JobStatus.RUNNING:
                assert job.worker_id is not None and job.started_at is not None
            if job.status.is_terminal:
                assert job.finished_at is not None
                assert self.finished.setdefault(job.id, job.status) is job.status, (
                    "a finished job changed"
                )
            if job.status is JobStatus.SUCCEEDED:
                assert self.store.read_media(job.id, "video") == b"v"
            if job.status is JobStatus.QUEUED:
                assert job.worker_id is None


TestStoreStateMachine = StoreMachine.TestCase
TestStoreStateMachine.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
