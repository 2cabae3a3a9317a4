"""Job routes: submit a photo, read a job, list jobs, cancel one."""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, Query, Response, UploadFile

from i2v.api.offload import Offload
from i2v.api.problems import ProblemCode, ProblemError, problem_responses
from i2v.api.schemas import JobDetailOut, JobListOut, JobOut, QueueOut
from i2v.api.security import Guard
from i2v.config import VideoConfig
from i2v.intake import check_photo
from i2v.jobs import MAX_PRIORITY, JobSpec, JobStatus, Resolution
from i2v.messages import refusal
from i2v.store import JobStore

#: Job ids are short lowercase words; anything else cannot name a job, so it never reaches SQL.
JOB_ID = re.compile(r"[0-9a-z]{1,16}")
ENGINES = ("auto", "kenburns", "diffusers")
#: Idempotency keys are namespaced so they never collide with another front end's dedupe keys.
IDEMPOTENCY_PREFIX = "api:"
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _plain(name: str, value: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL, and no prompt needs control characters.
    if value is not None and CONTROL_CHARACTERS.search(value):
        raise refusal("control_characters", field=name)
    return value


def checked_job_id(job_id: str) -> str:
    """Return ``job_id`` if it could name a job; otherwise answer 404 without asking the store."""
    if not JOB_ID.fullmatch(job_id):
        raise ProblemError(404, ProblemCode.JOB_NOT_FOUND, f"no job with id {job_id[:40]!r}")
    return job_id


def read_job_detail(store: JobStore, job_id: str) -> dict[str, Any]:
    """Read the job and, while it waits, its queue position (blocking: run it in a thread)."""
    job, position = store.get_with_position(job_id)
    data = JobOut.of(job)
    queued = job.status is JobStatus.QUEUED
    data["queue"] = QueueOut.of(position, job.spec).model_dump() if queued else None
    return data


def _display_name(filename: str | None) -> str:
    # Only the last path component, for display: a name is never used to open a file.
    name = re.split(r"[\\/]", filename or "")[-1].strip()
    return name[:200] or "photo"


def build_jobs_router(
    store: JobStore, video: VideoConfig, guard: Guard, offload: Offload
) -> APIRouter:
    """Routes under /v1/jobs, bound to one store; blocking work runs in ``offload``'s threads."""
    router = APIRouter(prefix="/v1/jobs", tags=["jobs"], dependencies=[Depends(guard)])

    @router.post(
        "",
        status_code=202,
        response_model=JobDetailOut,
        summary="Submit a photo",
        responses=problem_responses(401, 413, 422, 429, 503),
    )
    async def submit_job(
        response: Response,
        photo: Annotated[UploadFile, File(description="The photo to animate (JPEG, PNG, WebP).")],
        prompt: Annotated[str, Form(description="What should happen in the video.")] = "",
        resolution: Annotated[Resolution | None, Form(description="Short side.")] = None,
        duration: Annotated[float | None, Form(description="Length in seconds (1-10).")] = None,
        width: Annotated[int | None, Form(description="Exact width (with height).")] = None,
        height: Annotated[int | None, Form(description="Exact height (with width).")] = None,
        fps: Annotated[int | None, Form(description="Frames per second.")] = None,
        steps: Annotated[int | None, Form(description="Denoising steps.")] = None,
        seed: Annotated[int | None, Form(description="Seed, for a repeatable video.")] = None,
        engine: Annotated[str | None, Form(description="auto, kenburns or diffusers.")] = None,
        model: Annotated[str | None, Form(max_length=255, description="Model preset.")] = None,
        priority: Annotated[int, Form(ge=-MAX_PRIORITY, le=MAX_PRIORITY)] = 0,
        idempotency_key: Annotated[
            str | None,
            Header(
                min_length=1,
                max_length=200,
                description="Send the same key again to get the first job back, not a second one.",
            ),
        ] = None,
        # A default, not Annotated: annotations are strings here and `guard` is a local name.
        identity: str = Depends(guard),
    ) -> dict[str, Any]:
        """Queue a photo for a worker; answers 202 with the job and its queue position."""
        # The options first: they cost nothing to check, the photo a full decode.
        _plain("prompt", prompt)
        _plain("model", model)
        if engine is not None and engine not in ENGINES:
            raise refusal("unknown_engine", engine=repr(engine[:40]))
        data = await photo.read()
        info = await offload.image(check_photo, data, video)
        spec = video.complete(
            JobSpec(
                prompt=prompt,
                resolution=resolution,
                width=width,
                height=height,
                duration_seconds=duration,
                fps=fps,
                steps=steps,
                seed=seed,
                engine=engine,
                model=model or None,
                source="api",
                owner=identity,
                dedupe_key=IDEMPOTENCY_PREFIX + idempotency_key if idempotency_key else None,
                priority=priority,
                image_name=_display_name(photo.filename),
            )
        )
        submit = functools.partial(store.submit, content_type=info.content_type)
        job = await offload.write(submit, spec, data)
        response.headers["Location"] = f"/v1/jobs/{job.id}"
        return await offload.read(read_job_detail, store, job.id)

    @router.get(
        "",
        response_model=JobListOut,
        summary="List jobs",
        responses=problem_responses(401, 422, 429, 503),
    )
    async def list_jobs(
        status: Annotated[
            list[JobStatus] | None, Query(description="Only jobs in these states (repeatable).")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 20,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> dict[str, Any]:
        """Jobs newest first, optionally only those in the given states."""
        # Always a status filter: count_jobs without any filter has no FROM and answers 1.
        statuses = set(status) if status else set(JobStatus)

        def read_page() -> dict[str, Any]:
            jobs = store.list_jobs(statuses=statuses, limit=limit, offset=offset)
            return {
                "jobs": [JobOut.of(job) for job in jobs],
                "total": store.count_jobs(statuses=statuses),
                "limit": limit,
                "offset": offset,
            }

        return await offload.read(read_page)

    @router.get(
        "/{job_id}",
        response_model=JobDetailOut,
        summary="Get a job",
        responses=problem_responses(401, 404, 429, 503),
    )
    async def get_job(job_id: str) -> dict[str, Any]:
        """The job's status, stage, progress, ETA, error and result."""
        return await offload.read(read_job_detail, store, checked_job_id(job_id))

    @router.delete(
        "/{job_id}",
        status_code=202,
        response_model=JobDetailOut,
        summary="Cancel a job",
        responses=problem_responses(401, 404, 429, 503),
    )
    async def cancel_job(job_id: str) -> dict[str, Any]:
        """Cancel a queued job at once, ask a running job's worker to stop; finished jobs stay."""
        job = await offload.write(store.request_cancel, checked_job_id(job_id))
        return await offload.read(read_job_detail, store, job.id)

    return router
