"""Helpers for the API tests: a real uvicorn server in a thread, and a Ken Burns worker.

The worker claims jobs from the store and makes real videos with the Ken Burns
engine and the MP4 encoder, reporting stage and progress through the store the
way ``i2v worker`` does. ``pace`` slows each progress report down, like the
"slow" fixture engines of the worker tests, so a browser can watch the bar move.
"""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from i2v.config import VideoConfig
from i2v.encoding import encode_mp4, make_thumbnail
from i2v.engine.kenburns import KenBurnsEngine
from i2v.errors import Canceled
from i2v.jobs import Stage, WorkerInfo, WorkerState
from i2v.store import JobStore, Lease

#: Share of the progress bar each stage fills (generating goes step by step).
WEIGHTS = {Stage.PREPROCESSING: 0.05, Stage.GENERATING: 0.85, Stage.ENCODING: 0.10}


class _StoreProgress:
    """A ProgressSink that writes stage, progress and ETA to the store with the job's lease."""

    def __init__(self, store: JobStore, lease: Lease, pace: float) -> None:
        self.store, self.lease, self.pace = store, lease, pace
        self.started = time.monotonic()
        self.done_share = 0.0
        self.current = Stage.PREPROCESSING

    def stage(self, stage: Stage) -> None:
        order = list(WEIGHTS)
        if stage in order:
            self.done_share = sum(WEIGHTS[s] for s in order[: order.index(stage)])
            self.current = stage
        self._report(self.done_share)

    def step(self, done: int, total: int) -> bool:
        time.sleep(self.pace)
        return self._report(self.done_share + WEIGHTS[Stage.GENERATING] * done / total)

    def load_progress(self, fraction: float) -> None:
        """Ken Burns loads nothing."""

    def _report(self, progress: float) -> bool:
        elapsed = time.monotonic() - self.started
        eta = elapsed * (1 - progress) / progress if progress > 0.01 else None
        return self.store.report_progress(
            self.lease.job.id,
            self.lease.token,
            stage=self.current,
            progress=progress,
            eta_seconds=eta,
        )


class KenBurnsWorker:
    """Claims jobs in a thread and makes their videos with the real engine and encoder."""

    def __init__(
        self, store: JobStore, *, pace: float = 0.0, worker_id: str = "test-worker"
    ) -> None:
        self.store, self.pace, self.worker_id = store, pace, worker_id
        self.engine = KenBurnsEngine(VideoConfig(), threads=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="kenburns-worker", daemon=True)
        self.errors: list[BaseException] = []

    def __enter__(self) -> KenBurnsWorker:
        self.store.register_worker(
            WorkerInfo(
                id=self.worker_id,
                host="localhost",
                pid=0,
                state=WorkerState.IDLE,
                engine="kenburns",
            )
        )
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.store.remove_worker(self.worker_id)

    def _loop(self) -> None:
        while not self._stop.is_set():
            lease = self.store.claim(self.worker_id)
            if lease is None:
                time.sleep(0.05)
                continue
            try:
                self._run(lease)
            except Exception as exc:  # the test reads these; a silent worker would hide a bug
                self.errors.append(exc)

    def _run(self, lease: Lease) -> None:
        job = lease.job
        sink = _StoreProgress(self.store, lease, self.pace)
        photo = self.store.read_media(job.id, "photo")
        try:
            frames = self.engine.generate(job.spec, photo, sink)
        except Canceled:
            self.store.mark_canceled(job.id, lease.token)
            return
        sink.stage(Stage.ENCODING)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "video.mp4"
            info = encode_mp4(frames.pixels, frames.fps, path)
            thumbnail = make_thumbnail(frames.pixels[0])
            result = {**info.to_dict(), "engine": "kenburns"}
            self.store.succeed(job.id, lease.token, result=result, video=path, thumbnail=thumbnail)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def live_server(app: object) -> Iterator[str]:
    """Serve ``app`` with uvicorn on loopback in a thread; yield its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
