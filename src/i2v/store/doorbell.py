"""A same-machine doorbell for SQLite, so idle waiters sleep instead of polling the file.

Every process that waits for changes (a worker, the bot, the API) binds a UDP socket
on 127.0.0.1 and records its port as a file in ``<database>.bells/``. After a commit
that announces something (a job queued, a cancel, progress), the writer, whichever
process it is, sends a one-byte datagram to each port listed there. UDP on the
loopback works on Windows too, unlike datagrams on AF_UNIX sockets.

A ring is only a hint to look now: what changed is still read from the database, and
a lost datagram (a full buffer, a stale or missing file, a writer on another machine
or an older version) costs no more than the waiter's slow safety check.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
BELLS_SUFFIX = ".bells"
#: A writer lists the bell folder again when it changed, or at least this often.
RELIST_SECONDS = 2.0


def bell_folder(database: str | None) -> Path | None:
    """The folder where listeners of this SQLite file record their ports (None in memory)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(os.path.abspath(database))
    return path.with_name(path.name + BELLS_SUFFIX)


class Doorbell:
    """One listener: a loopback UDP socket whose port is recorded in the bell folder."""

    def __init__(self, folder: Path) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((LOOPBACK, 0))
            self.port: int = self._sock.getsockname()[1]
            folder.mkdir(exist_ok=True)
            _prune(folder)
            self.file = folder / f"{os.getpid()}-{self.port}"
            self.file.write_text(f"{self.port}\n", encoding="ascii")
        except OSError:
            self._sock.close()
            raise

    def wait(self, timeout: float) -> bool:
        """Block until rung or ``timeout`` passed; True if rung (all pending rings taken)."""
        try:
            self._sock.settimeout(max(timeout, 1e-6))
            self._sock.recv(16)
        except OSError:  # timed out (socket.timeout is an OSError), or closed meanwhile
            return False
        with contextlib.suppress(OSError):
            self._sock.setblocking(False)
            while True:
                self._sock.recv(16)
        return True

    def ring(self) -> None:
        """Ring this listener from its own process (to wake its thread, e.g. to close)."""
        with contextlib.suppress(OSError):
            self._sock.sendto(b"!", (LOOPBACK, self.port))

    def close(self) -> None:
        """Forget the port file and close the socket."""
        with contextlib.suppress(OSError):
            self.file.unlink()
        self._sock.close()


def _prune(folder: Path) -> None:
    """Remove the port files of processes that are gone (POSIX; on Windows they stay, harmless)."""
    if sys.platform == "win32":
        return
    for entry in folder.iterdir():
        pid = _pid_of(entry.name)
        if pid is None or pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                entry.unlink()
        except OSError:
            continue  # alive, but another user's


def _pid_of(name: str) -> int | None:
    pid, _, port = name.partition("-")
    return int(pid) if pid.isdigit() and port.isdigit() else None


def _port_of(name: str) -> int | None:
    pid, _, port = name.partition("-")
    return int(port) if pid.isdigit() and port.isdigit() and 0 < int(port) < 65536 else None


class _Ringer:
    """The writer's side: one unbound socket and a cached listing per bell folder."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        #: folder -> (its mtime, when listed, the ports in it)
        self._listed: dict[Path, tuple[int, float, list[int]]] = {}

    def ring(self, folder: Path) -> None:
        try:
            mtime = folder.stat().st_mtime_ns
        except OSError:
            return  # nobody listens here
        with self._lock:
            ports = self._ports(folder, mtime)
            if not ports:
                return
            if self._sock is None:
                self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self._sock.setblocking(False)
            for port in ports:
                # A gone listener or a full buffer loses this ring: the safety check covers it.
                with contextlib.suppress(OSError):
                    self._sock.sendto(b"!", (LOOPBACK, port))

    def _ports(self, folder: Path, mtime: int) -> list[int]:
        now = time.monotonic()
        cached = self._listed.get(folder)
        if cached is not None and cached[0] == mtime and now - cached[1] < RELIST_SECONDS:
            return cached[2]
        try:
            names = [entry.name for entry in folder.iterdir()]
        except OSError:
            names = []
        ports = [p for p in map(_port_of, names) if p is not None]
        self._listed[folder] = (mtime, now, ports)
        return ports


_ringer = _Ringer()


def ring(folder: Path) -> None:
    """Ring every listener recorded in ``folder`` (never raises; a lost ring costs a safety check)."""
    try:
        _ringer.ring(folder)
    except Exception as exc:  # a doorbell must never fail a write that already committed
        log.debug("doorbell: could not ring %s (%s)", folder, type(exc).__name__)
