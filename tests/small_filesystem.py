"""A small filesystem of its own for tests that fill the disk: a size-limited tmpfs, mounted as root.

Filling the real disk would hurt every other test (and the machine); a tmpfs of a few
megabytes fills in a blink and vanishes on unmount. Mounting needs root on Linux, which
CI has (and sets ``I2V_REQUIRE_MOUNT=1``, so there the tests fail rather than skip);
elsewhere :func:`mount_problem` says why the test cannot run, for its skip reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

#: The filler file's name; delete it (``free``) to give the space back.
FILLER = "filler.bin"


def mount_problem() -> str | None:
    """Why a small filesystem cannot be mounted here, or None if it can."""
    if sys.platform != "linux":
        return "mounting a small tmpfs needs Linux"
    if os.geteuid() != 0:
        return "mounting a small tmpfs needs root (CI runs the tests as root)"
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "the mount and umount programs are not installed"
    return None


def needs_small_filesystem() -> pytest.MarkDecorator:
    """Skip the test where no small filesystem can be mounted, unless I2V_REQUIRE_MOUNT is set."""
    problem = mount_problem()
    return pytest.mark.skipif(
        problem is not None and not os.environ.get("I2V_REQUIRE_MOUNT"), reason=str(problem)
    )


class SmallFilesystem:
    """A mounted tmpfs of ``size_mb`` at ``path`` that a test can fill and free."""

    def __init__(self, path: Path, size_mb: int) -> None:
        self.path = path
        self.size_mb = size_mb

    def fill(self) -> None:
        """Write a filler file until the filesystem refuses another byte."""
        with (self.path / FILLER).open("ab", buffering=0) as handle:
            for size in (1 << 20, 1 << 16, 1 << 12, 1 << 9, 1):
                try:
                    while True:
                        handle.write(b"\0" * size)
                except OSError:
                    continue

    def free(self) -> None:
        """Delete the filler file: the space is back."""
        (self.path / FILLER).unlink(missing_ok=True)

    def free_bytes(self) -> int:
        """Bytes still free on the filesystem."""
        return shutil.disk_usage(self.path).free


@contextmanager
def small_filesystem(size_mb: int = 8) -> Iterator[SmallFilesystem]:
    """Mount a tmpfs of ``size_mb`` in a temp folder; unmount and delete it even if the test fails."""
    problem = mount_problem()
    if problem is not None:
        raise RuntimeError(f"cannot mount a small filesystem: {problem}")
    folder = Path(tempfile.mkdtemp(prefix="i2v-smallfs-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0777", "tmpfs", str(folder)],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    if mounted.returncode != 0:
        folder.rmdir()
        raise RuntimeError(f"cannot mount a small filesystem: {mounted.stderr.strip()}")
    try:
        yield SmallFilesystem(folder, size_mb)
    finally:
        # Lazy unmount: a process the test started may still hold a file open in there.
        subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True, timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
