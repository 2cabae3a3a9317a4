"""``i2v api``: serve the HTTP API and web page with uvicorn."""

from __future__ import annotations

import gc
import ipaddress
import logging
import os
from typing import TYPE_CHECKING

import typer

from i2v.cli.context import CliContext, get_context
from i2v.cli.waiting import wait_for_store
from i2v.config import Settings
from i2v.errors import ConfigError
from i2v.launcher.parentwatch import watch_parent

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """True when ``host`` is reachable only from this machine."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


#: Shortest token accepted when the API listens beyond loopback.
MIN_TOKEN_CHARS = 32


def check_exposure(settings: Settings, host: str) -> None:
    """Refuse to serve beyond loopback without tokens, or with short ones anyone could guess."""
    tokens = {name: secret.get_secret_value() for name, secret in settings.api_tokens.items()}
    if settings.api_token is not None:
        tokens["I2V_API_TOKEN"] = settings.api_token.get_secret_value()
    if is_loopback(host):
        return
    hint = "(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    if not tokens:
        raise ConfigError(
            f"refusing to serve the API on {host} without a token: anyone who can reach this "
            "address could submit jobs and read every video. Set I2V_API_TOKENS (name:token "
            f"pairs) or I2V_API_TOKEN to a long random secret {hint}, or listen on 127.0.0.1"
        )
    short = sorted(name for name, token in tokens.items() if len(token) < MIN_TOKEN_CHARS)
    if short:
        raise ConfigError(
            f"refusing to serve the API on {host} with a token shorter than {MIN_TOKEN_CHARS} "
            f"characters ({', '.join(short)}): a short token can be guessed. Use a long random "
            f"secret {hint}, or listen on 127.0.0.1"
        )


def build_worker_app() -> FastAPI:
    """The app of one server process when ``i2v api --workers`` runs several (a uvicorn factory)."""
    from i2v.api import create_app

    # Each process opens its own store from the same settings (the environment, as i2v api read).
    context = CliContext()
    return create_app(context.store, context.settings)


def api(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", help="Address to listen on (I2V_API_HOST)."),
    port: int | None = typer.Option(None, "--port", help="Port to listen on (I2V_API_PORT)."),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        max=64,
        help="Server processes sharing the port. Each keeps its own rate-limit buckets, so a "
        "client may get up to this many times I2V_API_RATE_LIMIT_PER_SECOND.",
    ),
) -> None:
    """Serve the HTTP API, the web page and /metrics."""
    import uvicorn

    from i2v.api import create_app

    context = get_context(ctx)
    settings = context.settings
    host = host or settings.api_host
    port = port or settings.api_port
    check_exposure(settings, host)
    # The Host check of a tokenless API allows the address it really listens on.
    settings = settings.model_copy(update={"api_host": host})
    tokened = settings.api_token is not None or bool(settings.api_tokens)
    auth = "bearer token required" if tokened else "no token (loopback only)"
    watch_parent()  # under i2v up: stop by ourselves when it is gone
    store = wait_for_store(context, "api")
    gc.freeze()  # the loaded modules live as long as the process: spare them every collection
    log.info("serving the i2v API on http://%s:%s (%s, %d process(es))", host, port, auth, workers)
    # log_config=None keeps the logging the CLI configured; uvicorn's access lines carry
    # the path only, never headers, so the token cannot reach a log.
    if workers == 1:
        app = create_app(store, settings)
        uvicorn.run(app, host=host, port=port, log_config=None, proxy_headers=False)
        return
    # Python runs one thread at a time per process; more processes use more cores. Open
    # (and migrate) the store here once, so the processes never race to migrate it.
    store.close()
    # The server processes read the environment; tell them the address really listened on.
    os.environ["I2V_API_HOST"] = host
    uvicorn.run(
        f"{__name__}:{build_worker_app.__name__}",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_config=None,
        proxy_headers=False,
    )


def register(app: typer.Typer) -> None:
    """Add the api command to the app."""
    app.command()(api)
