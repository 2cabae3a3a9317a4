"""``i2v up``, ``i2v restart`` and ``i2v down``: run the whole service on this machine and manage it."""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from collections.abc import Callable, Iterator
from types import FrameType

import typer

from i2v.cli.context import get_context
from i2v.errors import InputError
from i2v.gpu import read_gpus
from i2v.launcher import ControlFolder, Supervisor, plan_children
from i2v.launcher.children import ROLES
from i2v.launcher.logs import configure_logging

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
    log_path = configure_logging(settings.data_dir, settings.log_level)
    # Open (and migrate) the store once here, so a wrong database URL is one clear
    # error now instead of every child failing in turn.
    context.store.close()
    gpus = [reading.index for reading in read_gpus()]
    specs = plan_children(
        settings, gpus, roles=only or ROLES, workers=workers, api=api or "api" in only
    )
    if not specs:
        raise InputError("nothing to run: no workers, and no bot (I2V_TELEGRAM_TOKEN is not set)")
    if "bot" in (only or ROLES) and not any(spec.role == "bot" for spec in specs):
        log.info("I2V_TELEGRAM_TOKEN is not set, so the bot is off")
    where = f"{len(gpus)} GPU(s)" if gpus else "the CPU (no NVIDIA GPU found)"
    log.info("i2v up: %s on %s", ", ".join(s.name for s in specs), where)
    log.info("logs also go to %s; press Ctrl+C to stop", log_path)
    stop = _StopSignals()
    with stop.installed():
        Supervisor(specs, ControlFolder(settings.data_dir)).run(stop.requested, stop.forced)
    log.info("i2v up: everything stopped")


class _StopSignals:
    """The first Ctrl+C (or SIGTERM, or Ctrl+Break) stops gracefully; a second one at once."""

    def __init__(self) -> None:
        self.count = 0

    def requested(self) -> bool:
        """True once a stop signal came."""
        return self.count >= 1

    def forced(self) -> bool:
        """True once a second stop signal came."""
        return self.count >= 2

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        self.count += 1
        if self.count == 1:
            log.info(
                "stopping: running jobs finish or go back to the queue (Ctrl+C again: at once)"
            )
        elif self.count == 2:
            log.warning("stopping at once: running jobs go back to the queue")

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Route the stop signals here while the block runs."""
        names = [n for n in ("SIGINT", "SIGTERM", "SIGBREAK") if hasattr(signal, n)]
        previous = {n: signal.signal(getattr(signal, n), self._handle) for n in names}
        try:
            yield
        finally:
            for name, handler in previous.items():
                signal.signal(getattr(signal, name), handler)


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
