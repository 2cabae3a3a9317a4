"""``i2v up``, ``i2v restart`` and ``i2v down``: run the whole service on this machine and manage it."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa
import typer

from i2v.cli.context import get_context
from i2v.cli.waiting import wait_for_store
from i2v.config import Settings
from i2v.config.settings import mask_url
from i2v.errors import InputError
from i2v.gpu import read_gpus
from i2v.launcher import ControlFolder, Supervisor, plan_children
from i2v.launcher.children import ROLES
from i2v.launcher.instance import AlreadyRunning, InstanceLock
from i2v.launcher.logs import configure_logging
from i2v.launcher.stopsignals import StopSignals
from i2v.store.botlock import BotLock

log = logging.getLogger("i2v.launcher")


def up(
    ctx: typer.Context,
    workers: int | None = typer.Option(
        None,
        "--workers",
        "-w",
        min=0,
        help="Workers to run. Default: one per GPU, or one on the CPU.",
    ),
    only: list[str] = typer.Option(
        [], "--only", help="Run only this role: worker, bot or api (repeatable)."
    ),
    api: bool = typer.Option(False, "--api", help="Also serve the HTTP API (i2v api)."),
) -> None:
    """Run the bot (if a token is set) and one worker per GPU, restarting any that crash."""
    unknown = sorted(set(only) - set(ROLES))
    if unknown:
        raise InputError(f"unknown role {', '.join(unknown)}; choose worker, bot or api")
    context = get_context(ctx)
    settings = context.settings
    with contextlib.ExitStack() as locks:
        # One i2v up per data folder, checked before anything starts: a second one would
        # start a second set of workers (and a second bot) over the same files.
        locks.enter_context(_held(InstanceLock.for_data_dir(settings.data_dir)))
        log_path = configure_logging(settings.data_dir, settings.log_level)
        # Open (and migrate) the store once here, so a wrong database URL is one clear
        # error now instead of every child failing in turn; a database that is merely
        # down is waited for.
        wait_for_store(context, "i2v up").close()
        gpus = [reading.index for reading in read_gpus()]
        roles = only or ROLES
        specs = plan_children(
            settings, gpus, roles=roles, workers=workers, api=api or "api" in only
        )
        if not specs:
            raise InputError(
                "nothing to run: no workers, and no bot (I2V_TELEGRAM_TOKEN is not set)"
            )
        if any(spec.role == "bot" for spec in specs):
            locks.enter_context(_bot_lock(settings))
        elif "bot" in roles:
            log.info("I2V_TELEGRAM_TOKEN is not set, so the bot is off")
        where = f"{len(gpus)} GPU(s)" if gpus else "the CPU (no NVIDIA GPU found)"
        log.info("i2v up: %s on %s", ", ".join(s.name for s in specs), where)
        log.info("logs also go to %s; press Ctrl+C to stop", log_path)
        stop = StopSignals()
        with stop.installed():
            Supervisor(specs, ControlFolder(settings.data_dir)).run(stop.requested, stop.forced)
    log.info("i2v up: everything stopped")


@contextlib.contextmanager
def _held(lock: InstanceLock) -> Iterator[None]:
    """Hold ``lock`` while the block runs (AlreadyRunning, naming the holder, if taken)."""
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def _bot_lock(settings: Settings) -> Iterator[None]:
    """Hold the database's bot lock while the block runs: one bot per database, any host.

    Workers need no such lock (several GPU hosts may serve one PostgreSQL), but a
    second bot would poll the same token and edit the same status messages.
    """
    url = sa.make_url(settings.database_url_resolved)
    if url.get_backend_name() == "postgresql":
        holder = f"i2v up pid {os.getpid()} on {socket.gethostname()}"
        bot_lock = BotLock(settings.database_url_resolved, holder)
        taken_by = bot_lock.acquire()
        if taken_by is not None:
            raise AlreadyRunning(
                "another i2v up already runs the bot on the database "
                f"{mask_url(settings.database_url_resolved)} ({taken_by}); one bot per "
                "database. Stop that one first, or run only workers here: i2v up --only worker"
            )
        try:
            yield
        finally:
            bot_lock.release()
        return
    database = Path(url.database or "")
    if (
        url.database in (None, "", ":memory:")
        or database.resolve().parent == settings.data_dir.resolve()
    ):
        yield  # the data folder's lock covers a database inside it
        return
    # A SQLite file outside the data folder may be shared by two data folders.
    with _held(
        InstanceLock(database.with_name(f"{database.name}.bot.lock"), f"the database {database}")
    ):
        yield


def restart(
    ctx: typer.Context,
    role: str = typer.Argument("worker", help="worker, bot, api or all."),
) -> None:
    """Gracefully restart the workers (or bot, api, all) of the i2v up running on this machine."""
    if role not in (*ROLES, "all"):
        raise InputError(f"unknown role {role!r}; choose worker, bot, api or all")
    settings = get_context(ctx).settings
    roles = ROLES if role == "all" else (role,)
    control = ControlFolder(settings.data_dir)
    targets = [
        s for s in control.live_supervisors() if any(c["role"] in roles for c in s["children"])
    ]
    if not targets:
        typer.echo(f"no running 'i2v up' here runs a {role}; start it with: i2v up", err=True)
        raise typer.Exit(1)
    requests = [control.send(int(s["pid"]), "restart", roles) for s in targets]
    typer.echo(f"restarting {role} (a running job finishes first, or goes back to the queue)")
    limit = settings.stop_grace_seconds + 60
    _wait(lambda: not any(path.exists() for path in requests), limit, f"restart of {role}")
    typer.echo(f"{role} restarted")


def down(ctx: typer.Context) -> None:
    """Gracefully stop every i2v up running on this machine (same data folder)."""
    settings = get_context(ctx).settings
    control = ControlFolder(settings.data_dir)
    pids = [int(s["pid"]) for s in control.live_supervisors()]
    if not pids:
        typer.echo("no 'i2v up' is running here")
        return
    for pid in pids:
        control.send(pid, "stop")
    typer.echo("stopping (running jobs finish or go back to the queue)")

    def gone() -> bool:
        return not any(int(s["pid"]) in pids for s in control.live_supervisors())

    _wait(gone, settings.stop_grace_seconds + 60, "stop")
    typer.echo("stopped")


def _wait(done: Callable[[], bool], limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not done():
        if time.monotonic() > deadline:
            typer.echo(
                f"the {what} did not finish within {limit:.0f} s; see the i2v up log", err=True
            )
            raise typer.Exit(1)
        time.sleep(0.3)


def register(app: typer.Typer) -> None:
    """Add ``up``, ``restart`` and ``down`` to the app."""
    for command in (up, restart, down):
        app.command()(command)
