"""The change feed: one store poll per interval, shared by every open event stream.

The store has no notifications (SQLite cannot send any, and workers may be on
other hosts), so the API polls. Polling once for all streams instead of once per
stream keeps 200 open streams as cheap as one. Each poll asks for jobs updated
recently and wakes the streams of jobs that moved; when any job enters or leaves
the queue, streams of queued jobs wake too, because their position may have changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import anyio.to_thread

from i2v.errors import StoreError
from i2v.jobs import JobStatus
from i2v.store import JobStore, wakeups
from i2v.store.wakeups import CHANGED, QUEUED

log = logging.getLogger(__name__)

#: Least time between two reads of the store while any stream is open (reads wait for wake-ups).
POLL_SECONDS = 0.25
#: A write stamps updated_at before it waits for the database lock and commits, and hosts'
#: clocks differ a little, so each poll looks this far behind the newest change it saw.
LOOKBACK_SECONDS = 5.0
#: More changed jobs than this in one poll: wake every stream rather than miss one.
MAX_ROWS = 1000


@dataclass(eq=False)
class Subscription:
    """One open stream's interest in one job; ``changed`` is set when it should look again."""

    job_id: str
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set by the stream while its job is queued, so queue movement wakes it.
    queued: bool = False

    async def wait(self, timeout: float) -> bool:
        """Wait until the job may have changed; False if ``timeout`` passed first."""
        with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
            await asyncio.wait_for(self.changed.wait(), timeout)
            return True
        return False


class ChangeFeed:
    """Polls the store while anyone listens and wakes the subscriptions whose job changed."""

    def __init__(self, store: JobStore, poll_seconds: float = POLL_SECONDS) -> None:
        self.store = store
        self.poll_seconds = poll_seconds
        self._subs: set[Subscription] = set()
        self._seen: dict[str, tuple[float, str]] = {}
        self._watermark: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def subscribe(self, job_id: str) -> Subscription:
        """Start watching ``job_id``; the poller starts with the first subscription."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # A new event loop (tests start one per client): earlier subscriptions died with theirs.
            self._subs, self._loop, self._task = set(), loop, None
        sub = Subscription(job_id)
        self._subs.add(sub)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name="i2v-change-feed")
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop watching; the poller stops by itself once nobody listens."""
        self._subs.discard(sub)

    @property
    def listeners(self) -> int:
        """Open subscriptions."""
        return len(self._subs)

    async def close(self) -> None:
        """Stop the poller (on shutdown)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        changes = await wakeups.open_waiter(self.store.change_feed, [QUEUED, CHANGED])
        while self._subs:
            try:
                moved, queue_moved = await anyio.to_thread.run_sync(self._poll)
            except StoreError as exc:
                log.warning("change feed: cannot poll the store: %s", exc)
                moved, queue_moved = set(), True
            for sub in list(self._subs):
                if sub.job_id in moved or (queue_moved and sub.queued):
                    sub.changed.set()
            # Wake on the store's notifications; poll_seconds only spaces the reads.
            await asyncio.sleep(self.poll_seconds)
            await changes.wait_async(changes.safety_poll_seconds)
        self._watermark = None
        self._seen.clear()

    def _poll(self) -> tuple[set[str], bool]:
        """Return the ids of jobs that changed since the last poll and whether the queue moved.

        On the first poll every recent job counts as changed: a stream that read its job
        just before the poller started must not miss a change made in between.
        """
        now = self.store.now()
        since = min(now, self._watermark or now) - LOOKBACK_SECONDS
        jobs = self.store.list_jobs(updated_after=since, limit=MAX_ROWS)
        moved: set[str] = set()
        queue_moved = len(jobs) >= MAX_ROWS
        newest = since
        for job in jobs:
            stamp = job.updated_at.timestamp() if job.updated_at else now
            newest = max(newest, stamp)
            before = self._seen.get(job.id)
            self._seen[job.id] = (stamp, job.status.value)
            if before is None or before[0] != stamp:
                moved.add(job.id)
                if (
                    before is None
                    or before[1] != job.status.value
                    or job.status is JobStatus.QUEUED
                ):
                    queue_moved = True
        self._watermark = newest
        self._seen = {k: v for k, v in self._seen.items() if v[0] > since}
        return moved, queue_moved
