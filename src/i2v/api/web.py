"""The web page: a few files shipped inside the package, read once into memory.

Routes name each file explicitly, so no part of a request path is ever joined
to a folder on disk.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources

from fastapi import APIRouter, Response

#: Route path -> (file in i2v/api/static, media type).
FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/style.css": ("style.css", "text/css; charset=utf-8"),
    "/static/favicon.svg": ("favicon.svg", "image/svg+xml"),
    # Browsers ask for this path whatever the page says; an SVG served here works too.
    "/favicon.ico": ("favicon.svg", "image/svg+xml"),
}
#: The page may only load its own scripts and media, and never be framed by another site.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def build_web_router() -> APIRouter:
    """Routes for the page and its script and style sheet."""
    router = APIRouter(include_in_schema=False)
    folder = resources.files("i2v.api") / "static"
    for path, (name, media_type) in FILES.items():
        body = (folder / name).read_bytes()
        router.add_api_route(path, _serve(body, media_type), methods=["GET"])
    return router


def _serve(body: bytes, media_type: str) -> Callable[[], Awaitable[Response]]:
    async def serve() -> Response:
        return Response(body, media_type=media_type, headers=SECURITY_HEADERS)

    return serve
