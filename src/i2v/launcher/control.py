"""Talking to a running ``i2v up`` from another process, through files in ``<data dir>/run``.

Signals cannot carry "restart the workers" to a process in another console on
Windows, and a plain file works the same everywhere. Each ``i2v up`` keeps a
status file fresh (``up-<pid>.json``); a request is a file addressed to one of
them (``request-<id>.json``), which that supervisor deletes once it is done.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: A status file older than this belongs to an ``i2v up`` that is gone.
STALE_SECONDS = 10.0


@dataclass(frozen=True)
class Request:
    """Something asked of one supervisor: ``restart`` some roles, or ``stop``."""

    path: Path
    action: str
    roles: tuple[str, ...]


class ControlFolder:
    """The ``run`` folder in the data folder, shared by the supervisors and their clients."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = data_dir / "run"

    def write_status(self, pid: int, status: dict[str, Any]) -> None:
        """Publish a supervisor's status; written whole and renamed, so readers never see half."""
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"up-{pid}.json"
        partial = target.with_suffix(".tmp")
        partial.write_text(json.dumps({**status, "pid": pid, "at": time.time()}), encoding="utf-8")
        os.replace(partial, target)

    def remove_status(self, pid: int) -> None:
        """Withdraw a supervisor's status as it exits."""
        (self.folder / f"up-{pid}.json").unlink(missing_ok=True)

    def live_supervisors(self) -> list[dict[str, Any]]:
        """Status of every ``i2v up`` on this data folder that reported recently."""
        found = []
        for path in sorted(self.folder.glob("up-*.json")):
            try:
                status = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if time.time() - float(status.get("at", 0)) <= STALE_SECONDS:
                found.append(status)
        return found

    def send(self, pid: int, action: str, roles: Sequence[str] = ()) -> Path:
        """Leave a request for the supervisor ``pid``; return its path (gone once handled)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"request-{pid}-{uuid.uuid4().hex[:12]}.json"
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps({"action": action, "roles": list(roles)}), encoding="utf-8")
        os.replace(partial, path)
        return path

    def pending(self, pid: int) -> list[Request]:
        """Requests addressed to the supervisor ``pid``, oldest first."""
        paths = sorted(self.folder.glob(f"request-{pid}-*.json"), key=_mtime)
        requests = []
        for path in paths:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            requests.append(Request(path, str(data.get("action")), tuple(data.get("roles", ()))))
        return requests

    @staticmethod
    def done(request: Request) -> None:
        """Mark a request handled."""
        request.path.unlink(missing_ok=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
