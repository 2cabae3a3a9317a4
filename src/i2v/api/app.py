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
from i2v.api.events import build_events_router
from i2v.api.feed import ChangeFeed
from i2v.api.health import build_health_router
from i2v.api.jobs import build_jobs_router
from i2v.api.language import LanguageMiddleware
from i2v.api.links import LinkSigner
from i2v.api.media import build_media_router
from i2v.api.metrics import build_registry
from i2v.api.offload import Offload
from i2v.api.problems import install_problem_handlers, problem_responses
from i2v.api.security import BodyLimit, Guard, install_cors
from i2v.api.web import build_web_router
from i2v.config import Settings, VideoConfig
from i2v.store import JobStore

DESCRIPTION = """\
Turn a photo into a short video. Submit a photo with `POST /v1/jobs`, follow it
live with `GET /v1/jobs/{id}/events` (Server-Sent Events), then fetch
`GET /v1/jobs/{id}/video`. Errors are `application/problem+json` with a stable
`code`. When the server has a token (`I2V_API_TOKEN`), send it as
`Authorization: Bearer <token>`.
"""


def create_app(store: JobStore, settings: Settings) -> FastAPI:
    """Build the HTTP API and web page over ``store``."""
    feed = ChangeFeed(store)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await feed.close()

    app = FastAPI(
        title="i2v",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "jobs", "description": "Submit, follow and cancel jobs."},
            {"name": "results", "description": "The finished video and its thumbnail."},
            {"name": "workers", "description": "Worker processes and their GPUs."},
            {"name": "health", "description": "Probes for process managers and load balancers."},
        ],
    )
    guard = Guard(settings)
    video = VideoConfig.from_settings(settings)
    offload = Offload(serial_writes=store.dialect == "sqlite")
    install_problem_handlers(app)
    app.include_router(build_jobs_router(store, video, guard, offload))
    app.include_router(build_events_router(store, feed, guard, offload))
    app.include_router(build_media_router(store, guard, LinkSigner()))
    app.include_router(build_health_router(store, guard))
    app.include_router(build_web_router())
    registry = build_registry(store)

    @app.get(
        "/metrics",
        tags=["health"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
        responses={
            200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
            **problem_responses(401, 429),
        },
        dependencies=[Depends(guard)],
    )
    async def metrics() -> PlainTextResponse:
        """Jobs, queue, workers, GPUs and stage durations in the Prometheus text format."""
        body = await run_in_threadpool(generate_latest, registry)
        return PlainTextResponse(body, media_type=CONTENT_TYPE_LATEST)

    install_cors(app, settings)
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes)
    # Outermost, so even a refusal by the body limit speaks the caller's language.
    app.add_middleware(LanguageMiddleware)
    app.state.store = store
    app.state.feed = feed
    return app
