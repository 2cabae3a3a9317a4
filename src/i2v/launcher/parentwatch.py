"""Children of ``i2v up`` stop by themselves when it is gone: closed terminal, kill -9, crash.

``i2v up`` starts every child with its stdin connected to a pipe that it never
writes to, and sets ``I2V_PARENT_WATCH`` to the child's stop budget in seconds.
Only ``i2v up`` holds the pipe's write end (it is not inherited by anyone), so
when ``i2v up`` ends for any reason the operating system closes it, and a read
on the child's side returns end-of-file at once. That works the same on Linux,
macOS and Windows, needs no polling, and cannot be fooled by a reused pid.

The child then stops itself the way ``i2v up`` would have stopped it: one
graceful stop signal (a worker lets its job finish or puts it back, the bot
stops polling, the API server closes), a second signal once the stop budget is
spent, and a hard exit if even that does not end it.

Two kernel helpers were weighed and left out on purpose: Linux's
``PR_SET_PDEATHSIG`` and a Windows Job Object with kill-on-close. The first
would deliver a stop signal the watch below also sends (and a second signal
means "stop at once"); the second kills without letting a worker put its job
back. The pipe gives the same promptness with the graceful path on both systems.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

#: Set by ``i2v up`` on its children: the child's stop budget, in seconds.
ENV = "I2V_PARENT_WATCH"
#: After the second signal, seconds before the child ends itself the hard way.
LAST_RESORT_SECONDS = 10.0
#: Exit code of a child that had to end itself the hard way.
ORPHAN_EXIT_CODE = 3


def child_environment(stop_seconds: float) -> dict[str, str]:
    """The environment entry that tells a child (with stdin as the watch pipe) to watch."""
    return {ENV: f"{stop_seconds:g}"}


def watch_parent(
    *, send_stop: Callable[[], None] | None = None, wait: Callable[[float], None] | None = None
) -> threading.Thread | None:
    """Start the watch if ``i2v up`` asked for it; return its thread (None when not asked).

    ``send_stop`` and ``wait`` default to signalling this process and sleeping; tests
    may pass their own.
    """
    value = os.environ.pop(ENV, None)  # grandchildren (a GPU child, server workers) ignore it
    if value is None:
        return None
    try:
        budget = max(0.0, float(value))
    except ValueError:
        log.warning("ignoring %s=%r: not a number of seconds", ENV, value)
        return None
    thread = threading.Thread(
        target=_watch,
        args=(budget, send_stop or send_stop_signal, wait or _sleep),
        name="i2v-parent-watch",
        daemon=True,
    )
    thread.start()
    return thread


def _watch(budget: float, send_stop: Callable[[], None], wait: Callable[[float], None]) -> None:
    wait_for_end_of_file()
    log.warning("i2v up is gone (closed terminal or killed); stopping by itself")
    send_stop()
    wait(budget)
    log.warning("still running %.0f s after i2v up went away; stopping at once", budget)
    send_stop()
    wait(LAST_RESORT_SECONDS)
    log.error("did not stop after a second signal; exiting")
    # Flush what can be flushed: nothing else will run after this.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(ORPHAN_EXIT_CODE)


def wait_for_end_of_file(fd: int = 0) -> None:
    """Block until the pipe on ``fd`` reports end-of-file (its writer is gone)."""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except InterruptedError:
            continue
        except OSError:
            # A broken pipe (Windows) or a closed descriptor: the writer is gone all the same.
            return
        if not chunk:
            return


def send_stop_signal() -> None:
    """Ask this very process to stop, through the handlers its command installed."""
    if sys.platform == "win32":
        # i2v up starts its children in process groups of their own (the group id is the
        # child's pid), which is what CTRL_BREAK_EVENT is addressed to; the worker, the bot
        # and uvicorn all stop gracefully on it.
        try:
            os.kill(os.getpid(), signal.CTRL_BREAK_EVENT)
            return
        except OSError:
            # The console went away with the terminal: raise the signal in-process instead.
            signal.raise_signal(signal.SIGBREAK)
            return
    # A process-directed signal, which Linux hands to the main thread first, so a main
    # thread blocked in a system call wakes up and runs the handler.
    os.kill(os.getpid(), signal.SIGTERM)


def _sleep(seconds: float) -> None:
    threading.Event().wait(seconds)
