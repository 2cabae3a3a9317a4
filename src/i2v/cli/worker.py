"""``i2v worker``: run a worker on this machine until stopped."""

from __future__ import annotations

import enum
import logging

import typer

from i2v.cli.context import get_context
from i2v.cli.waiting import wait_for_store
from i2v.errors import I2VError, InputError
from i2v.launcher.parentwatch import watch_parent
from i2v.worker import Worker, WorkerOptions, install_stop_handlers

log = logging.getLogger("i2v.worker")

#: Exit code of a worker stopped by an error after start-up: a supervisor starts it again
#: (exit 2 is kept for a configuration error found at start-up, which restarting cannot fix).
RUNTIME_ERROR_EXIT = 1


class EngineChoice(str, enum.Enum):
    """The engines a worker can run."""

    AUTO = "auto"
    KENBURNS = "kenburns"
    DIFFUSERS = "diffusers"


def worker(
    ctx: typer.Context,
    burst: bool = typer.Option(False, "--burst", help="Exit once the queue is empty."),
    max_jobs: int | None = typer.Option(
        None, "--max-jobs", min=1, help="Exit after this many jobs."
    ),
    gpu: int = typer.Option(
        0, "--gpu", min=0, help="Index of the GPU to watch (as nvidia-smi numbers it)."
    ),
    engine: EngineChoice | None = typer.Option(
        None, "--engine", help="Engine to run (default: I2V_ENGINE)."
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        help="Model preset, Hugging Face repo id or local folder (default: I2V_MODEL).",
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
    overrides: dict[str, str] = {}
    if engine is not None:
        overrides["engine"] = engine.value
    if model is not None:
        if not model.strip():
            raise InputError("--model needs a name: a preset, a Hugging Face repo id or a folder")
        overrides["model"] = model.strip()
    if overrides:
        settings = settings.model_copy(update=overrides)
    # Under i2v up: stop by ourselves when it is gone (before handlers: the default ends us).
    watch_parent()
    store = wait_for_store(cli, "worker")
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


def register(app: typer.Typer) -> None:
    """Add the worker command to the app."""
    app.command()(worker)
