"""One child process: started in its own process group, stopped with one polite signal, or killed."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from i2v.launcher.children import ChildSpec
from i2v.launcher.parentwatch import child_environment

log = logging.getLogger(__name__)


class ChildProcess:
    """A running child whose output lines go to ``on_line``."""

    def __init__(self, spec: ChildSpec, on_line: Callable[[str, str], None]) -> None:
        env = {
            **os.environ,
            **spec.env,
            **child_environment(spec.stop_seconds),
            "PYTHONUNBUFFERED": "1",
            "PYTHONIOENCODING": "utf-8",
        }
        if sys.platform == "win32":
            # A group of its own: the console's Ctrl+C reaches only ``i2v up``, and
            # CTRL_BREAK_EVENT sent to this group reaches only this child.
            flags, new_session = subprocess.CREATE_NEW_PROCESS_GROUP, False
        else:
            # A session of its own, for the same reason: a terminal's Ctrl+C goes to the
            # foreground group only, and ``i2v up`` forwards exactly one stop signal
            # (a second one would tell the worker to drop its job at once).
            flags, new_session = 0, True
        self.spec = spec
        self.started_at = time.monotonic()
        self.popen = subprocess.Popen(
            list(spec.argv),
            # The parent watch (see parentwatch.py): a pipe we never write to, whose end
            # of file tells the child that i2v up is gone, however it ended.
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            encoding="utf-8",
            errors="replace",
            creationflags=flags,
            start_new_session=new_session,
        )
        self.pid = self.popen.pid
        self._pump = threading.Thread(
            target=self._read_output, args=(on_line,), name=f"output-{spec.name}", daemon=True
        )
        self._pump.start()

    def _read_output(self, on_line: Callable[[str, str], None]) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            on_line(self.spec.name, line.rstrip("\r\n"))

    def poll(self) -> int | None:
        """The exit code once the child has ended (negative: ended by that signal), else None."""
        code: int | None = self.popen.poll()
        if code is not None:
            # Let the last lines (often the reason it died) reach the log before we report.
            self._pump.join(timeout=2)
            if self.popen.stdin is not None and not self.popen.stdin.closed:
                self.popen.stdin.close()
        return code

    def request_stop(self) -> None:
        """Ask the child to stop gracefully: SIGINT, or CTRL_BREAK_EVENT on Windows."""
        if self.popen.poll() is not None:
            return
        try:
            if sys.platform == "win32":
                self.popen.send_signal(signal.CTRL_BREAK_EVENT)
            else:
                # SIGINT, as a terminal's Ctrl+C would send: the worker, the bot (aiogram)
                # and the API server (uvicorn) all stop cleanly on it.
                self.popen.send_signal(signal.SIGINT)
        except OSError as exc:
            log.warning("could not signal %s (pid %s): %s", self.spec.name, self.pid, exc)

    def kill(self) -> None:
        """Kill the child and everything it started (a worker's GPU process too)."""
        if self.popen.poll() is not None:
            return
        if sys.platform == "win32":
            subprocess.run(
                ["taskkill", "/T", "/F", "/PID", str(self.pid)],
                capture_output=True,
                check=False,
            )
        else:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:
                self.popen.kill()
