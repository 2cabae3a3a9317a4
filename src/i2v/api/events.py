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
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response
from fastapi.responses import StreamingResponse

from i2v.api.feed import ChangeFeed
from i2v.api.jobs import checked_job_id, read_job_detail
from i2v.api.offload import Offload
from i2v.api.problems import problem_responses
from i2v.api.security import Guard
from i2v.jobs import JobStatus
from i2v.store import JobStore

#: Without any change, the stream re-reads its job this often (a safety net for a missed
#: poll) and sends a comment line, so proxies and browsers keep the connection open.
REFRESH_SECONDS = 5.0
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


def take_snapshot(store: JobStore, job_id: str) -> Snapshot:
    """Read the job (and its queue position) and name the state."""
    data = read_job_detail(store, job_id)
    stamp = data["updated_at"] or ""
    position = data["queue"]["position"] if data["queue"] else 0
    return Snapshot(id=f"{stamp}~{position}", status=JobStatus(data["status"]), data=data)


async def job_events(
    store: JobStore,
    feed: ChangeFeed,
    offload: Offload,
    first: Snapshot,
    last_event_id: str | None,
) -> AsyncIterator[str]:
    """Yield events for one job until it reaches a terminal state."""
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


def build_events_router(
    store: JobStore, feed: ChangeFeed, guard: Guard, offload: Offload
) -> APIRouter:
    """The /v1/jobs/{id}/events route."""
    router = APIRouter(prefix="/v1/jobs", tags=["jobs"], dependencies=[Depends(guard)])

    @router.get(
        "/{job_id}/events",
        summary="Follow a job live (Server-Sent Events)",
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
        job_id: str,
        last_event_id: Annotated[
            str | None,
            Header(
                max_length=200, description="Resume after this event; nothing seen is repeated."
            ),
        ] = None,
    ) -> Response:
        """Stream the job's queue position, stage, progress and ETA until it ends."""
        first = await offload.read(take_snapshot, store, checked_job_id(job_id))
        if first.status.is_terminal and first.id == last_event_id:
            return Response(status_code=204)
        return StreamingResponse(
            job_events(store, feed, offload, first, last_event_id),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return router
