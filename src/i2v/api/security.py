"""The API's guards: bearer tokens, request body limit, per-client rate limit and CORS.

Tokens are compared in constant time and never logged. Rate limits are token
buckets kept in this process: one per client, or per client address when the
API runs without a token (loopback only). Failed logins draw from the caller's
address bucket and grow that address's wait (:mod:`i2v.api.throttle`), so
guessing tokens is slow as well as hopeless.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from i2v.api.clients import Caller, ClientTable
from i2v.api.problems import ProblemCode, ProblemError, problem_response
from i2v.api.throttle import LoginThrottle
from i2v.config import Settings

#: Buckets beyond this many are pruned (full ones first), so a flood of addresses cannot grow memory.
MAX_BUCKETS = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets: ``rate`` requests per second on average, ``burst`` at once."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """False when the limit is switched off (rate 0)."""
        return self.rate > 0

    def take(self, key: str) -> float:
        """Spend one request from ``key``'s bucket; return 0, or seconds to wait if it is empty."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_BUCKETS:
                    self._prune(now)
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate

    def _prune(self, now: float) -> None:
        refilled = [
            key
            for key, b in self._buckets.items()
            if b.tokens + (now - b.updated) * self.rate >= self.burst
        ]
        for key in refilled or list(self._buckets)[: MAX_BUCKETS // 2]:
            del self._buckets[key]


class Guard:
    """Checks every API request's token and rate; use :meth:`__call__` as a dependency."""

    def __init__(
        self,
        settings: Settings,
        limiter: RateLimiter | None = None,
        throttle: LoginThrottle | None = None,
    ) -> None:
        self.clients = ClientTable(settings)
        self.limiter = limiter or RateLimiter(
            settings.api_rate_limit_per_second, settings.api_rate_limit_burst
        )
        self.throttle = throttle or LoginThrottle()

    @property
    def requires_token(self) -> bool:
        """True when requests must carry a bearer token."""
        return not self.clients.is_empty

    async def __call__(self, request: Request) -> Caller:
        """Admit the request or raise a 401/429 problem; return the caller."""
        address = request.client.host if request.client else "unknown"
        if self.clients.is_empty:
            caller = ClientTable.local(address)
            self._check_rate(caller.rate_key)
            return caller
        return self.admit(request, address)

    def admit(self, request: Request, address: str) -> Caller:
        """Find the caller by its token; count and slow down wrong tokens from ``address``."""
        waited = self.throttle.wait_seconds(address)
        if waited > 0:
            raise ProblemError(
                429,
                ProblemCode.RATE_LIMITED,
                f"too many wrong API tokens from your address; retry in {math.ceil(waited)} s",
                headers={"Retry-After": str(max(1, math.ceil(waited)))},
            )
        presented = _bearer(request.headers.get("authorization", ""))
        caller = None if presented is None else self.clients.identify(presented)
        if caller is None:
            if presented is not None:
                self.throttle.failed(address)
            self._check_rate("addr:" + address)
            raise ProblemError(
                401,
                ProblemCode.UNAUTHORIZED,
                "send your API token as 'Authorization: Bearer <token>' "
                "(I2V_API_TOKENS or I2V_API_TOKEN)",
                headers={"WWW-Authenticate": 'Bearer realm="i2v"'},
            )
        self.throttle.succeeded(address)
        self._check_rate(caller.rate_key)
        return caller

    def _check_rate(self, key: str) -> None:
        wait = self.limiter.take(key)
        if wait > 0:
            raise ProblemError(
                429,
                ProblemCode.RATE_LIMITED,
                f"slow down: at most {self.limiter.rate:g} requests per second "
                f"(bursts of {self.limiter.burst}); retry in {wait:.1f} s",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )


class MetricsGuard:
    """Who may scrape /metrics: the read-only metrics token, any API client, or (tokenless) anyone.

    The metrics token and tokenless loopback scrapes are never rate limited: a
    scraper polling every few seconds must not eat the page's budget or be refused.
    """

    def __init__(self, settings: Settings, guard: Guard) -> None:
        token = settings.api_metrics_token
        self._token = token.get_secret_value().encode() if token is not None else None
        self._guard = guard

    async def __call__(self, request: Request) -> None:
        """Admit a scrape or raise a 401/429 problem."""
        presented = _bearer(request.headers.get("authorization", ""))
        if (
            self._token is not None
            and presented is not None
            and hmac.compare_digest(presented.encode(), self._token)
        ):
            return
        if not self._guard.requires_token:
            return
        await self._guard(request)


def _bearer(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


class BodyTooLarge(StarletteHTTPException):
    """The request body passed the limit while it was being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413, f"the request body is larger than {limit} bytes (I2V_API_MAX_BODY_BYTES)"
        )


class BodyLimit:
    """ASGI middleware: refuse bodies over ``max_bytes`` with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check Content-Length up front and count the bytes of chunked bodies."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = chunked = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
            elif name == b"transfer-encoding":
                chunked = value
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        if declared is None and chunked is None:
            # HTTP/1.1 (RFC 9112, 6.3): a request with neither header has no body to count.
            await self.app(scope, receive, send)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # An HTTPException passes through FastAPI's body parsing untouched.
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413, ProblemCode.PAYLOAD_TOO_LARGE, BodyTooLarge(self.max_bytes).detail
        )
        await response(scope, receive, send)


def install_cors(app: FastAPI, settings: Settings) -> None:
    """Allow the configured browser origins; with none configured, add nothing (CORS off)."""
    if not settings.api_cors_origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.api_cors_origins),
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"],
        expose_headers=["Content-Range", "Accept-Ranges", "Retry-After", "Location"],
        max_age=600,
    )
