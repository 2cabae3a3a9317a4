"""Turning database rows into the frozen values front ends see.

No SQLAlchemy here: the store and the CLI's SQLite reads (:mod:`i2v.store.sqlitereads`)
both turn their rows into values through these functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from i2v.errors import ErrorCode, MediaNotFound
from i2v.jobs import Job, JobSpec, JobStatus, QueuePosition, Stage, WorkerInfo, WorkerState

#: Engine names a job may give that let any engine take it (as ``claim`` reads them).
ANY_ENGINE = (None, "auto")

#: Kinds of media a job can have.
PHOTO = "photo"
VIDEO = "video"
THUMBNAIL = "thumbnail"


@dataclass(frozen=True)
class MediaInfo:
    """Size and type of one stored file."""

    job_id: str
    kind: str
    content_type: str
    size: int
    sha256: str


def to_datetime(value: float | None) -> datetime | None:
    """Unix seconds to an aware UTC datetime."""
    return None if value is None else datetime.fromtimestamp(value, tz=timezone.utc)


def job_from_row(row: Mapping[Any, Any]) -> Job:
    """Build a Job from a ``jobs`` row."""
    return Job(
        id=row["id"],
        spec=JobSpec.from_dict(row["spec"]),
        status=JobStatus(row["status"]),
        stage=Stage(row["stage"]) if row["stage"] else None,
        progress=float(row["progress"] or 0.0),
        eta_seconds=row["eta_seconds"],
        attempts=int(row["attempts"]),
        error_code=ErrorCode(row["error_code"]) if row["error_code"] else None,
        error_message=row["error_message"],
        error_detail=row.get("error_detail"),
        created_at=to_datetime(row["created_at"]),
        started_at=to_datetime(row["started_at"]),
        finished_at=to_datetime(row["finished_at"]),
        updated_at=to_datetime(row["updated_at"]),
        worker_id=row["worker_id"],
        cancel_requested=bool(row["cancel_requested"]),
        result=dict(row["result"] or {}),
        warnings=tuple(row.get("warnings") or ()),
        delivered=bool(row["delivered"]),
        notify=row["notify"],
    )


def worker_from_row(row: Mapping[Any, Any]) -> WorkerInfo:
    """Build a WorkerInfo from a ``workers`` row."""
    return WorkerInfo(
        id=row["id"],
        host=row["host"],
        pid=int(row["pid"]),
        state=WorkerState(row["state"]),
        child_pid=row["child_pid"],
        job_id=row["job_id"],
        engine=row["engine"],
        model=row["model"],
        started_at=to_datetime(row["started_at"]),
        heartbeat_at=to_datetime(row["heartbeat_at"]),
        gpu=dict(row["gpu"] or {}),
        memory_plan=row.get("memory_plan"),
    )


def position_from_row(row: Mapping[Any, Any], serving_workers: int | None) -> QueuePosition:
    """A job's QueuePosition from its row with ``live_workers`` and the queue figures beside it.

    ``serving_workers`` counts the live workers that would claim it (only asked for a
    queued job).
    """
    live_workers = int(row["live_workers"])
    if row["status"] != JobStatus.QUEUED.value:
        return QueuePosition(0, 0.0, live_workers)
    waiting = float(row["ahead_seconds"]) + float(row["running_seconds"])
    return QueuePosition(
        int(row["ahead_count"]) + 1, waiting / max(1, live_workers), live_workers, serving_workers
    )


def would_claim(serves: Mapping[str, Any] | None, engine: str | None, model: str | None) -> bool:
    """True when a worker claiming ``serves`` takes a queued job naming ``engine`` and ``model``.

    The same rules as ``claim``: a job naming no engine (or ``auto``) fits every engine,
    one naming no model fits every model. A worker that has not said what it claims
    (one from before the registry recorded it) is given the benefit of the doubt.
    """
    if serves is None:
        return True
    if serves.get("job_id") is not None:
        # ``i2v generate``'s worker serves its own job only.
        return False
    engines = serves.get("engines")
    if engines is not None and engine not in ANY_ENGINE and engine not in engines:
        return False
    models = serves.get("models")
    return models is None or model is None or model in models


def media_info_from_row(row: Mapping[Any, Any], job_id: str, kind: str) -> MediaInfo:
    """Build a MediaInfo from a ``media`` row."""
    return MediaInfo(job_id, kind, row["content_type"], int(row["size"]), row["sha256"])


def missing_media(job_id: str, kind: str) -> MediaNotFound:
    """The error for a job that has no file of that kind (never made, or purged)."""
    return MediaNotFound(f"job {job_id} has no {kind}")
