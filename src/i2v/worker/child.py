"""The child process: builds the engine, loads the model once, then makes video after video.

Three threads share the work so the GPU never waits on the CPU:

- the *inbox* thread reads the supervisor's messages at once (so a cancel lands
  while a step is running, and a big photo never blocks the pipe);
- the *main* thread runs ``engine.generate`` for one job after another;
- the *encoder* thread writes job N's MP4 while the main thread already
  generates job N+1.

Everything the supervisor needs to know travels back as events (``events.py``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from i2v.config import Settings, VideoConfig
from i2v.encoding import encode_mp4, make_thumbnail
from i2v.engine.base import Engine, Frames, RenderPlan
from i2v.engine.imageprep import photo_size
from i2v.errors import Canceled, EngineError, ErrorCode, I2VError, InputError
from i2v.jobs import Stage
from i2v.worker.events import (
    CancelJob,
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
    Shutdown,
)
from i2v.worker.factory import load_factory
from i2v.worker.progress import JobProgress

log = logging.getLogger(__name__)

#: When the supervisor vanishes, a job still running gets this long to notice the cancel.
ORPHAN_EXIT_SECONDS = 5.0


class Outbox:
    """Sends events to the supervisor from any thread; a vanished supervisor is not an error here."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def send(self, event: ChildEvent) -> None:
        """Send one event."""
        # A vanished supervisor is not an error here: the inbox thread ends this process.
        with self._lock, contextlib.suppress(OSError, ValueError):
            self._conn.send(event)


class Inbox:
    """Reads the supervisor's messages on a thread: jobs go to a queue, cancels to a set."""

    def __init__(self, conn: Connection) -> None:
        self.jobs: queue.Queue[RunJob | None] = queue.Queue()
        self._conn = conn
        self._canceled: set[str] = set()
        self._lock = threading.Lock()
        self._everything = False
        threading.Thread(target=self._read, name="i2v-inbox", daemon=True).start()

    def is_canceled(self, job_id: str) -> bool:
        """True once the supervisor asked to stop this job (or went away)."""
        with self._lock:
            return self._everything or job_id in self._canceled

    def _read(self) -> None:
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                message = None
            if isinstance(message, RunJob):
                self.jobs.put(message)
            elif isinstance(message, CancelJob):
                with self._lock:
                    self._canceled.add(message.job_id)
            elif isinstance(message, Shutdown) or message is None:
                with self._lock:
                    self._everything = message is None
                self.jobs.put(None)
                if message is None:
                    # Nobody is left to take the result; give a running step a moment to
                    # see the cancel, then go, even if a GPU call hangs.
                    time.sleep(ORPHAN_EXIT_SECONDS)
                    os._exit(0)
                return


class _ForwardLogs(logging.Handler):
    """Sends the engine's log records to the supervisor, which logs them with the job id.

    The job id is per thread: the encoder thread works on the job before the one the
    main thread generates.
    """

    def __init__(self, outbox: Outbox) -> None:
        super().__init__(logging.INFO)
        self._outbox = outbox
        self._local = threading.local()

    def working_on(self, job_id: str) -> None:
        """Tag this thread's records with ``job_id`` from now on."""
        self._local.job_id = job_id

    def emit(self, record: logging.LogRecord) -> None:
        job_id = getattr(self._local, "job_id", None)
        self._outbox.send(LogLine(job_id, record.levelno, f"{record.name}: {record.getMessage()}"))


@dataclass
class _Encode:
    job: RunJob
    frames: Frames
    plan: RenderPlan
    progress: JobProgress


def child_main(conn: Connection, factory_path: str, settings: Settings, workdir: str) -> None:
    """Entry point of the child process (spawned, so it behaves the same on every OS)."""
    ignore_stop_signals()
    outbox = Outbox(conn)
    inbox = Inbox(conn)
    forward = _ForwardLogs(outbox)
    logging.getLogger().addHandler(forward)
    logging.getLogger().setLevel(settings.log_level)
    engine = _load(factory_path, settings, outbox)
    if engine is None:
        return
    work = _Jobs(engine, settings, outbox, inbox, Path(workdir), forward)
    work.serve()


def ignore_stop_signals() -> None:
    """Leave Ctrl+C, Ctrl+Break and SIGTERM to the supervisor.

    A terminal sends Ctrl+C to the whole process group, and service managers send
    SIGTERM to every process of a service; the supervisor decides whether the job
    finishes or goes back to the queue, and kills this process when it must.
    """
    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)


