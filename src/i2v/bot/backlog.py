"""Photos that arrived while the database was away, kept on disk until they can be queued.

A photo sent during an outage is not answered "try again later" and forgotten:
the bot keeps the photo and its job spec in ``<data dir>/bot/backlog`` (a JSON
file and the image, side by side), tells the user the video will come, and
queues the job as soon as the store answers again. The spec carries the chat
and message ids, so the notifier then sends the status message and the video
like for any other job. The files outlive a bot restart, and the spec's dedupe
key makes a retried submit that had in fact gone through harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
from pathlib import Path

from i2v.errors import I2VError, StoreUnavailable
from i2v.jobs import JobSpec
from i2v.store import JobStore

log = logging.getLogger(__name__)

#: Seconds between two tries to queue what waits, while the database is away.
RETRY_SECONDS = 5.0


class Backlog:
    """A folder of photos waiting for the database; :meth:`run` queues them when it is back."""

    def __init__(self, folder: Path, *, retry_seconds: float = RETRY_SECONDS) -> None:
        self.folder = folder
        self.retry_seconds = retry_seconds
        self._added = asyncio.Event()
        self._outage_since: float | None = None

    def keep(self, spec: JobSpec, photo: bytes, content_type: str) -> None:
        """Keep a photo and its spec until the database takes them (raises OSError if full)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        image = self.folder / f"{name}.image"
        image.write_bytes(photo)
        entry = {"spec": spec.to_dict(), "content_type": content_type, "image": image.name}
        partial = self.folder / f"{name}.tmp"
        partial.write_text(json.dumps(entry), encoding="utf-8")
        # The JSON appears last and whole: a crash in between leaves no half entry to queue.
        os.replace(partial, self.folder / f"{name}.json")
        self._added.set()

    def waiting(self) -> list[Path]:
        """The entries waiting, oldest first."""
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob("*.json"))

    def submit_waiting(self, store: JobStore) -> int:
        """Queue every waiting photo, oldest first; stop at the first sign of the outage."""
        queued = 0
        for entry in self.waiting():
            try:
                data = json.loads(entry.read_text(encoding="utf-8"))
                image = self.folder / str(data["image"])
                spec = JobSpec.from_dict(data["spec"])
                job = store.submit(spec, image.read_bytes(), content_type=str(data["content_type"]))
            except StoreUnavailable:
                raise
            except (OSError, ValueError, KeyError, I2VError) as exc:
                # Not an outage: this entry can never be queued; do not block the others on it.
                log.error("backlog: dropping %s, which cannot be queued: %s", entry.name, exc)
                image = self.folder / entry.with_suffix(".image").name
            else:
                log.info("job %s: queued from the backlog (chat %s)", job.id, _chat(spec))
                queued += 1
            entry.unlink(missing_ok=True)
            image.unlink(missing_ok=True)
        return queued

    async def run(self, store: JobStore) -> None:
        """Queue what waits whenever something does, until cancelled (what waits stays on disk)."""
        while True:
            if self.waiting():
                try:
                    await asyncio.to_thread(self.submit_waiting, store)
                    self._outage_over()
                except StoreUnavailable as exc:
                    self._outage_seen(exc)
            self._added.clear()
            # While entries wait, look again after the retry delay; else sleep until one comes.
            timeout = self.retry_seconds if self.waiting() else None
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._added.wait(), timeout)

    def _outage_seen(self, exc: Exception) -> None:
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log.warning(
                "backlog: %d photo(s) wait for the database, retrying every %.0f s: %s",
                len(self.waiting()),
                self.retry_seconds,
                exc,
            )

    def _outage_over(self) -> None:
        if self._outage_since is not None:
            log.info(
                "backlog: the database is back after %.0f s; waiting photos are queued",
                time.monotonic() - self._outage_since,
            )
            self._outage_since = None


def _chat(spec: JobSpec) -> object:
    return (spec.notify or {}).get("chat_id")
