"""Server-Sent Events for one job: the current state first, then every change, then one end.

Each event is named after the job's status (``queued``, ``running``, ``succeeded``,
``failed``, ``canceled``) and carries the whole job (as ``GET /v1/jobs/{id}``
returns it), so a client that missed events is never out of date. While queued
the job carries its queue position; while running its stage, progress and ETA.
After the terminal event the stream ends.

The event id names the state (last update time and queue position). A client
that reconnects with ``Last-Event-ID`` gets nothing it has already seen; one
that already saw the terminal event gets 204, which tells a browser's
EventSource to stop reconnecting.

Streams are capped per client and in total (:mod:`i2v.api.streams`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from i2v.api.clients import Caller
from i2v.api.feed import ChangeFeed
from i2v.api.jobs import JobIdPath, checked_job_id, read_job_detail
from i2v.api.methods import is_head
from i2v.api.offload import Offload
from i2v.api.problems import problem_responses
from i2v.api.security import Guard
from i2v.api.streams import Slot, StreamSlots
from i2v.jobs import JobStatus
from i2v.store import JobStore

#: Without any change, the stream re-reads its job this often (a safety net for a missed
#: poll) and sends a comment line, so proxies and browsers keep the connection open.
REFRESH_SECONDS = 5.0
#: Headers of a stream: never cached, never buffered by a proxy.
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
#: How long a browser waits before reconnecting a dropped stream.
RETRY_MILLISECONDS = 2000

EXAMPLE = (
    'id: 1717171717123-2\nevent: queued\ndata: {"id": "k7h3m9qz2a", "status": "queued", '
    '"queue": {"position": 2, "wait_seconds": 40.0, "live_workers": 1}, ...}\n\n'
    'id: 1717171720456-0\nevent: running\ndata: {"id": "k7h3m9qz2a", "status": "running", '
    '"stage": "generating", "progress": 0.42, "eta_seconds": 11.5, ...}\n\n'
)


@dataclass(frozen=True)
class Snapshot:
    """A job's state as one event."""

    id: str
    status: JobStatus
    data: dict[str, Any]

    def encode(self) -> str:
        """The event in the text/event-stream format."""
        payload = json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))
        return f"id: {self.id}\nevent: {self.status.value}\ndata: {payload}\n\n"


def take_snapshot(store: JobStore, job_id: str, owner: str | None = None) -> Snapshot:
    """Read the job (and its queue position) and name the state."""
    data = read_job_detail(store, job_id, owner)
    stamp = data["updated_at"] or ""
    position = data["queue"]["position"] if data["queue"] else 0
    return Snapshot(id=f"{stamp}~{position}", status=JobStatus(data["status"]), data=data)


async def job_events(
    store: JobStore,
    feed: ChangeFeed,
    offload: Offload,
    first: Snapshot,
    last_event_id: str | None,
    slot: Slot,
) -> AsyncIterator[str]:
    """Yield events for one job until it reaches a terminal state, then free ``slot``."""
    sub = feed.subscribe(first.data["id"])
    try:
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        sent = last_event_id
        snapshot = first
        while True:
            sub.queued = snapshot.status is JobStatus.QUEUED
            if snapshot.id != sent:
                yield snapshot.encode()
                sent = snapshot.id
            if snapshot.status.is_terminal:
                return
            if not await sub.wait(REFRESH_SECONDS):
                yield ": keep-alive\n\n"
            # Clear before reading, so a change made while we read wakes the next wait.
            sub.changed.clear()
            snapshot = await offload.read(take_snapshot, store, snapshot.data["id"])
    finally:
        feed.unsubscribe(sub)
        slot.release()


#: The events a stream sends, as the OpenAPI description lists them.
EVENTS_DESCRIPTION = """\
A `text/event-stream`. The first line sets the reconnect delay (`retry:`). Then one
event per change of the job, each with an `id:` (give it back as `Last-Event-ID` to
resume), an `event:` naming the job's status and a `data:` line holding the whole job
as `GET /v1/jobs/{id}` returns it (`JobDetailOut`):

* `queued`: waiting; `data.queue` holds the position and the expected wait;
* `running`: on a worker; `data.stage`, `data.progress` and `data.eta_seconds` move;
* `succeeded`: done; the video is at `data.links.video`; the stream ends;
* `failed`: `data.error` holds a stable `code` and a sentence; the stream ends;
* `canceled`: the stream ends.

Lines starting with `:` are keep-alive comments, sent when nothing changed for a while.
"""


def build_events_router(
    store: JobStore, feed: ChangeFeed, guard: Guard, offload: Offload, slots: StreamSlots
) -> APIRouter:
    """The /v1/jobs/{id}/events route."""
    router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

    @router.get(
        "/{job_id}/events",
        summary="Follow a job live (Server-Sent Events)",
        description=EVENTS_DESCRIPTION,
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "An event per change; the stream ends after the terminal event.",
                "content": {
                    "text/event-stream": {"schema": {"type": "string"}, "example": EXAMPLE}
                },
            },
            204: {"description": "The client already saw the terminal event (Last-Event-ID)."},
            **problem_responses(401, 404, 429, 503),
        },
    )
    async def follow_job(
        request: Request,
        job_id: JobIdPath,
        last_event_id: Annotated[
            str | None,
            Header(
                max_length=200, description="Resume after this event; nothing seen is repeated."
            ),
        ] = None,
        caller: Caller = Depends(guard),
    ) -> Response:
        """Stream the job's queue position, stage, progress and ETA until it ends."""
        job_id = checked_job_id(job_id)
        first = await offload.read(take_snapshot, store, job_id, caller.scope)
        if first.status.is_terminal and first.id == last_event_id:
            return Response(status_code=204)
        if is_head(request):
            # The headers a stream would start with, without holding a stream open.
            return Response(media_type="text/event-stream", headers=STREAM_HEADERS)
        slot = slots.take(caller.rate_key)
        # The stream frees its slot when it ends; the background task frees it too when
        # the client leaves before the stream ever started (release is idempotent).
        return StreamingResponse(
            job_events(store, feed, offload, first, last_event_id, slot),
            media_type="text/event-stream",
            headers=STREAM_HEADERS,
            background=BackgroundTask(slot.release),
        )

    return router
