"""A small worker for the bot tests: claims jobs from the store and makes real videos.

It uses the real Ken Burns engine and the real MP4 encoder, and writes every
transition through the store's worker API (claim, report_progress, succeed,
mark_canceled), exactly as the production worker does. It runs in a thread so
a test can hold it (``paused``), slow it down (``step_delay``) or stop it.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from pathlib import Path

from i2v.encoding import encode_mp4, make_thumbnail
from i2v.engine.kenburns import KenBurnsEngine
from i2v.errors import Canceled
from i2v.jobs import Stage, WorkerInfo, WorkerState
from i2v.store import PHOTO, JobStore, Lease


class _Progress:
    """The engine's progress sink, written through to the store with the lease."""

    def __init__(self, worker: KenBurnsWorker, lease: Lease) -> None:
        self.worker = worker
        self.lease = lease
        self.cancel = False

    def stage(self, stage: Stage) -> None:
        self._write(stage, 0.05)

    def step(self, done: int, total: int) -> bool:
        time.sleep(self.worker.step_delay)
        self._write(Stage.GENERATING, 0.05 + 0.8 * done / max(1, total))
        return self.cancel

    def load_progress(self, fraction: float) -> None:
        pass

    def _write(self, stage: Stage, progress: float) -> None:
        job = self.lease.job
        left = (1.0 - progress) * (job.eta_seconds or 1.0)
        self.cancel = self.worker.store.report_progress(
            job.id, self.lease.token, stage=stage, progress=progress, eta_seconds=left
        )


class KenBurnsWorker:
    """Serves jobs in a background thread until :meth:`stop`."""

    def __init__(
        self, store: JobStore, *, step_delay: float = 0.0, worker_id: str = "test-worker"
    ) -> None:
        self.store = store
        self.step_delay = step_delay
        self.id = worker_id
        self.paused = threading.Event()
        self.done: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=worker_id, daemon=True)
        self._engine = KenBurnsEngine(threads=1)
        self._workdir = Path(tempfile.mkdtemp(prefix="i2v-test-worker-"))

    def start(self) -> KenBurnsWorker:
        """Register in the store and start serving."""
        self.store.register_worker(
            WorkerInfo(
                id=self.id,
                host=socket.gethostname(),
                pid=os.getpid(),
                state=WorkerState.IDLE,
                engine="kenburns",
            )
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the current job."""
        self._stop.set()
        self._thread.join(30)
        self.store.remove_worker(self.id)

    def _run(self) -> None:
        last_beat = 0.0
        while not self._stop.is_set():
            if time.monotonic() - last_beat > 1.0:
                self.store.heartbeat(self.id)
                last_beat = time.monotonic()
            lease = None if self.paused.is_set() else self.store.claim(self.id)
            if lease is None:
                time.sleep(0.05)
                continue
            self._serve(lease)

    def _serve(self, lease: Lease) -> None:
        job = lease.job
        progress = _Progress(self, lease)
        try:
            photo = self.store.read_media(job.id, PHOTO)
            frames = self._engine.generate(job.spec, photo, progress)
        except Canceled:
            self.store.mark_canceled(job.id, lease.token)
            return
        progress._write(Stage.ENCODING, 0.9)
        path = self._workdir / f"{job.id}.mp4"
        info = encode_mp4(frames.pixels, frames.fps, path)
        thumbnail = make_thumbnail(frames.pixels[frames.count // 2])
        self.store.succeed(
            job.id, lease.token, result=info.to_dict(), video=path, thumbnail=thumbnail
        )
        path.unlink(missing_ok=True)
        self.done.append(job.id)
