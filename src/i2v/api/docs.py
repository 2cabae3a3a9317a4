"""/docs: Swagger UI for the API, served from the swagger-ui-bundle package, so it works offline.

FastAPI's own /docs loads Swagger UI from a CDN: a machine without internet gets
a blank page, and the page runs whatever that CDN serves. Here the script and
style sheet come from the installed ``swagger-ui-bundle`` package (Apache-2.0),
read once into memory, and the page may load nothing from anywhere else. Its
Authorize button takes an API token (the ``bearerAuth`` scheme of the document).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib import resources

from fastapi import APIRouter, Response

log = logging.getLogger(__name__)

#: The files of the bundle this page uses -> media type.
ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>i2v API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""
INIT = """window.onload = function () {
  window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
};
"""
#: Swagger UI sets inline styles and draws icons from data: URLs; scripts only from here.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def read_bundle() -> dict[str, bytes] | None:
    """Swagger UI's files (ASSETS) from swagger-ui-bundle, or None if it is not installed."""
    try:
        vendor = resources.files("swagger_ui_bundle") / "vendor"
    except ModuleNotFoundError:
        return None
    folders = sorted(
        (f for f in vendor.iterdir() if f.name.startswith("swagger-ui-")), key=lambda f: f.name
    )
    if not folders:
        return None
    return {name: (folders[-1] / name).read_bytes() for name in ASSETS}


def build_docs_router() -> APIRouter | None:
    """Routes for /docs and its files; None (no /docs) when swagger-ui-bundle is missing."""
    bundle = read_bundle()
    if bundle is None:
        log.info("no /docs page: the swagger-ui-bundle package is not installed")
        return None
    router = APIRouter(include_in_schema=False)
    router.add_api_route("/docs", _serve(PAGE.encode(), "text/html; charset=utf-8"))
    router.add_api_route("/docs/init.js", _serve(INIT.encode(), ASSETS["swagger-ui-bundle.js"]))
    for name, media_type in ASSETS.items():
        router.add_api_route(f"/docs/{name}", _serve(bundle[name], media_type))
    return router


def _serve(body: bytes, media_type: str) -> Callable[[], Awaitable[Response]]:
    async def serve() -> Response:
        return Response(body, media_type=media_type, headers=HEADERS)

    return serve
