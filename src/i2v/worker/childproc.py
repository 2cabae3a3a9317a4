"""The supervisor's handle on its child process: start, send, receive events, kill."""

from __future__ import annotations

import logging
import multiprocessing
import time
from multiprocessing.process import BaseProcess

from i2v.config import Settings
from i2v.worker.child import child_main
from i2v.worker.events import ChildEvent, RunJob, Shutdown

log = logging.getLogger(__name__)


class ChildProcess:
    """One spawned child: it loads the engine once, then runs the jobs it is sent."""

    def __init__(self, factory_path: str, settings: Settings, workdir: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child_conn = context.Pipe()
        # Not a daemon: an engine may start helper processes (compilers, loaders),
        # which daemonic processes are not allowed to have. The supervisor always
        # stops its child on the way out instead.
        self._process: BaseProcess = context.Process(
            target=child_main,
            args=(child_conn, factory_path, settings, workdir),
            name="i2v-child",
        )
        self._process.start()
        child_conn.close()
        self.started_at = time.monotonic()
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The child's process id."""
        return self._process.pid

    @property
    def exitcode(self) -> int | None:
        """The exit code once it ended (negative: killed by that signal)."""
        return self._process.exitcode

    def is_alive(self) -> bool:
        """True while the process runs."""
        return self._process.is_alive()

    def send(self, message: RunJob | object) -> bool:
        """Send a message; False if the child is gone."""
        if self._closed:
            return False
        try:
            self._conn.send(message)
        except (OSError, ValueError):
            return False
        return True

    def receive(self, timeout: float) -> list[ChildEvent]:
        """Wait up to ``timeout`` seconds for events; return all that arrived."""
        events: list[ChildEvent] = []
        if self._closed:
            time.sleep(timeout)
            return events
        try:
            if not self._conn.poll(timeout):
                return events
            while True:
                events.append(self._conn.recv())
                if not self._conn.poll(0):
                    break
        except (EOFError, OSError):
            # The child is gone; what it sent before dying was already collected.
            self._closed = True
        return events

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the child to exit after its current work, and kill it if it does not."""
        self.send(Shutdown())
        self._process.join(timeout)
        if self._process.is_alive():
            self.kill()
        self._close()

    def kill(self) -> None:
        """Kill the child at once (the only way to stop a hung GPU call) and reap it."""
        if self._process.is_alive():
            self._process.kill()
        self._process.join(10)
        self._close()

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            self._conn.close()
