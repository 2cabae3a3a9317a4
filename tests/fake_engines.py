"""Fake engines for worker tests: they really sleep, hang, crash and run out of memory.

Each implements the real :class:`i2v.engine.base.Engine` interface and runs in the
worker's real spawned child process, built from an import path such as
``fake_engines:SlowEngine`` (``I2V_ENGINE_FACTORY``). A fake is tuned by
``fake.json`` in the settings' data folder and by flag files next to it, so a test
can change its behaviour while the worker runs; the fake records what it did in
``journal.log`` there, one line per event, for the test to read back.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np

from i2v.config import Settings
from i2v.engine.base import Frames, ProgressSink, RenderPlan
from i2v.errors import Canceled, EngineError, ErrorCode
from i2v.jobs import JobSpec, Stage

DEFAULTS: dict[str, Any] = {
    "steps": 4,
    "step_seconds": 0.05,
    "setup_seconds": 0.0,
    "frames": 6,
    "size": [64, 48],
    #: Frames of random noise, which x264 encodes slowly (the default ramps encode at once).
    "noise": False,
}


def configure(data_dir: Path, **values: Any) -> None:
    """Write the fakes' settings for a test (missing values take DEFAULTS)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "fake.json").write_text(json.dumps({**DEFAULTS, **values}))


def journal(data_dir: Path) -> list[list[str]]:
    """What the fakes did so far: one list of words per event (``setup PID``, ``step PID N T``)."""
    path = data_dir / "journal.log"
    if not path.exists():
        return []
    return [line.split() for line in path.read_text().splitlines() if line]


def setup_count(data_dir: Path) -> int:
    """How many times a model was loaded."""
    return sum(1 for words in journal(data_dir) if words[0] == "setup")


def step_times(data_dir: Path) -> list[float]:
    """When each step finished (time.time()), in order."""
    return [float(words[3]) for words in journal(data_dir) if words[0] == "step"]


class SlowEngine:
    """Steps slowly but steadily: ``steps`` steps of ``step_seconds`` each."""

    name = "fake"
    model = "slow"

    def __init__(self, settings: Settings) -> None:
        self.dir = settings.data_dir
        path = self.dir / "fake.json"
        self.config = {**DEFAULTS, **(json.loads(path.read_text()) if path.exists() else {})}

    def record(self, *words: object) -> None:
        """Append one event to the journal."""
        with (self.dir / "journal.log").open("a") as handle:
            handle.write(" ".join(str(word) for word in words) + "\n")

    def flag(self, name: str) -> str | None:
        """Read and keep a flag file's text (None if absent)."""
        path = self.dir / name
        return path.read_text() if path.exists() else None

    def take_flag(self, name: str) -> bool:
        """Consume a one-shot flag file: True the first time only."""
        try:
            (self.dir / name).unlink()
        except FileNotFoundError:
            return False
        return True

    def setup(self, progress: ProgressSink) -> None:
        """Pretend to load weights."""
        progress.load_progress(0.5)
        time.sleep(self.config["setup_seconds"])
        self.record("setup", os.getpid())

    def plan(self, spec: JobSpec, photo_size: tuple[int, int]) -> RenderPlan:
        """A tiny clip whose step count comes from fake.json."""
        width, height = self.config["size"]
        return RenderPlan(
            width=width,
            height=height,
            frames=self.config["frames"],
            fps=8,
            steps=self.config["steps"],
        )

    def generate(self, spec: JobSpec, photo: bytes, progress: ProgressSink) -> Frames:
        """Sleep through each step, asking after each one whether to stop."""
        plan = self.plan(spec, (0, 0))
        progress.stage(Stage.PREPROCESSING)
        progress.stage(Stage.GENERATING)
        for done in range(1, plan.steps + 1):
            time.sleep(self.config["step_seconds"])
            self.during_step(done)
            self.record("step", os.getpid(), done, time.time())
            if progress.step(done, plan.steps):
                self.record("canceled", os.getpid(), done)
                raise Canceled("canceled between steps")
        progress.stage(Stage.DECODING)
        self.during_decoding()
        if self.config["noise"]:
            shape = (plan.frames, plan.height, plan.width, 3)
            noise = np.random.default_rng(spec.seed).integers(0, 256, shape, dtype=np.uint8)
            return Frames(pixels=noise, fps=plan.fps)
        ramp = np.linspace(0, 255, plan.width, dtype=np.uint8)
        pixels = np.zeros((plan.frames, plan.height, plan.width, 3), np.uint8)
        for index in range(plan.frames):
            pixels[index, :, :, 0] = np.roll(ramp, index * 4)
        return Frames(pixels=pixels, fps=plan.fps)

    def during_step(self, done: int) -> None:
        """What else happens at step ``done`` (the misbehaving fakes override this)."""

    def during_decoding(self) -> None:
        """What else happens after the last step, while decoding (overridden like during_step)."""


class ModelEngine(SlowEngine):
    """Serves the model the settings name (I2V_MODEL), as the diffusers engine does."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.model = settings.model


class HangingEngine(SlowEngine):
    """Hangs forever at step 2 while the ``hang_once`` flag file exists (it removes the flag)."""

    model = "hangs"

    def during_step(self, done: int) -> None:
        if done == 2 and self.take_flag("hang_once"):
            self.record("hang", os.getpid())
            while True:
                time.sleep(3600)


class DecodeHangingEngine(SlowEngine):
    """Hangs in decoding, after its last step, while the ``hang_decoding_once`` flag exists (it removes it).

    The GPU steps are over, so the worker claims the next job meanwhile (prefetch) and
    the child holds that one, not yet begun, behind the hung one.
    """

    model = "hangs-decoding"

    def during_decoding(self) -> None:
        if self.take_flag("hang_decoding_once"):
            self.record("decode-hang", os.getpid())
            while True:
                time.sleep(3600)


class CrashingEngine(SlowEngine):
    """Kills its own process at step 2: once per ``crash_once`` flag, every time while ``crash_always`` exists.

    The flag's text says how: ``exit`` for os._exit, anything else for SIGKILL.
    """

    model = "crashes"

    def during_step(self, done: int) -> None:
        if done != 2:
            return
        how = self.flag("crash_always")
        if how is None and (how := self.flag("crash_once")) is not None:
            self.take_flag("crash_once")
        if how is not None:
            self.record("crash", os.getpid(), how or "sigkill")
            if how == "exit" or not hasattr(signal, "SIGKILL"):
                os._exit(3)
            os.kill(os.getpid(), signal.SIGKILL)


class FailingSetupEngine(SlowEngine):
    """``setup()`` raises, with the text of the ``setup_fails`` flag file, while that file exists."""

    model = "fails-setup"

    def setup(self, progress: ProgressSink) -> None:
        reason = self.flag("setup_fails")
        if reason is not None:
            self.record("setup-failed", os.getpid())
            raise EngineError(ErrorCode.MODEL_LOAD_FAILED, reason)
        super().setup(progress)


class OomEngine(SlowEngine):
    """Runs out of GPU memory at step 1, the way a CUDA out-of-memory error surfaces."""

    model = "oom"

    def during_step(self, done: int) -> None:
        raise EngineError(ErrorCode.OUT_OF_MEMORY, "CUDA out of memory: tried to allocate 2.00 GiB")


class BuggyEngine(SlowEngine):
    """Raises a library's kind of error at step 2, as a bug in an engine would."""

    model = "buggy"

    def during_step(self, done: int) -> None:
        if done == 2:
            raise ValueError("box offset can't be negative")
