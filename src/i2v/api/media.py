"""Result files: the video (with HTTP Range, so a browser can seek) and the thumbnail.

Bytes come from the store in chunks; no part of a request ever names a file on disk.
Both carry an ETag (the file's SHA-256): ``If-None-Match`` answers 304 when the
client already has the file, and ``If-Range`` makes a Range apply only to the
file the client started to download.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from i2v.api.clients import Caller
from i2v.api.jobs import JobIdPath, checked_job_id
from i2v.api.links import LinkSigner
from i2v.api.problems import ProblemCode, ProblemError, problem_responses
from i2v.api.security import Guard
from i2v.errors import MediaNotFound
from i2v.jobs import JobStatus
from i2v.store import THUMBNAIL, VIDEO, JobStore, MediaInfo

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class MediaLinkOut(BaseModel):
    """A signed link to a job's media."""

    url: str
    expires_at: int


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Return the ``[start, stop)`` a Range header asks for, None for the whole file.

    Headers this server does not support (other units, several ranges) or cannot
    parse are ignored, as RFC 9110 allows; a range wholly past the end is a 416.
    """
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":
        suffix = int(last)
        if suffix == 0:
            raise _unsatisfiable(size)
        return max(0, size - suffix), size
    start = int(first)
    stop = size if last == "" else min(size, int(last) + 1)
    if last != "" and int(last) < start:
        return None
    if start >= size:
        raise _unsatisfiable(size)
    return start, stop


def _unsatisfiable(size: int) -> ProblemError:
    return ProblemError(
        416,
        ProblemCode.RANGE_NOT_SATISFIABLE,
        f"the file is {size} bytes long",
        headers={"Content-Range": f"bytes */{size}"},
    )


def is_fresh(if_none_match: str | None, etag: str) -> bool:
    """True when the client's If-None-Match names this ETag (weakly, as RFC 9110 says)."""
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


def not_modified(etag: str) -> Response:
    """A 304 for a client that already holds this file."""
    return Response(
        status_code=304, headers={"ETag": etag, "Cache-Control": "private, max-age=3600"}
    )


def _media_info(store: JobStore, job_id: str, kind: str, owner: str | None) -> MediaInfo:
    # Whose job it is comes first: another client's job is a 404 like a missing one.
    job = store.get(job_id, owner=owner)
    try:
        return store.media_info(job_id, kind)
    except MediaNotFound:
        if job.status is JobStatus.SUCCEEDED:
            detail = f"the {kind} of job {job_id} was removed (results are kept for a while)"
        else:
            detail = f"job {job_id} is {job.status.value}; there is a {kind} once it succeeds"
        raise ProblemError(404, ProblemCode.MEDIA_NOT_FOUND, detail) from None


def build_media_router(store: JobStore, guard: Guard, signer: LinkSigner) -> APIRouter:
    """Routes that serve a job's video and thumbnail, to a token or a signed link."""
    router = APIRouter(prefix="/v1/jobs", tags=["results"])
    conditional: dict[int | str, dict[str, Any]] = {
        304: {"description": "The client's copy (If-None-Match) is current."}
    }

    def access(kind: str) -> Callable[..., Awaitable[Caller]]:
        async def check(
            request: Request,
            job_id: JobIdPath,
            expires: Annotated[
                int | None, Query(description="Signed link: when it stops working.")
            ] = None,
            signature: Annotated[
                str | None, Query(max_length=128, description="Signed link: its signature.")
            ] = None,
        ) -> Caller:
            if signer.is_valid(job_id, kind, expires, signature):
                # The link names one job and kind, and only its owner (or an admin) got it.
                return Caller(name="link", is_admin=True, rate_key=f"link:{job_id}")
            return await guard(request)

        return check

    @router.get(
        "/{job_id}/{kind}/link",
        response_model=MediaLinkOut,
        summary="Get a short-lived link to the video or thumbnail",
        responses=problem_responses(401, 404, 429, 503),
    )
    def get_link(
        job_id: JobIdPath,
        kind: Literal["video", "thumbnail"],
        caller: Caller = Depends(guard),
    ) -> dict[str, Any]:
        """A URL that works without the token for an hour, so ``<video src>`` can stream it."""
        _media_info(store, checked_job_id(job_id), kind, caller.scope)
        url, expires = signer.link(job_id, kind)
        return {"url": url, "expires_at": expires}

    @router.get(
        "/{job_id}/video",
        summary="Download the video",
        response_class=StreamingResponse,
        responses={
            200: {"description": "The MP4.", "content": {"video/mp4": {}}},
            206: {"description": "Part of the MP4 (Range request).", "content": {"video/mp4": {}}},
            **conditional,
            **problem_responses(401, 404, 416, 429, 503),
        },
    )
    def get_video(
        job_id: JobIdPath,
        range_header: Annotated[
            str | None, Header(alias="range", max_length=200, description="bytes=start-end")
        ] = None,
        if_range: Annotated[
            str | None,
            Header(max_length=200, description="Apply Range only if the ETag is still this."),
        ] = None,
        if_none_match: Annotated[
            str | None, Header(max_length=1000, description="ETags the client already has.")
        ] = None,
        download: Annotated[bool, Query(description="Ask the browser to save the file.")] = False,
        caller: Caller = Depends(access(VIDEO)),
    ) -> Response:
        """The finished MP4; honours a single byte Range so players can seek."""
        info = _media_info(store, checked_job_id(job_id), VIDEO, caller.scope)
        etag = f'"{info.sha256}"'
        if is_fresh(if_none_match, etag):
            return not_modified(etag)
        if if_range is not None and if_range.strip() != etag:
            # The client's partial copy is of another file: send the whole of this one.
            range_header = None
        wanted = parse_range(range_header, info.size)
        start, stop = wanted or (0, info.size)
        disposition = "attachment" if download else "inline"
        headers = {
            "Accept-Ranges": "bytes",
            "Content-Length": str(stop - start),
            "Content-Disposition": f'{disposition}; filename="i2v-{job_id}.mp4"',
            "ETag": etag,
            "Cache-Control": "private, max-age=3600",
        }
        if wanted is not None:
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{info.size}"
        return StreamingResponse(
            store.iter_media(job_id, VIDEO, start, stop),
            status_code=206 if wanted is not None else 200,
            media_type=info.content_type,
            headers=headers,
        )

    @router.get(
        "/{job_id}/thumbnail",
        summary="Get the thumbnail",
        response_class=Response,
        responses={
            200: {"description": "A JPEG still of the video.", "content": {"image/jpeg": {}}},
            **conditional,
            **problem_responses(401, 404, 429, 503),
        },
    )
    def get_thumbnail(
        job_id: JobIdPath,
        if_none_match: Annotated[
            str | None, Header(max_length=1000, description="ETags the client already has.")
        ] = None,
        caller: Caller = Depends(access(THUMBNAIL)),
    ) -> Response:
        """A small JPEG of the finished video."""
        info = _media_info(store, checked_job_id(job_id), THUMBNAIL, caller.scope)
        etag = f'"{info.sha256}"'
        if is_fresh(if_none_match, etag):
            return not_modified(etag)
        data = store.read_media(job_id, THUMBNAIL)
        return Response(
            data,
            media_type=info.content_type,
            headers={"Cache-Control": "private, max-age=3600", "ETag": etag},
        )

    return router
