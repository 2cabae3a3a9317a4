"""How ``i2v up`` learns that it should stop: Ctrl+C, SIGTERM, a closed terminal, Ctrl+Break.

The first stop signal stops gracefully (running jobs finish or go back to the
queue); a second one stops at once. A closed terminal counts as the first: on
POSIX it is SIGHUP, on Windows the console's close (or logoff, or shutdown)
event, which Python's ``signal`` module does not deliver, so a console control
handler is installed for it through ctypes.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

log = logging.getLogger("i2v.launcher")

#: Signals that stop ``i2v up`` (those this platform has).
STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK")
#: Windows ends a process this long after its console closes; stop within it.
CONSOLE_CLOSE_BUDGET_SECONDS = 4.5
#: Windows console events that mean the console (and with it, the terminal) goes away.
_CTRL_CLOSE_EVENT, _CTRL_LOGOFF_EVENT, _CTRL_SHUTDOWN_EVENT = 2, 5, 6


class StopSignals:
    """Counts stop requests: the first asks for a graceful stop, a second for an immediate one."""

    def __init__(self) -> None:
        self.count = 0
        #: Set once the supervisor has stopped everything (the console handler waits on it).
        self.finished = threading.Event()

    def requested(self) -> bool:
        """True once a stop signal came."""
        return self.count >= 1

    def forced(self) -> bool:
        """True once a second stop signal came."""
        return self.count >= 2

    def handle(self, signum: int, _frame: FrameType | None = None) -> None:
        """Count one stop request (a signal handler)."""
        self.count += 1
        if self.count == 1:
            if signum == getattr(signal, "SIGHUP", None):
                log.info("the terminal was closed: stopping")
            log.info(
                "stopping: running jobs finish or go back to the queue (Ctrl+C again: at once)"
            )
        elif self.count == 2:
            log.warning("stopping at once: running jobs go back to the queue")

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Route the stop signals (and, on Windows, the console's close) here while the block runs."""
        names = [name for name in STOP_SIGNALS if hasattr(signal, name)]
        if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) == signal.SIG_IGN:
            # Started under nohup (or a tool like it): whoever did that wants it to outlive
            # the terminal, so a hang-up stays ignored.
            names.remove("SIGHUP")
        previous = {name: signal.signal(getattr(signal, name), self.handle) for name in names}
        console = _install_console_close_handler(self)
        try:
            yield
        finally:
            self.finished.set()
            for name, handler in previous.items():
                signal.signal(getattr(signal, name), handler)
            if console is not None:
                console()


def _install_console_close_handler(stops: StopSignals) -> Callable[[], None] | None:
    """Windows: treat the console's close as a stop; return a function that removes the handler."""
    if sys.platform != "win32":
        return None
    import ctypes
    from ctypes import wintypes

    kernel32: Any = ctypes.WinDLL("kernel32", use_last_error=True)
    handler_type: Any = ctypes.WINFUNCTYPE(wintypes.BOOL, wintypes.DWORD)

    def on_event(event: int) -> bool:
        if event not in (_CTRL_CLOSE_EVENT, _CTRL_LOGOFF_EVENT, _CTRL_SHUTDOWN_EVENT):
            return False  # Ctrl+C and Ctrl+Break go on to Python's signal handlers
        # This runs on a thread of its own; Windows ends the process once it returns,
        # so wait here (within Windows' limit) for the graceful stop to get through.
        stops.handle(int(getattr(signal, "SIGBREAK", signal.SIGTERM)))
        stops.finished.wait(CONSOLE_CLOSE_BUDGET_SECONDS)
        return True

    callback = handler_type(on_event)
    if not kernel32.SetConsoleCtrlHandler(callback, True):
        log.warning("cannot watch for the console being closed: error %s", ctypes.get_last_error())
        return None

    def remove() -> None:
        kernel32.SetConsoleCtrlHandler(callback, False)

    return remove
