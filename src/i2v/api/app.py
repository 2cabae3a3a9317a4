"""The app factory: ``create_app(store, settings)`` wires the routes to one store.

Nothing is built at import time; every dependency is passed in, so tests and
``i2v api`` build their own apps side by side.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from i2v import __version__
from i2v.api.docs import build_docs_router
from i2v.api.events import build_events_router
from i2v.api.feed import ChangeFeed
from i2v.api.health import build_health_router
from i2v.api.jobs import build_jobs_router
from i2v.api.language import LanguageMiddleware
from i2v.api.links import LinkSigner, link_secret
from i2v.api.loopreads import LoopReads
from i2v.api.media import build_media_router
from i2v.api.methods import HeadAsGet, install_allow_header
from i2v.api.metrics import build_registry
from i2v.api.offload import Offload
from i2v.api.openapi import install_openapi
from i2v.api.origin import OriginGuard
from i2v.api.problems import install_problem_handlers, problem_responses
from i2v.api.security import BodyLimit, Guard, MetricsGuard, install_cors
from i2v.api.streams import StreamSlots
from i2v.api.traffic import Traffic, TrafficMiddleware
from i2v.api.web import build_web_router
from i2v.config import Settings, VideoConfig
from i2v.store import JobStore

DESCRIPTION = """\
Turn a photo into a short video. Submit a photo with `POST /v1/jobs`, follow it
live with `GET /v1/jobs/{id}/events` (Server-Sent Events), then fetch
`GET /v1/jobs/{id}/video`. Errors are `application/problem+json` with a stable
`code`. When the server has tokens (`I2V_API_TOKENS`, `I2V_API_TOKEN`), send
yours as `Authorization: Bearer <token>`. Each client sees, reads and cancels
only its own jobs (another's answers 404); admins see every job.
"""


def create_app(store: JobStore, settings: Settings) -> FastAPI:
    """Build the HTTP API and web page over ``store``."""
    feed = ChangeFeed(store)
    loop_reads = LoopReads(store)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await feed.close()
        loop_reads.close()

    app = FastAPI(
        title="i2v",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # FastAPI's /docs loads Swagger UI from a CDN; ours serves it from a package (docs.py).
        docs_url=None,
        redoc_url=None,
        openapi_tags=[
            {"name": "jobs", "description": "Submit, follow and cancel jobs."},
            {"name": "results", "description": "The finished video and its thumbnail."},
            {"name": "workers", "description": "Worker processes and their GPUs."},
            {"name": "health", "description": "Probes for process managers and load balancers."},
        ],
    )
    guard = Guard(settings)
    video = VideoConfig.from_settings(settings)
    offload = Offload(
        serial_writes=store.dialect == "sqlite", image_threads=settings.api_photo_checks
    )
    slots = StreamSlots(
        total=settings.api_max_streams, per_client=settings.api_max_streams_per_client
    )
    install_problem_handlers(app)
    install_allow_header(app)
    app.include_router(build_jobs_router(store, video, guard, offload, loop_reads))
    app.include_router(build_events_router(store, feed, guard, offload, slots))
    app.include_router(build_media_router(store, guard, LinkSigner(link_secret(settings))))
    app.include_router(build_health_router(store, guard))
    app.include_router(build_web_router())
    docs = build_docs_router()
    if docs is not None:
        app.include_router(docs)
    registry = build_registry(store)
    traffic = Traffic(registry, lambda: slots.open)

    @app.get(
        "/metrics",
        tags=["health"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
        responses={
            200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
            **problem_responses(401, 429),
        },
        dependencies=[Depends(MetricsGuard(settings, guard))],
    )
    async def metrics() -> PlainTextResponse:
        """Jobs, queue, workers, GPUs, stage durations, HTTP traffic and the process."""
        body = await run_in_threadpool(generate_latest, registry)
        return PlainTextResponse(body, media_type=CONTENT_TYPE_LATEST)

    install_openapi(app, requires_token=guard.requires_token)
    install_cors(app, settings)
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes)
    app.add_middleware(OriginGuard, settings=settings, enabled=not guard.requires_token)
    app.add_middleware(HeadAsGet)
    app.add_middleware(TrafficMiddleware, traffic=traffic)
    # Outermost, so even a refusal by the body limit speaks the caller's language.
    app.add_middleware(LanguageMiddleware)
    app.state.store = store
    app.state.feed = feed
    app.state.streams = slots
    app.state.guard = guard
    return app
