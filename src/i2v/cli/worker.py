"""``i2v worker``: run a worker on this machine until stopped."""

from __future__ import annotations

import logging
import time

import typer

from i2v.cli.context import CliContext, get_context
from i2v.errors import I2VError, StoreUnavailable
from i2v.launcher.parentwatch import watch_parent
from i2v.store import JobStore
from i2v.worker import Worker, WorkerOptions, install_stop_handlers

log = logging.getLogger("i2v.worker")

#: Longest wait between two tries of a database that is out of reach at start-up.
START_BACKOFF_MAX_SECONDS = 10.0
#: Exit code of a worker stopped by an error after start-up: a supervisor starts it again
#: (exit 2 is kept for a configuration error found at start-up, which restarting cannot fix).
RUNTIME_ERROR_EXIT = 1


def worker(
    ctx: typer.Context,
    burst: bool = typer.Option(False, "--burst", help="Exit once the queue is empty."),
    max_jobs: int | None = typer.Option(
        None, "--max-jobs", min=1, help="Exit after this many jobs."
    ),
    gpu: int = typer.Option(
        0, "--gpu", min=0, help="Index of the GPU to watch (as nvidia-smi numbers it)."
    ),
) -> None:
    """Run a worker: load the model once, then make videos from the queue until stopped.

    Ctrl+C or SIGTERM stops it gracefully: the running job may finish within
    I2V_STOP_GRACE_SECONDS, otherwise it goes back to the queue; a second Ctrl+C
    puts it back at once. A database that is out of reach (at start-up or later) is
    waited for; only a bad setting found at start-up ends it with exit code 2.
    """
    cli = get_context(ctx)
    settings = cli.settings
    # Under i2v up: stop by ourselves when it is gone (before handlers: the default ends us).
    watch_parent()
    store = wait_for_store(cli)
    options = WorkerOptions(burst=burst, max_jobs=max_jobs, gpu_index=gpu)
    running = Worker(store, settings, options)
    restore = install_stop_handlers(running)
    try:
        running.run()
    except I2VError as exc:
        log.error("worker: stopped by an error after start-up: %s", exc)
        raise typer.Exit(RUNTIME_ERROR_EXIT) from None
    finally:
        restore()


def wait_for_store(cli: CliContext) -> JobStore:
    """Open the store, waiting (with a capped backoff) while the database is out of reach."""
    began: float | None = None
    backoff = 1.0
    while True:
        try:
            store = cli.store
        except StoreUnavailable as exc:
            if began is None:
                began = time.monotonic()
                log.warning(
                    "worker: %s; waiting for the database (if this lasts, check I2V_DATABASE_URL)",
                    exc,
                )
            time.sleep(backoff)
            backoff = min(START_BACKOFF_MAX_SECONDS, backoff * 2)
            continue
        if began is not None:
            log.warning(
                "worker: the database is reachable after %.1f s; starting",
                time.monotonic() - began,
            )
        return store


def register(app: typer.Typer) -> None:
    """Add the worker command to the app."""
    app.command()(worker)
