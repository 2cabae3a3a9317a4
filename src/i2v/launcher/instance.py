"""One ``i2v up`` per data folder: a lock file the operating system releases when its holder dies.

The lock is a kernel lock on ``<data dir>/run/up.lock`` (``fcntl.flock`` on POSIX,
``msvcrt.locking`` on Windows), not the mere existence of a file: a holder killed
with kill -9, or a laptop that lost power, leaves no stale lock behind, and pid
reuse cannot fool it. The file's text says who holds it (pid, host, start time),
so a refused ``i2v up`` can say which process is in the way.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from i2v.errors import I2VError

#: Windows locks a byte range; lock one far past the text, so readers can still read it.
_WINDOWS_LOCK_OFFSET = 1 << 20


class AlreadyRunning(I2VError):
    """Another ``i2v up`` holds the data folder or the database's bot; its holder is in the text."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: enough for a person to find the process."""

    pid: int
    host: str
    started: str

    @classmethod
    def this_process(cls) -> Holder:
        """This process, started now."""
        now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        return cls(os.getpid(), socket.gethostname(), now)

    def describe(self) -> str:
        """``pid 1234 on laptop, started 2026-01-02T10:00:00+01:00``."""
        return f"pid {self.pid} on {self.host}, started {self.started}"

    def to_json(self) -> str:
        """The text written into the lock file."""
        return json.dumps({"pid": self.pid, "host": self.host, "started": self.started})

    @classmethod
    def from_json(cls, text: str) -> Holder | None:
        """Read a lock file's text; None if it is empty or garbled (a holder still writing)."""
        try:
            data: Any = json.loads(text)
            return cls(int(data["pid"]), str(data["host"]), str(data["started"]))
        except (ValueError, KeyError, TypeError):
            return None


class InstanceLock:
    """One ``i2v up`` per ``what``; :meth:`acquire` or raise :class:`AlreadyRunning`."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self._file: IO[str] | None = None

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> InstanceLock:
        """The lock of one data folder: ``<data dir>/run/up.lock``."""
        return cls(data_dir / "run" / "up.lock", f"the data folder {data_dir}")

    def acquire(self) -> None:
        """Take the lock, or raise AlreadyRunning naming its holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Opened without truncating: the holder's text must survive our failed attempt.
        # Python opens files non-inheritable, so no child of ours keeps the lock alive.
        file = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        if not _try_lock(file):
            file.seek(0)
            holder = Holder.from_json(file.read())
            file.close()
            who = holder.describe() if holder else "another process"
            raise AlreadyRunning(
                f"another i2v up already runs on {self.what} "
                f"({who}); stop it first (i2v down, or Ctrl+C in its terminal), or give this "
                "one its own I2V_DATA_DIR"
            )
        file.seek(0)
        file.truncate()
        file.write(Holder.this_process().to_json())
        file.flush()
        self._file = file

    def release(self) -> None:
        """Let go of the lock (it also goes when this process ends, however it ends)."""
        if self._file is None:
            return
        file, self._file = self._file, None
        try:
            file.seek(0)
            file.truncate()
        except OSError:
            pass
        _unlock(file)
        file.close()


def _try_lock(file: IO[str]) -> bool:
    if sys.platform == "win32":
        import msvcrt

        file.seek(_WINDOWS_LOCK_OFFSET)
        try:
            msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _unlock(file: IO[str]) -> None:
    try:
        if sys.platform == "win32":
            import msvcrt

            file.seek(_WINDOWS_LOCK_OFFSET)
            msvcrt.locking(file.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(file.fileno(), fcntl.LOCK_UN)
    except OSError:
        pass
