"""The ``i2v`` command: builds settings, passes them down, and turns errors into one line.

Exit codes: 0 ok, 1 the job failed, 2 bad arguments, input or configuration
(a traceback is never the answer to a user's mistake), 130 interrupted.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import typer

from i2v import __version__
from i2v.cli.context import CliContext
from i2v.errors import I2VError

app = typer.Typer(
    name="i2v",
    help="Turn photos into short videos on your own GPU: CLI, Telegram bot and workers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Modules that add commands to ``app`` through their ``register(app)`` function.
COMMAND_MODULES = (
    "i2v.cli.jobs",
    "i2v.cli.admin",
    "i2v.cli.worker",
    "i2v.cli.generate",
    "i2v.cli.doctor",
    "i2v.cli.up",
    "i2v.cli.gpu",
    "i2v.cli.bot",
    "i2v.cli.api",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"i2v {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Turn photos into short videos on your own GPU."""
    ctx.obj = CliContext()
    ctx.call_on_close(ctx.obj.close)


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)


_register_commands()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``i2v`` program."""
    try:
        # Standalone mode: typer prints usage errors itself and exits 2.
        app(args=list(argv) if argv is not None else None, prog_name="i2v")
    except I2VError as exc:
        sys.stderr.write(f"i2v: error: {exc}\n")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write("i2v: interrupted\n")
        sys.exit(130)
