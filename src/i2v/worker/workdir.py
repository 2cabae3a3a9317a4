"""The worker's scratch folder in the temp dir, and sweeping up those of workers that died.

A worker removes its folder when it stops; one killed outright (kill -9, power cut)
cannot. Each folder's name carries the pid of the worker that made it
(``i2v-worker-<pid>-<random>``), so the next worker to start removes every folder
whose maker is gone, and never one whose maker still runs.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = "i2v-worker-"
_NAME = re.compile(rf"^{PREFIX}(\d+)-")


def make_workdir(root: Path | None = None) -> Path:
    """Create this process's scratch folder, after removing those left by dead workers."""
    base = Path(root or tempfile.gettempdir())
    remove_stale_workdirs(base)
    return Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=base))


def remove_stale_workdirs(root: Path) -> list[Path]:
    """Remove the scratch folders under ``root`` whose worker process is gone; return them."""
    removed: list[Path] = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _NAME.match(entry.name)
        if match is None or not entry.is_dir() or is_running(int(match.group(1))):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        if not entry.exists():
            removed.append(entry)
    if removed:
        log.info("removed %d scratch folder(s) left by workers that died", len(removed))
    return removed


def is_running(pid: int) -> bool:
    """True while a process with this id exists (ours, or anyone's we may not signal)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return _is_running_windows(pid)
    try:
        # Signal 0 checks that the process exists and sends nothing.
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


if sys.platform == "win32":
    import ctypes
    from ctypes import wintypes

    _QUERY_LIMITED_INFORMATION = 0x1000
    _STILL_ACTIVE = 259
    _ACCESS_DENIED = 5

    def _is_running_windows(pid: int) -> bool:
        # os.kill(pid, 0) would terminate the process on Windows; ask the kernel instead.
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        handle = kernel32.OpenProcess(_QUERY_LIMITED_INFORMATION, False, pid)
        if not handle:
            return ctypes.get_last_error() == _ACCESS_DENIED
        try:
            code = wintypes.DWORD()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True
            return code.value == _STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
