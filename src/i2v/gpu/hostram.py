"""Host RAM available to new allocations: what pinned (page-locked) weight copies must fit in.

Group offload with CUDA streams pins a host copy of every offloaded weight; pinned
pages cannot be swapped out, so a plan that pins more than is free makes the
machine swap everything else or kills the worker. Read without torch or psutil.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path


def free_ram_gb() -> float | None:
    """RAM (GB) available without swapping: MemAvailable on Linux, avail_phys on Windows.

    None when this system offers no way to read it.
    """
    if sys.platform == "win32":
        return _windows_avail_phys() / 1e9
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024 / 1e9
    if hasattr(os, "sysconf"):
        # macOS and others: free pages only, an underestimate (it leaves out the file cache).
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 1e9
        except (ValueError, OSError):
            return None
    return None


def _windows_avail_phys() -> int:
    class MemoryStatusEx(ctypes.Structure):
        _fields_ = [
            ("length", ctypes.c_ulong),
            ("memory_load", ctypes.c_ulong),
            ("total_phys", ctypes.c_ulonglong),
            ("avail_phys", ctypes.c_ulonglong),
            ("total_page_file", ctypes.c_ulonglong),
            ("avail_page_file", ctypes.c_ulonglong),
            ("total_virtual", ctypes.c_ulonglong),
            ("avail_virtual", ctypes.c_ulonglong),
            ("avail_extended_virtual", ctypes.c_ulonglong),
        ]

    status = MemoryStatusEx()
    status.length = ctypes.sizeof(MemoryStatusEx)
    ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status))  # type: ignore[attr-defined]
    return int(status.avail_phys)
