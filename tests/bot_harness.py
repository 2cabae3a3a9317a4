"""Running the real bot in the tests: in a thread of this process, or as an ``i2v bot`` process.

Either way it talks HTTP to a :class:`fake_bot_api.FakeBotApi` and reads and
writes a real job store, while a real worker (supervisor here, spawned child
process, Ken Burns engine) makes the videos: :func:`kenburns_worker`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot_engines import slow_down
from fake_bot_api import TOKEN, FakeBotApi, FakeUser
from i2v.bot import BotOptions, run_bot
from i2v.config import Settings
from i2v.jobs import Resolution
from i2v.store import JobStore
from i2v.worker import Worker
from worker_harness import fast_settings, worker_thread

#: Fast timings for tests; the edit interval stays long enough to be measured.
FAST = BotOptions(poll_seconds=0.1, edit_interval_seconds=1.0)


def bot_settings(
    api: FakeBotApi, database_url: str, tmp_path: Path, **overrides: object
) -> Settings:
    """Settings for a bot against the fake API, making tiny videos (480p, 1 s, 8 fps)."""
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "telegram_token": TOKEN,
        "telegram_api_url": api.url,
        "resolution": Resolution.P480,
        "duration_seconds": 1.0,
        "fps": 8,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def worker_settings(data_dir: Path, step_seconds: float = 0.0) -> Settings:
    """Settings for a real worker making the bot's videos with the Ken Burns engine.

    With ``step_seconds`` each step is slowed down (:mod:`bot_engines`), for tests
    that watch a job run; the stall and cancel clocks then allow for such a step.
    """
    if not step_seconds:
        return fast_settings(
            data_dir,
            factory="i2v.engine.factory:build_engine",
            engine="kenburns",
            # A real encode on a busy machine may pause for seconds; stalls are not tested here.
            stall_timeout_seconds=30.0,
        )
    slow_down(data_dir, step_seconds)
    return fast_settings(
        data_dir,
        factory="bot_engines:slow_kenburns",
        engine="kenburns",
        stall_timeout_seconds=3 * step_seconds,
        cancel_grace_seconds=2 * step_seconds,
    )


@contextmanager
def kenburns_worker(store: JobStore, data_dir: Path, step_seconds: float = 0.0) -> Iterator[Worker]:
    """A real worker serving ``store`` on a thread (its child in its own process) until the exit."""
    with worker_thread(store, worker_settings(data_dir, step_seconds)) as worker:
        yield worker


class BotThread:
    """The real bot (``run_bot``: polling or webhook, notifier and all) on its own loop in a thread."""

    def __init__(self, store: JobStore, settings: Settings, options: BotOptions = FAST) -> None:
        self.store = store
        self.settings = settings
        self.options = options
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._serve, name="bot", daemon=True)
        self._started = threading.Event()
        self.error: BaseException | None = None

    def start(self) -> BotThread:
        """Start the bot; return once its loop is running."""
        self._thread.start()
        self._started.wait(10)
        return self

    def stop(self) -> None:
        """Ask the bot to stop as a signal would, and wait for it."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        if self.error is not None:
            raise self.error

    def _serve(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by stop(), in the test's thread
            self.error = exc

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._started.set()
        await run_bot(self.store, self.settings, self.options, stop=self._stop)


def start_bot_process(
    api: FakeBotApi, database_url: str, tmp_path: Path, *, prelude: str = ""
) -> subprocess.Popen[bytes]:
    """``i2v bot`` as a separate process, configured through the environment like a real one.

    ``prelude`` is Python to run first; the process logs to ``bot.log`` in ``tmp_path``.
    """
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("I2V_")},
        "I2V_DATA_DIR": str(tmp_path / "data"),
        "I2V_DATABASE_URL": database_url,
        "I2V_TELEGRAM_TOKEN": TOKEN,
        "I2V_TELEGRAM_API_URL": api.url,
        "I2V_RESOLUTION": "480p",
        "I2V_DURATION_SECONDS": "1",
        "I2V_FPS": "8",
    }
    return subprocess.Popen(
        [sys.executable, "-c", f"{prelude}\nfrom i2v.cli.app import main; main()", "bot"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "bot.log", "ab"),
    )


ALICE = FakeUser(1001, "en", "Alice")
BORIS = FakeUser(1002, "ru", "Борис")
