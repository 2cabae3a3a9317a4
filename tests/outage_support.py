"""What the outage and spool tests share: markers, store helpers, and a process's output."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from i2v.errors import MediaNotFound
from i2v.store import VIDEO, JobStore, open_store_url
from private_postgres import postgres_bin_dir

TESTS = Path(__file__).parent
needs_postgres = pytest.mark.skipif(
    postgres_bin_dir() is None, reason="PostgreSQL's initdb and pg_ctl are not installed"
)
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="signals processes the POSIX way")

#: A small real Ken Burns video: 1 s at 8 fps, 96x64.
KEN_BURNS = {"width": 96, "height": 64, "duration_seconds": 1.0, "fps": 8, "engine": "kenburns"}


@contextmanager
def opened(url: str) -> Iterator[JobStore]:
    store = open_store_url(url)
    try:
        yield store
    finally:
        store.close()


#: The fake engine's steps: 25 of 0.2 s, so a job is still running when the database stops
#: (stopping it takes a second or two on a loaded machine).
SLOW_JOB = {"steps": 25, "step_seconds": 0.2}


def spooled(data_dir: Path) -> list[Path]:
    """The spool entries waiting (one folder per finished video)."""
    return [p.parent for p in (data_dir / "spool").glob("*/*/manifest.json")]


def has_video(store: JobStore, job_id: str) -> bool:
    try:
        store.read_media(job_id, VIDEO)
    except MediaNotFound:
        return False
    return True


def all_done(store: JobStore, ids: list[str]) -> bool:
    return all(store.get(job_id).status.is_terminal for job_id in ids)


def store_is_down(store: JobStore) -> bool:
    try:
        store.count_jobs()
    except Exception:
        return True
    return False


@contextmanager
def opened_with_clock(url: str, *, ahead: float) -> Iterator[JobStore]:
    store = open_store_url(url, clock=lambda: time.time() + ahead)
    try:
        yield store
    finally:
        store.close()


class OutputLines:
    """A process's output, read line by line on a thread as it comes."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._lines: list[str] = []
        assert process.stdout is not None
        stream = process.stdout
        self._thread = threading.Thread(
            target=lambda: self._lines.extend(line.decode(errors="replace") for line in stream),
            daemon=True,
        )
        self._thread.start()

    def has(self, phrase: str) -> bool:
        return any(phrase in line for line in list(self._lines))

    def text(self) -> str:
        return "".join(self._lines)
