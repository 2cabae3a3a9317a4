"""The language of each HTTP request, from its ``Accept-Language`` header.

A small ASGI middleware puts it in a context variable for the length of the
request, so problem details and job error sentences are written in the
caller's language without every route passing it along (the variable follows
the request into worker threads, which copy the context).
"""

from __future__ import annotations

import contextvars
import functools

from starlette.types import ASGIApp, Receive, Scope, Send

from i2v import messages

_LANGUAGE: contextvars.ContextVar[str] = contextvars.ContextVar(
    "i2v_api_language", default=messages.DEFAULT_LANGUAGE
)


def current() -> str:
    """The language of the request being served ("en" outside any)."""
    return _LANGUAGE.get()


@functools.lru_cache(maxsize=256)
def _spoken(header: bytes) -> str:
    # Browsers send the same few headers over and over; a flood of odd ones only evicts.
    return messages.from_accept_language(header.decode("latin-1"))


class LanguageMiddleware:
    """Sets :func:`current` from each request's ``Accept-Language`` header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        language = messages.DEFAULT_LANGUAGE
        for name, value in scope.get("headers") or ():
            if name == b"accept-language":
                language = _spoken(value)
                break
        token = _LANGUAGE.set(language)
        try:
            await self.app(scope, receive, send)
        finally:
            _LANGUAGE.reset(token)
