"""Finished videos waiting for the database: kept on disk in the data folder until they are stored.

A video finished during a database outage is the most expensive thing a worker holds,
so it is moved out of the child's temp folder (deleted when the worker stops) into
``<data dir>/spool/<worker id>/<job id>.<lease token>/`` with a ``manifest.json`` saying how to
store it. A worker that starts finds what an earlier run left there and stores it if
the lease is still valid; if the job has passed to another worker in the meantime the
store refuses (lease lost) and the video is thrown away, so nothing is delivered twice.

Where the data folder itself is full (SQLite on a full disk), the video stays in the
temp folder: it survives the outage, though not a restart of the worker.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
#: Locked by the worker that owns a spool folder for as long as it lives.
OWNER_LOCK = "owner.lock"


@dataclass(frozen=True)
class FinishedVideo:
    """A made video and what the store needs to record it, under the lease that made it."""

    job_id: str
    token: str
    video: Path
    thumbnail: Path | None
    #: The job's result metadata, as ``JobStore.succeed`` takes it.
    result: dict[str, Any] = field(default_factory=dict)
    #: Notes for the user to write with it (None: leave the job's warnings as they are).
    warnings: list[str] | None = None
    #: Set once the files are in the spool folder (they survive a restart of the worker).
    spooled: bool = False

    def discard(self) -> None:
        """Delete the files (and the spool entry): nobody will store this video."""
        self.video.unlink(missing_ok=True)
        if self.thumbnail is not None:
            self.thumbnail.unlink(missing_ok=True)
        if self.spooled:
            shutil.rmtree(self.video.parent, ignore_errors=True)

    def is_there(self) -> bool:
        """False if the files are gone (another worker that started took the entry over)."""
        return self.video.exists()


class Spool:
    """The spool folder: one sub-folder per worker, one entry per finished video waiting there.

    A worker holds a lock on its sub-folder's ``owner.lock`` while it lives (the system
    drops it when the process dies, even by kill -9), so a worker that starts takes over
    only what dead workers left, never what a live one waits to store.
    """

    def __init__(self, root: Path, worker_id: str) -> None:
        self.root = root
        #: This worker's own entries; once it is dead, a worker that starts takes them over.
        self.folder = root / worker_id
        self._owner: IO[bytes] | None = None

    def keep(self, video: FinishedVideo) -> FinishedVideo:
        """Move the video into the spool; on a full or unwritable disk leave it where it is."""
        if video.spooled:
            return video
        entry = self.folder / f"{video.job_id}.{video.token}"
        moves = [(video.video, entry / video.video.name)]
        if video.thumbnail is not None:
            moves.append((video.thumbnail, entry / video.thumbnail.name))
        kept = FinishedVideo(
            video.job_id,
            video.token,
            moves[0][1],
            moves[1][1] if len(moves) > 1 else None,
            video.result,
            video.warnings,
            spooled=True,
        )
        try:
            self._hold_owner_lock()
            entry.mkdir(parents=True, exist_ok=True)
            for source, target in moves:
                shutil.move(source, target)
            _write_manifest(entry, kept)
        except OSError as exc:
            # Put back whatever moved, so the video is whole in one place.
            for source, target in moves:
                if target.exists() and not source.exists():
                    shutil.move(target, source)
            shutil.rmtree(entry, ignore_errors=True)
            log.warning(
                "job %s: cannot keep the video in %s (%s); holding it in the temp folder until "
                "the database is back (a restart of the worker would lose it)",
                video.job_id,
                self.folder,
                exc.strerror or exc,
            )
            return video
        log.info("job %s: video kept in %s until the database is back", video.job_id, entry)
        return kept

    def take_over(self) -> list[FinishedVideo]:
        """Claim every entry other runs left (moving an entry is atomic: one taker wins)."""
        found: list[FinishedVideo] = []
        if not self.root.is_dir():
            return found
        for owner in sorted(self.root.iterdir()):
            if owner == self.folder or not owner.is_dir():
                continue
            lock = _try_lock(owner / OWNER_LOCK)
            if lock is None:
                continue  # its worker is alive: it stores its own videos
            for entry in sorted(owner.iterdir()):
                if not (entry / MANIFEST).is_file():
                    continue
                claimed = self.folder / entry.name
                try:
                    self.folder.mkdir(parents=True, exist_ok=True)
                    os.replace(entry, claimed)
                    found.append(_read_manifest(claimed))
                except (OSError, ValueError, KeyError) as exc:
                    log.warning("spool: cannot take over %s: %s", entry, exc)
            lock.close()
            with contextlib.suppress(OSError):
                (owner / OWNER_LOCK).unlink()
                owner.rmdir()
        return found

    def close(self) -> None:
        """Let go of the lock; remove this worker's folder if nothing waits in it."""
        if self._owner is not None:
            self._owner.close()
            self._owner = None
            if not any(p.name != OWNER_LOCK for p in self.folder.iterdir()):
                with contextlib.suppress(OSError):
                    (self.folder / OWNER_LOCK).unlink()
                    self.folder.rmdir()

    def _hold_owner_lock(self) -> None:
        if self._owner is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._owner = _try_lock(self.folder / OWNER_LOCK)


def _try_lock(path: Path) -> IO[bytes] | None:
    """Open ``path`` and lock it without waiting; None if another process holds the lock."""
    try:
        handle = path.open("a+b")
    except OSError:
        return None
    try:
        if sys.platform == "win32":
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def _write_manifest(entry: Path, video: FinishedVideo) -> None:
    data = {
        "job_id": video.job_id,
        "token": video.token,
        "video": video.video.name,
        "thumbnail": video.thumbnail.name if video.thumbnail else None,
        "result": video.result,
        "warnings": video.warnings,
        "spooled_at": time.time(),
    }
    temporary = entry / f"{MANIFEST}.tmp"
    temporary.write_text(json.dumps(data), encoding="utf-8")
    os.replace(temporary, entry / MANIFEST)


def _read_manifest(entry: Path) -> FinishedVideo:
    data = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
    thumbnail = data.get("thumbnail")
    return FinishedVideo(
        job_id=str(data["job_id"]),
        token=str(data["token"]),
        video=entry / str(data["video"]),
        thumbnail=entry / str(thumbnail) if thumbnail else None,
        result=dict(data.get("result") or {}),
        warnings=data.get("warnings"),
        spooled=True,
    )