def _load(factory_path: str, settings: Settings, outbox: Outbox) -> Engine | None:
    started = time.monotonic()
    loader = JobProgress("", outbox, lambda: False)
    try:
        engine = load_factory(factory_path)(settings)
        engine.setup(loader)
    except BaseException as exc:
        outbox.send(SetupFailed(describe(exc), traceback.format_exc()))
        return None
    outbox.send(LoadProgress(1.0))
    plan = str(getattr(engine, "memory_plan", "none"))
    outbox.send(Ready(engine.name, engine.model, time.monotonic() - started, plan))
    return engine


class _Jobs:
    """Generates on the main thread and encodes on another, one job ahead at most."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        outbox: Outbox,
        inbox: Inbox,
        workdir: Path,
        forward: _ForwardLogs,
    ) -> None:
        self.engine = engine
        self.video = VideoConfig.from_settings(settings)
        self.max_bytes = int(settings.max_video_mb * 1024 * 1024)
        self.outbox = outbox
        self.inbox = inbox
        self.workdir = workdir
        self.forward = forward
        self.encodes: queue.Queue[_Encode | None] = queue.Queue(maxsize=1)

    def serve(self) -> None:
        """Run jobs until told to stop, then let the last encode finish."""
        encoder = threading.Thread(target=self._encode_loop, name="i2v-encoder")
        encoder.start()
        while (job := self.inbox.jobs.get()) is not None:
            self.forward.working_on(job.job_id)
            self._generate(job)
        self.encodes.put(None)
        encoder.join()

    def _generate(self, job: RunJob) -> None:
        progress = JobProgress(job.job_id, self.outbox, lambda: self.inbox.is_canceled(job.job_id))
        # The job may have waited here for the previous one's last GPU work (prefetch);
        # its stall clock starts now.
        progress.stage(Stage.PREPROCESSING)
        try:
            if progress.cancel_requested():
                raise Canceled("canceled before it started")
            plan = self.engine.plan(job.spec, photo_size(job.photo, self.video))
            self.outbox.send(Planned(job.job_id, plan))
            frames = self.engine.generate(job.spec, job.photo, progress)
        except BaseException as exc:
            self.outbox.send(failure_event(job.job_id, exc))
            return
        progress.finish_generation()
        self.encodes.put(_Encode(job, frames, plan, progress))

    def _encode_loop(self) -> None:
        while (item := self.encodes.get()) is not None:
            self.forward.working_on(item.job.job_id)
            try:
                self.outbox.send(self._encode(item))
            except BaseException as exc:
                self.outbox.send(failure_event(item.job.job_id, exc, ErrorCode.ENCODE_FAILED))

    def _encode(self, item: _Encode) -> ChildEvent:
        job_id = item.job.job_id
        if item.progress.cancel_requested():
            return JobCanceled(job_id)
        video = self.workdir / f"{job_id}.mp4"
        info = encode_mp4(item.frames.pixels, item.frames.fps, video, max_bytes=self.max_bytes)
        thumbnail = self.workdir / f"{job_id}.jpg"
        thumbnail.write_bytes(make_thumbnail(item.frames.pixels[0]))
        if item.progress.cancel_requested():
            video.unlink(missing_ok=True)
            thumbnail.unlink(missing_ok=True)
            return JobCanceled(job_id)
        result = {
            **info.to_dict(),
            "engine": self.engine.name,
            "model": self.engine.model,
            "seed": item.job.spec.seed,
            "steps": item.plan.steps,
            "memory_plan": item.plan.memory_plan,
        }
        if item.plan.upscaled_from is not None:
            result["upscaled_from"] = list(item.plan.upscaled_from)
        return JobDone(
            job_id=job_id,
            video_path=str(video),
            thumbnail_path=str(thumbnail),
            result=result,
            stage_seconds=item.progress.finish(),
            step_seconds=item.progress.step_seconds(),
            notes=tuple(item.frames.notes),
        )


def failure_event(
    job_id: str, exc: BaseException, default: ErrorCode = ErrorCode.INTERNAL
) -> ChildEvent:
    """Turn an exception raised while making a job into the event that reports it."""
    if isinstance(exc, Canceled):
        return JobCanceled(job_id)
    if isinstance(exc, EngineError):
        return JobFailed(job_id, exc.code, exc.message, traceback.format_exc())
    if isinstance(exc, InputError):
        return JobFailed(job_id, ErrorCode.INVALID_INPUT, str(exc))
    code = ErrorCode.OUT_OF_MEMORY if "OutOfMemory" in type(exc).__name__ else default
    return JobFailed(job_id, code, describe(exc), traceback.format_exc())


def describe(exc: BaseException) -> str:
    """One line about an exception: our own errors speak for themselves, others get their type."""
    if isinstance(exc, I2VError) and str(exc):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
