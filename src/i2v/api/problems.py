"""Errors as ``application/problem+json`` (RFC 9457) with a stable ``code`` a script can test.

Every error the API returns goes through here, so a client always gets the same
shape: ``type``, ``title``, ``status``, ``detail`` and ``code``. Job error codes
(:class:`~i2v.errors.ErrorCode`) are reused where they fit, so a bad photo reads
``invalid_input`` whether it was refused at the door or found later by a worker.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from i2v import messages
from i2v.api import language
from i2v.errors import (
    ErrorCode,
    I2VError,
    InputError,
    JobNotFound,
    MediaNotFound,
    StoreError,
    StoreUnavailable,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
#: Seconds a client is asked to wait before trying again while the database is away.
RETRY_AFTER_SECONDS = 5


class ProblemCode(str, enum.Enum):
    """Stable error codes of the HTTP API; the first two are the job error codes."""

    INVALID_INPUT = ErrorCode.INVALID_INPUT.value
    INTERNAL = ErrorCode.INTERNAL.value
    BAD_REQUEST = "bad_request"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    JOB_NOT_FOUND = "job_not_found"
    MEDIA_NOT_FOUND = "media_not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    JOB_FINISHED = "job_finished"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    RANGE_NOT_SATISFIABLE = "range_not_satisfiable"
    RATE_LIMITED = "rate_limited"
    TOO_MANY_STREAMS = "too_many_streams"
    STORE_UNAVAILABLE = "store_unavailable"


#: Titles are the same for every problem of one code; ``detail`` says what happened this time.
TITLES = {
    ProblemCode.INVALID_INPUT: "The request has an unusable photo or option",
    ProblemCode.INTERNAL: "Something went wrong inside the server",
    ProblemCode.BAD_REQUEST: "The request could not be read",
    ProblemCode.UNAUTHORIZED: "A valid API token is required",
    ProblemCode.FORBIDDEN: "This request is not allowed",
    ProblemCode.NOT_FOUND: "There is nothing at this address",
    ProblemCode.JOB_NOT_FOUND: "No such job",
    ProblemCode.MEDIA_NOT_FOUND: "The job has no such file",
    ProblemCode.METHOD_NOT_ALLOWED: "This address does not accept that method",
    ProblemCode.JOB_FINISHED: "The job has already finished",
    ProblemCode.IDEMPOTENCY_KEY_REUSED: "This Idempotency-Key was used for another request",
    ProblemCode.PAYLOAD_TOO_LARGE: "The request body is too large",
    ProblemCode.RANGE_NOT_SATISFIABLE: "The requested byte range is outside the file",
    ProblemCode.RATE_LIMITED: "Too many requests",
    ProblemCode.TOO_MANY_STREAMS: "Too many live event streams are open",
    ProblemCode.STORE_UNAVAILABLE: "The job database cannot be reached",
}

_BY_STATUS = {
    400: ProblemCode.BAD_REQUEST,
    401: ProblemCode.UNAUTHORIZED,
    403: ProblemCode.FORBIDDEN,
    404: ProblemCode.NOT_FOUND,
    405: ProblemCode.METHOD_NOT_ALLOWED,
    409: ProblemCode.JOB_FINISHED,
    413: ProblemCode.PAYLOAD_TOO_LARGE,
    416: ProblemCode.RANGE_NOT_SATISFIABLE,
    422: ProblemCode.INVALID_INPUT,
    429: ProblemCode.RATE_LIMITED,
}


#: The detail of a 400: the body is not the form the route takes.
UNREADABLE_BODY = (
    "the request body could not be read; send multipart/form-data with the photo "
    "in a field named 'photo'"
)


class Problem(BaseModel):
    """An error response (RFC 9457 problem details) with i2v's stable ``code``."""

    type: str = Field(description="A URI naming the kind of problem.", examples=["about:blank"])
    title: str = Field(examples=["No such job"])
    status: int = Field(examples=[404])
    detail: str = Field(description="What went wrong, in words a person understands.")
    code: ProblemCode = Field(description="Stable machine-readable reason.")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Each bad field, for validation errors."
    )


