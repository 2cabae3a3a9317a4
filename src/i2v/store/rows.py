"""Turning database rows into the frozen values front ends see."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from i2v.errors import ErrorCode
from i2v.jobs import Job, JobSpec, JobStatus, Stage, WorkerInfo, WorkerState


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
