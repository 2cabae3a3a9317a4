"""Result files: the video (with HTTP Range, so a browser can seek) and the thumbnail.

Bytes come from the store in chunks; no part of a request ever names a file on disk.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from i2v.api.jobs import checked_job_id
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


def _media_info(store: JobStore, job_id: str, kind: str) -> MediaInfo:
    try:
        return store.media_info(job_id, kind)
    except MediaNotFound:
        job = store.get(job_id)
        if job.status is JobStatus.SUCCEEDED:
            detail = f"the {kind} of job {job_id} was removed (results are kept for a while)"
        else:
            detail = f"job {job_id} is {job.status.value}; there is a {kind} once it succeeds"
        raise ProblemError(404, ProblemCode.MEDIA_NOT_FOUND, detail) from None


def build_media_router(store: JobStore, guard: Guard, signer: LinkSigner) -> APIRouter:
    """Routes that serve a job's video and thumbnail, to a token or a signed link."""
    router = APIRouter(prefix="/v1/jobs", tags=["results"])

    def access(kind: str) -> Callable[..., Awaitable[None]]:
        async def check(
            request: Request,
            job_id: str,
            expires: Annotated[
                int | None, Query(description="Signed link: when it stops working.")
            ] = None,
            signature: Annotated[
                str | None, Query(max_length=128, description="Signed link: its signature.")
            ] = None,
        ) -> None:
            if not signer.is_valid(job_id, kind, expires, signature):
                await guard(request)

        return check

    @router.get(
        "/{job_id}/{kind}/link",
        response_model=MediaLinkOut,
        summary="Get a short-lived link to the video or thumbnail",
        dependencies=[Depends(guard)],
        responses=problem_responses(401, 404, 429, 503),
    )
    def get_link(job_id: str, kind: Literal["video", "thumbnail"]) -> dict[str, Any]:
        """A URL that works without the token for an hour, so ``<video src>`` can stream it."""
        _media_info(store, checked_job_id(job_id), kind)
        url, expires = signer.link(job_id, kind)
        return {"url": url, "expires_at": expires}

    @router.get(
        "/{job_id}/video",
        summary="Download the video",
        response_class=StreamingResponse,
        dependencies=[Depends(access(VIDEO))],
        responses={
            200: {"description": "The MP4.", "content": {"video/mp4": {}}},
            206: {"description": "Part of the MP4 (Range request).", "content": {"video/mp4": {}}},
            **problem_responses(401, 404, 416, 429, 503),
        },
    )
    def get_video(
        job_id: str,
        range_header: Annotated[
            str | None, Header(alias="range", max_length=200, description="bytes=start-end")
        ] = None,
        download: Annotated[bool, Query(description="Ask the browser to save the file.")] = False,
    ) -> StreamingResponse:
        """The finished MP4; honours a single byte Range so players can seek."""
        info = _media_info(store, checked_job_id(job_id), VIDEO)
        wanted = parse_range(range_header, info.size)
        start, stop = wanted or (0, info.size)
        disposition = "attachment" if download else "inline"
        headers = {
            "Accept-Ranges": "bytes",
            "Content-Length": str(stop - start),
            "Content-Disposition": f'{disposition}; filename="i2v-{job_id}.mp4"',
            "ETag": f'"{info.sha256}"',
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
        dependencies=[Depends(access(THUMBNAIL))],
        responses={
            200: {"description": "A JPEG still of the video.", "content": {"image/jpeg": {}}},
            **problem_responses(401, 404, 429, 503),
        },
    )
    def get_thumbnail(job_id: str) -> Response:
        """A small JPEG of the finished video."""
        info = _media_info(store, checked_job_id(job_id), THUMBNAIL)
        data = store.read_media(job_id, THUMBNAIL)
        return Response(
            data,
            media_type=info.content_type,
            headers={"Cache-Control": "private, max-age=3600", "ETag": f'"{info.sha256}"'},
        )

    return router
