"""Response shapes of the API, as Pydantic models so the OpenAPI schema documents them.

They mirror :meth:`i2v.jobs.Job.to_dict` and :meth:`i2v.jobs.WorkerInfo.to_dict`,
the same JSON the CLI prints with ``--json``; the API adds a queue position and links.
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from fastapi import Response
from pydantic import BaseModel, Field

from i2v import messages
from i2v.api import language
from i2v.api.clients import shown_owner
from i2v.jobs import (
    Job,
    JobSpec,
    JobStatus,
    QueuePosition,
    Resolution,
    Stage,
    WorkerState,
    worker_command,
)


class SpecOut(BaseModel):
    """What was asked for, with the defaults the job actually got filled in."""

    prompt: str
    resolution: Resolution | None
    width: int | None
    height: int | None
    duration_seconds: float | None
    fps: int | None
    steps: int | None
    seed: int | None
    engine: str | None
    model: str | None
    source: str
    owner: str | None = Field(
        description="Who submitted it: an API client's name, telegram:<user id>, or cli."
    )
    dedupe_key: str | None
    priority: int
    image_name: str


class ErrorOut(BaseModel):
    """Why a job failed."""

    code: str = Field(examples=["out_of_memory"])
    message: str | None = Field(
        description="Why, in the caller's language (Accept-Language), ending with code and job id."
    )
    detail: str | None = Field(
        default=None,
        # Left out of the answer, not sent as null, for everyone but admins.
        exclude_if=lambda value: value is None,
        description="Admins only: the exception and traceback behind the failure.",
    )


class QueueOut(BaseModel):
    """Where a queued job stands."""

    position: int = Field(description="1 means next to run; 0 means not queued.", examples=[2])
    wait_seconds: float = Field(description="Estimated seconds until a worker starts it.")
    live_workers: int = Field(description="Workers that reported in recently.")
    serving_workers: int | None = Field(
        default=None,
        description="Live workers that make this job's engine and model; 0 while workers "
        "run means none of them will take it until one for its model starts.",
    )
    note: str | None = Field(
        default=None,
        description="Why the wait is unknown, in plain words, when no running worker makes "
        "this job's model (then wait_seconds is not an estimate).",
        examples=[
            "no worker serves ltx-video right now; start one with: i2v worker --model ltx-video"
        ],
    )

    @classmethod
    def of(cls, position: QueuePosition, spec: JobSpec | None = None) -> QueueOut:
        """Convert the store's value; ``spec`` names the model in the note."""
        note = None
        if position.is_unserved:
            engine, model = (spec.engine, spec.model) if spec else (None, None)
            wanted = model or engine or "this job's model"
            note = (
                f"no worker serves {wanted} right now; "
                f"start one with: {worker_command(engine, model)}"
            )
        return cls(
            position=position.position,
            wait_seconds=round(position.wait_seconds, 1),
            live_workers=position.live_workers,
            serving_workers=position.serving_workers,
            note=note,
        )


class LinksOut(BaseModel):
    """Where to find more about the job."""

    self: str
    events: str
    video: str
    thumbnail: str


class JobOut(BaseModel):
    """A job as the store last saw it."""

    id: str = Field(examples=["k7h3m9qz2a"])
    status: JobStatus
    stage: Stage | None
    progress: float = Field(ge=0, le=1, description="0..1 across the whole job.")
    eta_seconds: float | None = Field(description="Seconds until done (estimate).")
    attempts: int
    error: ErrorOut | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    updated_at: str | None
    worker: str | None
    cancel_requested: bool
    result: dict[str, Any]
    warnings: list[str]
    delivered: bool
    spec: SpecOut
    links: LinksOut

    @classmethod
    def of(cls, job: Job, *, admin: bool = False) -> dict[str, Any]:
        """The job's stable JSON shape plus links: a plain dict, exactly as this model dumps it.

        Routes that answer with it directly skip the model's validation; a test holds the
        two to the same answer. A failure is told in the request's language; only
        ``admin`` sees its detail.
        """
        data = job.to_dict(admin=admin)
        data["progress"] = float(data["progress"])
        if data["eta_seconds"] is not None:
            data["eta_seconds"] = float(data["eta_seconds"])
        spec = data["spec"]
        spec["owner"] = shown_owner(job.spec.owner, job.spec.source)
        if spec["duration_seconds"] is not None:
            spec["duration_seconds"] = float(spec["duration_seconds"])
        error = data["error"]
        if error is not None:
            error["message"] = messages.job_failure_of(job, language.current())
            if "detail" in error and error["detail"] is None:
                del error["detail"]  # as ErrorOut leaves it out
        base = f"/v1/jobs/{job.id}"
        data["links"] = {
            "self": base,
            "events": f"{base}/events",
            "video": f"{base}/video",
            "thumbnail": f"{base}/thumbnail",
        }
        return data


class JobDetailOut(JobOut):
    """A job with its place in the queue (null once it has left the queue)."""

    queue: QueueOut | None


class JobListOut(BaseModel):
    """One page of jobs, newest first."""

    jobs: list[JobOut]
    total: int = Field(description="Jobs matching the filter, over all pages.")
    limit: int
    offset: int


class WorkerOut(BaseModel):
    """A worker process as registered in the store."""

    id: str
    host: str
    pid: int
    child_pid: int | None
    state: WorkerState
    job_id: str | None
    engine: str | None
    model: str | None
    started_at: str | None
    heartbeat_at: str | None
    gpu: dict[str, Any]
    alive: bool = Field(description="Reported in within one lease.")


class WorkerListOut(BaseModel):
    """Every worker seen recently, most recently seen first."""

    workers: list[WorkerOut]


class HealthOut(BaseModel):
    """Health check answer."""

    status: str = Field(examples=["ok"])
    detail: str | None = None
    schema_version: int | None = None


def json_answer(data: Any, status_code: int = 200) -> Response:
    """``data`` as compact JSON, for a route whose ``response_model`` only documents it.

    FastAPI validates and serializes a returned dict through the route's model, a cost
    on every request; a returned Response is sent as it is. Build ``data`` with the
    model's own ``of`` method, which gives exactly what the model would.
    """
    return Response(pydantic_core.to_json(data), status_code, media_type="application/json")