class ProblemError(Exception):
    """Raise inside a route to answer with a problem; ``headers`` go on the response."""

    def __init__(
        self,
        status: int,
        code: ProblemCode,
        detail: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})


def problem_response(
    status: int,
    code: ProblemCode,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
    localized_detail: str | None = None,
) -> JSONResponse:
    """Build a problem+json response in the request's language.

    ``detail`` is the English one; in another language the title and detail come
    from the message catalogue: ``localized_detail`` when the caller has one, else
    the catalogue's general sentence for the code.
    """
    lang = language.current()
    title = TITLES[code]
    if lang != messages.DEFAULT_LANGUAGE and messages.has(f"problem.{code.value}"):
        general = messages.text(f"problem.{code.value}", lang)
        title = general.rstrip(".")
        detail = localized_detail or general
    body: dict[str, Any] = {
        "type": f"https://i2v.invalid/problems/{code.value}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code.value,
    }
    if errors is not None:
        body["errors"] = errors
    extra = {"Content-Language": lang, "Vary": "Accept-Language"}
    return JSONResponse(
        body, status_code=status, headers={**extra, **(headers or {})}, media_type=PROBLEM_JSON
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting problem+json answers for ``statuses``."""
    return {
        status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": _describe(status)}
        for status in statuses
    }


def _describe(status: int) -> str:
    code = _BY_STATUS.get(status)
    if code is None:
        return {503: TITLES[ProblemCode.STORE_UNAVAILABLE]}.get(status, "Error")
    return TITLES[code]


def _validation_errors(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors = []
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))
        message = str(error.get("msg", "is not valid"))
        errors.append({"field": where or None, "message": message})
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "the request is not valid", errors


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error the app can raise answer as problem+json."""

    async def on_problem(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(exc.status, exc.code, exc.detail, headers=exc.headers)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        detail, errors = _validation_errors(exc)
        fields = ", ".join(str(e["field"]) for e in errors if e["field"])
        localized = messages.text("problem.invalid_fields", language.current(), fields=fields)
        return problem_response(
            422,
            ProblemCode.INVALID_INPUT,
            detail,
            errors=errors,
            localized_detail=localized if fields else None,
        )

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _BY_STATUS.get(exc.status_code, ProblemCode.INTERNAL)
        detail = exc.detail if isinstance(exc.detail, str) else TITLES[code]
        if exc.status_code == 400:
            # FastAPI's own words for a body it could not parse; say what to send instead.
            detail = UNREADABLE_BODY
        return problem_response(exc.status_code, code, detail, headers=exc.headers)

    async def on_i2v(_: Request, exc: Exception) -> JSONResponse:
        return i2v_error_response(exc)

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(I2VError, on_i2v)


def i2v_error_response(exc: Exception) -> JSONResponse:
    """Translate an i2v exception into the problem a client should see."""
    if isinstance(exc, JobNotFound):
        return problem_response(404, ProblemCode.JOB_NOT_FOUND, str(exc))
    if isinstance(exc, MediaNotFound):
        return problem_response(404, ProblemCode.MEDIA_NOT_FOUND, str(exc))
    if isinstance(exc, InputError):
        return problem_response(
            422,
            ProblemCode.INVALID_INPUT,
            messages.explain(exc, messages.DEFAULT_LANGUAGE),
            localized_detail=messages.explain(exc, language.current()),
        )
    retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if isinstance(exc, StoreUnavailable):
        # An outage: the request was fine and will work once the database is back. The
        # database's own words (host, driver) go to the log, not to the client.
        log.warning("store unavailable: %s", exc)
        detail = (
            "the job database cannot be reached right now (it may be restarting); "
            f"try again in {RETRY_AFTER_SECONDS} seconds"
        )
        return problem_response(503, ProblemCode.STORE_UNAVAILABLE, detail, headers=retry)
    if isinstance(exc, StoreError):
        # The message names the database and the likely fix; it never holds a password.
        log.warning("store error: %s", exc)
        return problem_response(503, ProblemCode.STORE_UNAVAILABLE, str(exc), headers=retry)
    log.error("unexpected i2v error: %s", exc)
    return problem_response(500, ProblemCode.INTERNAL, str(exc))
