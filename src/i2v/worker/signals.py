"""Graceful stop on SIGTERM, Ctrl+C, and Ctrl+Break on Windows; a second signal stops at once."""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from i2v.worker.supervisor import Worker


def install_stop_handlers(worker: Worker) -> Callable[[], None]:
    """Route stop signals to ``worker.stop()``; return a function that restores the old handlers.

    Must be called from the main thread (Python delivers signals only there).
    """
    names = [name for name in ("SIGTERM", "SIGINT", "SIGBREAK") if hasattr(signal, name)]
    previous: dict[int, Any] = {}

    def handle(signum: int, _frame: FrameType | None) -> None:
        # The first signal lets the running job finish within I2V_STOP_GRACE_SECONDS;
        # a second one (an impatient Ctrl+C) puts it back in the queue right away.
        worker.stop(immediately=worker.stopping)

    for name in names:
        number = getattr(signal, name)
        previous[number] = signal.signal(number, handle)

    def restore() -> None:
        for number, handler in previous.items():
            signal.signal(number, handler)

    return restore
