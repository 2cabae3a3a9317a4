"""Host and Origin checks: other web sites must not drive the API through the user's browser.

A tokenless API (loopback only) trusts whoever can reach it, and a browser on
the same machine can reach it on behalf of any page it shows. Two attacks follow:

* cross-site request forgery: a page on another site POSTs a form to
  ``http://127.0.0.1:8000/v1/jobs`` (a multipart POST needs no CORS preflight);
  so a state-changing request whose ``Origin`` is not the API's own is refused;
* DNS rebinding: ``evil.example`` re-resolves to 127.0.0.1 and its scripts then
  read the API as same-origin; so a tokenless API answers only requests whose
  ``Host`` is the address it listens on, a loopback name, or one allowed by
  I2V_API_ALLOWED_HOSTS.

Origins listed in I2V_API_CORS_ORIGINS are the API's own as far as this check goes.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from i2v.api.problems import ProblemCode, problem_response
from i2v.config import Settings

#: Methods that change something; browsers send an Origin header with each of them.
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def host_name(host: str) -> str:
    """The name part of a Host header or netloc, lower case, without port or brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") > 1:
        return host  # a bare IPv6 address
    return host.partition(":")[0]


class OriginGuard:
    """ASGI middleware for a tokenless API: refuse foreign Host headers and foreign Origins.

    With tokens neither check runs: a browser never attaches a bearer token by itself,
    so another site's page cannot act as the user, and a reverse proxy may rewrite Host.
    """

    def __init__(self, app: ASGIApp, settings: Settings, *, enabled: bool) -> None:
        self.app = app
        self.enabled = enabled
        self.hosts = (
            LOOPBACK_NAMES
            | {host_name(settings.api_host)}
            | {host_name(h) for h in settings.api_allowed_hosts}
        )
        self.origins = frozenset(o.rstrip("/").lower() for o in settings.api_cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 403."""
        if scope["type"] == "http" and self.enabled:
            refusal = self._refusal(scope)
            if refusal is not None:
                await problem_response(403, ProblemCode.FORBIDDEN, refusal)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> str | None:
        host = origin = None
        for name, value in scope["headers"]:
            # The first of each, as Starlette's Headers.get would pick.
            if name == b"host" and host is None:
                host = value.decode("latin-1")
            elif name == b"origin" and origin is None:
                origin = value.decode("latin-1")
        if host is not None and host_name(host) not in self.hosts:
            return (
                f"this API does not answer to the name {host_name(host)[:100]!r}; open it as "
                "http://127.0.0.1 or add the name to I2V_API_ALLOWED_HOSTS"
            )
        if (
            scope["method"] in STATE_CHANGING
            and origin is not None
            and not self._is_own(origin, host)
        ):
            return (
                f"requests from the web page at {origin[:100]!r} may not change anything "
                "here; add that origin to I2V_API_CORS_ORIGINS if it is yours"
            )
        return None

    def _is_own(self, origin: str, host: str | None) -> bool:
        origin = origin.strip().rstrip("/").lower()
        if origin in self.origins:
            return True
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or host is None:
            return False
        return parts.netloc == host.strip().lower()
