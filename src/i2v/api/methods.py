"""HTTP methods done right: HEAD wherever GET works, and a true ``Allow`` on 405.

FastAPI routes answer only the methods they declare, so HEAD would be a 405
everywhere, and a 405 lists only the methods of the first route that matched the
path (GET /v1/jobs/{id} and DELETE /v1/jobs/{id} are two routes). HEAD is served
here as the GET it mirrors, with the headers and without the body; the GET stops
at its first body chunk, so a HEAD on a live event stream or a video costs no more
than the headers.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from i2v.api.problems import ProblemCode, problem_response

#: Set in the scope of a HEAD served as GET, for a route that can answer it more cheaply.
HEAD_FLAG = "i2v.head"


def is_head(request: Request) -> bool:
    """True when the request is a HEAD being served as a GET."""
    return bool(request.scope.get(HEAD_FLAG))


class _HeadDone(Exception):
    """The headers of a HEAD answer are sent; the GET behind it may stop."""


class HeadAsGet:
    """ASGI middleware: answer HEAD as GET without a body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run HEAD requests as GET and drop every body byte."""
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        finished = False

        async def headers_only(message: Message) -> None:
            nonlocal finished
            if message["type"] == "http.response.start":
                await send(message)
                return
            if message["type"] == "http.response.body" and not finished:
                finished = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                if message.get("more_body", False):
                    raise _HeadDone

        try:
            # In place, so the outer middleware (metrics) sees the route the GET matched.
            scope["method"] = "GET"
            scope[HEAD_FLAG] = True
            await self.app(scope, receive, headers_only)
        except Exception as exc:
            if not _only_head_done(exc):
                raise


def _only_head_done(exc: BaseException) -> bool:
    # A streaming response runs its body in a task group, which wraps what it raises in a group.
    if isinstance(exc, _HeadDone):
        return True
    inner: tuple[BaseException, ...] = getattr(exc, "exceptions", ())
    return bool(inner) and all(_only_head_done(e) for e in inner)


#: The methods any i2v route may take; each is tried against the request's path.
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route accepts at the request's path (HEAD with GET)."""
    # Asking each route "would you take this path with method M?" works the same for plain
    # routes and for FastAPI's included routers, whose inner routes are not listed directly.
    methods = {
        method
        for method in METHODS
        if any(
            route.matches({**scope, "method": method})[0] is Match.FULL
            for route in app.router.routes
        )
    }
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def install_allow_header(app: FastAPI) -> None:
    """Make a 405 name every method the path accepts, not only those of one route."""

    async def on_method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        allow = ", ".join(allowed_methods(app, request.scope))
        return problem_response(
            405,
            ProblemCode.METHOD_NOT_ALLOWED,
            f"{request.method} is not accepted here; this address accepts {allow}",
            headers={"Allow": allow},
        )

    app.add_exception_handler(405, on_method_not_allowed)
