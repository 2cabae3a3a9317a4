"""``i2v worker``: run a worker on this machine until stopped."""

from __future__ import annotations

import typer

from i2v.cli.context import get_context
from i2v.launcher.parentwatch import watch_parent
from i2v.worker import Worker, WorkerOptions, install_stop_handlers


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
    puts it back at once.
    """
    cli = get_context(ctx)
    options = WorkerOptions(burst=burst, max_jobs=max_jobs, gpu_index=gpu)
    running = Worker(cli.store, cli.settings, options)
    restore = install_stop_handlers(running)
    watch_parent()  # under i2v up: stop by ourselves when it is gone
    try:
        running.run()
    finally:
        restore()


def register(app: typer.Typer) -> None:
    """Add the worker command to the app."""
    app.command()(worker)
