"""Job routes: submit a photo, read a job, list jobs, cancel one.

Every route acts for one caller (:class:`~i2v.api.clients.Caller`): a client that
is not an admin submits, lists, reads and cancels only its own jobs, and a job
of another client's answers 404 as if it did not exist.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
import re
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    Header,
    Path,
    Query,
    Request,
    Response,
    UploadFile,
)

from i2v.api.clients import Caller
from i2v.api.direct import DirectRoute
from i2v.api.loopreads import LoopReads
from i2v.api.offload import Offload
from i2v.api.problems import ProblemCode, ProblemError, problem_responses
from i2v.api.schemas import JobDetailOut, JobListOut, JobOut, QueueOut, json_answer
from i2v.api.security import Guard
from i2v.config import VideoConfig
from i2v.config.video import (
    MAX_DURATION_SECONDS,
    MAX_FPS,
    MAX_SIDE,
    MAX_STEPS,
    MIN_DURATION_SECONDS,
    MIN_SIDE,
)
from i2v.intake import check_photo
from i2v.jobs import MAX_PRIORITY, Job, JobSpec, JobStatus, QueuePosition, Resolution
from i2v.messages import refusal
from i2v.store import JobStore

#: Job ids are short lowercase words; anything else cannot name a job, so it never reaches SQL.
JOB_ID_PATTERN = r"^[0-9a-z]{1,16}$"
JOB_ID = re.compile(JOB_ID_PATTERN)
#: The path parameter naming a job. The pattern is documented, and checked by
#: checked_job_id so a malformed id answers 404 like any id that names no job.
JobIdPath = Annotated[
    str,
    Path(
        description="The job's id, as POST /v1/jobs returned it.",
        json_schema_extra={"pattern": JOB_ID_PATTERN, "maxLength": 16},
        examples=["k7h3m9qz2a"],
    ),
]
ENGINES = ["auto", "kenburns", "diffusers"]
#: Idempotency keys are namespaced by client, so they never collide with another client's
#: keys or another front end's dedupe keys.
IDEMPOTENCY_PREFIX = "api:"
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: The schema's way of saying "no control characters" (tabs and line breaks are fine).
PLAIN_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
#: Limits documented in the schema; VideoConfig.complete enforces them with its own words.
SIDE_LIMITS: dict[str, Any] = {"minimum": MIN_SIDE, "maximum": MAX_SIDE}


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


class Scope(str, enum.Enum):
    """Whose jobs a list shows."""

    #: The caller's own jobs.
    MINE = "mine"
    #: Everyone's jobs (admins only).
    ALL = "all"


def read_job_detail(
    store: JobStore, job_id: str, owner: str | None, admin: bool = False
) -> dict[str, Any]:
    """Read the job (``owner``'s only, if given) and, while it waits, its queue position.

    Blocking: run it in a thread.
    """
    job, position = store.get_with_position(job_id, owner=owner)
    return job_detail(job, position, admin)


def job_detail(job: Job, position: QueuePosition, admin: bool) -> dict[str, Any]:
    """The job's answer: the job and, while it waits, its queue position."""
    data = JobOut.of(job, admin=admin)
    queued = job.status is JobStatus.QUEUED
    data["queue"] = QueueOut.of(position, job.spec).model_dump() if queued else None
    return data


def _display_name(filename: str | None) -> str:
    # Only the last path component, for display: a name is never used to open a file.
    name = re.split(r"[\\/]", filename or "")[-1].strip()
    return name[:200] or "photo"


def request_fingerprint(form: dict[str, Any], photo: bytes) -> str:
    """A digest of what was asked, so a reused Idempotency-Key with another request is seen."""
    text = json.dumps(form, sort_keys=True, default=str)
    return hashlib.sha256(text.encode() + b"\0" + hashlib.sha256(photo).digest()).hexdigest()


def reuse_of(job: Job, fingerprint: str) -> Job:
    """Return the job an Idempotency-Key named, or raise 422 if it was asked for differently."""
    if (job.spec.notify or {}).get("request") != fingerprint:
        raise ProblemError(
            422,
            ProblemCode.IDEMPOTENCY_KEY_REUSED,
            f"this Idempotency-Key already made job {job.id} from a different photo or "
            "different options; use a new key for a new request",
        )
    return job


def build_jobs_router(
    store: JobStore, video: VideoConfig, guard: Guard, offload: Offload, loop_reads: LoopReads
) -> APIRouter:
    """Routes under /v1/jobs, bound to one store; blocking work runs in ``offload``'s threads."""
    router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

    @router.post(
        "",
        status_code=202,
        response_model=JobDetailOut,
        summary="Submit a photo",
        responses=problem_responses(400, 401, 403, 413, 422, 429, 503),
    )
    async def submit_job(
        response: Response,
        photo: Annotated[UploadFile, File(description="The photo to animate (JPEG, PNG, WebP).")],
        # Defaults, not Annotated, where the schema names a limit from `video` (a local name).
        prompt: str = Form(
            "",
            description="What should happen in the video.",
            json_schema_extra={"maxLength": video.max_prompt_chars, "pattern": PLAIN_TEXT},
        ),
        resolution: Annotated[Resolution | None, Form(description="Short side.")] = None,
        duration: Annotated[
            float | None,
            Form(
                description="Length in seconds.",
                json_schema_extra={
                    "minimum": MIN_DURATION_SECONDS,
                    "maximum": MAX_DURATION_SECONDS,
                },
            ),
        ] = None,
        width: Annotated[
            int | None,
            Form(description="Exact width (with height).", json_schema_extra=SIDE_LIMITS),
        ] = None,
        height: Annotated[
            int | None,
            Form(description="Exact height (with width).", json_schema_extra=SIDE_LIMITS),
        ] = None,
        fps: Annotated[
            int | None,
            Form(
                description="Frames per second.",
                json_schema_extra={"minimum": 1, "maximum": MAX_FPS},
            ),
        ] = None,
        steps: Annotated[
            int | None,
            Form(
                description="Denoising steps.",
                json_schema_extra={"minimum": 1, "maximum": MAX_STEPS},
            ),
        ] = None,
        seed: Annotated[
            int | None,
            Form(
                description="Seed, for a repeatable video.",
                json_schema_extra={"minimum": 0, "exclusiveMaximum": 2**63},
            ),
        ] = None,
        engine: Annotated[
            str | None,
            Form(description="Which engine makes the video.", json_schema_extra={"enum": ENGINES}),
        ] = None,
        model: Annotated[
            str | None,
            Form(
                max_length=255,
                description="Model preset.",
                json_schema_extra={"pattern": PLAIN_TEXT},
            ),
        ] = None,
        priority: Annotated[int, Form(ge=-MAX_PRIORITY, le=MAX_PRIORITY)] = 0,
        idempotency_key: Annotated[
            str | None,
            Header(
                min_length=1,
                max_length=200,
                description="Send the same key with the same request again to get the first "
                "job back, not a second one; the same key with another request is a 422.",
            ),
        ] = None,
        # A default, not Annotated: annotations are strings here and `guard` is a local name.
        caller: Caller = Depends(guard),
    ) -> dict[str, Any]:
        """Queue a photo for a worker; answers 202 with the job and its queue position."""
        # The options first: they cost nothing to check, the photo a full decode.
        _plain("prompt", prompt)
        _plain("model", model)
        if engine is not None and engine not in ENGINES:
            raise refusal("unknown_engine", engine=repr(engine[:40]))
        data = await photo.read()
        asked = {
            "prompt": prompt,
            "resolution": resolution,
            "duration": duration,
            "width": width,
            "height": height,
            "fps": fps,
            "steps": steps,
            "seed": seed,
            "engine": engine,
            "model": model,
            "priority": priority,
        }
        fingerprint = request_fingerprint(asked, data)
        key = f"{IDEMPOTENCY_PREFIX}{caller.name}:{idempotency_key}" if idempotency_key else None
        if key is not None:
            # A retry is answered without decoding the photo again.
            earlier = await offload.read(store.find_by_dedupe_key, key)
            if earlier is not None:
                job_id = reuse_of(earlier, fingerprint).id
                response.headers["Location"] = f"/v1/jobs/{job_id}"
                return await offload.read(read_job_detail, store, job_id, None, caller.is_admin)
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
                owner=caller.owner,
                notify={"request": fingerprint},
                dedupe_key=key,
                priority=priority,
                image_name=_display_name(photo.filename),
            )
        )
        submit = functools.partial(store.submit, content_type=info.content_type)
        job = reuse_of(await offload.write(submit, spec, data), fingerprint)
        response.headers["Location"] = f"/v1/jobs/{job.id}"
        return await offload.read(read_job_detail, store, job.id, None, caller.is_admin)

    @router.get(
        "",
        response_model=JobListOut,
        summary="List jobs",
        responses=problem_responses(401, 403, 422, 429, 503),
    )
    async def list_jobs(
        status: Annotated[
            list[JobStatus] | None, Query(description="Only jobs in these states (repeatable).")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 20,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        scope: Annotated[
            Scope,
            Query(description="mine: the caller's own jobs; all: everyone's (admins only)."),
        ] = Scope.MINE,
        caller: Caller = Depends(guard),
    ) -> dict[str, Any]:
        """The caller's jobs newest first (an admin's ``scope=all``: everyone's)."""
        if scope is Scope.ALL and not caller.is_admin:
            raise ProblemError(
                403,
                ProblemCode.FORBIDDEN,
                f"only admins may list every client's jobs; {caller.name!r} is not one "
                "(I2V_API_ADMINS)",
            )
        owner = caller.owner if scope is Scope.MINE else None
        # Always a status filter: count_jobs without any filter has no FROM and answers 1.
        statuses = set(status) if status else set(JobStatus)

        def read_page() -> dict[str, Any]:
            jobs = store.list_jobs(statuses=statuses, owner=owner, limit=limit, offset=offset)
            return {
                "jobs": [JobOut.of(job, admin=caller.is_admin) for job in jobs],
                "total": store.count_jobs(statuses=statuses, owner=owner),
                "limit": limit,
                "offset": offset,
            }

        return await offload.read(read_page)

    async def get_job(job_id: JobIdPath, request: Request) -> Response:
        """The job's status, stage, progress, ETA, error and result."""
        caller = await guard(request)
        job_id = checked_job_id(job_id)
        found = loop_reads.job_with_position(job_id, caller.scope)
        if found is None:
            data = await offload.read(read_job_detail, store, job_id, caller.scope, caller.is_admin)
        else:
            data = job_detail(*found, caller.is_admin)
        return json_answer(data)

    # The hottest route (clients poll it): called directly, without FastAPI's parameter
    # solving and response validation (see i2v.api.direct); documented all the same.
    router.add_api_route(
        "/{job_id}",
        get_job,
        methods=["GET"],
        response_model=JobDetailOut,
        summary="Get a job",
        responses=problem_responses(401, 404, 429, 503),
        route_class_override=DirectRoute,
    )

    @router.delete(
        "/{job_id}",
        status_code=202,
        response_model=JobDetailOut,
        summary="Cancel a job",
        responses=problem_responses(401, 403, 404, 409, 429, 503),
    )
    async def cancel_job(job_id: JobIdPath, caller: Caller = Depends(guard)) -> dict[str, Any]:
        """Cancel a queued job at once, or ask a running job's worker to stop.

        A job that already succeeded or failed is left as it is, its video and photo
        included, and the answer is 409 ``job_finished``. Cancelling a canceled job
        again answers 202 with the job.
        """
        cancel = functools.partial(store.request_cancel, owner=caller.scope)
        job = await offload.write(cancel, checked_job_id(job_id))
        if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            raise ProblemError(
                409,
                ProblemCode.JOB_FINISHED,
                f"job {job.id} already {job.status.value}; there is nothing left to cancel",
            )
        return await offload.read(read_job_detail, store, job.id, caller.scope, caller.is_admin)

    return router
