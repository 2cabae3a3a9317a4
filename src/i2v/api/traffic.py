"""Metrics of the API's own traffic: requests by route and status, latency, streams, 429s.

Requests are labelled by the route's template (``/v1/jobs/{job_id}``), never by
the raw path, so a scan of random URLs cannot create a label per URL; paths no
route matches share the label ``unmatched``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Methods counted by name; any other (clients may send anything) counts as "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Seconds: from a cached page to a large upload; event streams land in +Inf.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Traffic:
    """The HTTP metrics of one app, registered in its registry."""

    def __init__(self, registry: CollectorRegistry, open_streams: Callable[[], int]) -> None:
        self.requests = Counter(
            "i2v_http_requests",
            "HTTP requests answered, by method, route and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "i2v_http_request_duration_seconds",
            "Seconds from a request's arrival to its response headers, by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.limited = Counter(
            "i2v_http_rate_limited",
            "Requests refused with 429 (rate limit, wrong-token delay, stream cap), by route.",
            ["route"],
            registry=registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        registry.register(_Streams(open_streams))
        # The standard process_* metrics (CPU, resident memory, open files, start time).
        ProcessCollector(registry=registry)

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        # A label set's child is looked up once (labels() takes a lock and builds a tuple);
        # there are only ever as many as routes x methods x statuses.
        key = (method, route, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(route),
            )
        child[0].inc()
        child[1].observe(seconds)
        if status == 429:
            self.limited.labels(route).inc()


class _Streams(Collector):
    def __init__(self, open_streams: Callable[[], int]) -> None:
        self.open_streams = open_streams

    def collect(self) -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily(
                "i2v_http_open_streams", "Live event streams open now.", value=self.open_streams()
            )
        ]


class TrafficMiddleware:
    """ASGI middleware that feeds :class:`Traffic` (outermost, so it sees every answer)."""

    def __init__(self, app: ASGIApp, traffic: Traffic) -> None:
        self.app = app
        self.traffic = traffic

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request until its response headers go out, then count it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answered = False

        def record(status: int) -> None:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in METHODS else "other"
            self.traffic.record(method, route, status, time.perf_counter() - started)

        async def observed(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
                record(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, observed)
        except Exception:
            # The server's last-resort handler, outside this middleware, answers 500.
            if not answered:
                record(500)
            raise
