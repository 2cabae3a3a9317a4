"""Giving freed memory back to the system after a photo check.

Checking a 7000x7000 photo decodes 147 MB of pixels. Pillow frees them at once,
but glibc's allocator keeps freed memory in the thread's arena for reuse (after
the first big free it also raises its mmap threshold, so the next big block
comes from the arena too). A few huge uploads then leave the API hundreds of MB
larger for good. ``malloc_trim`` hands the free pages of every arena back.
Elsewhere (macOS, Windows, musl) there is no such call and nothing to do: their
allocators return large blocks by themselves.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from collections.abc import Callable

log = logging.getLogger(__name__)


def _find_malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        # Not glibc (musl has no malloc_trim): nothing to give back this way.
        return None
    return trim


_MALLOC_TRIM = _find_malloc_trim()


def give_back_freed_memory() -> None:
    """Return the allocator's free pages to the system, where the C library can."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
