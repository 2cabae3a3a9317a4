"""The ``i2v`` command: builds settings, passes them down, and turns errors into one line.

Exit codes: 0 ok, 1 the job failed, 2 bad arguments, input or configuration
(a traceback is never the answer to a user's mistake), 130 interrupted.

Commands are registered lazily: ``i2v jobs`` imports the job commands and the
store, never the worker, the engines, the bot or the API (``i2v --help`` imports
none of them), so short commands start fast. ``i2v job ID`` and ``i2v jobs`` read a
SQLite store without SQLAlchemy or pydantic (see :mod:`i2v.cli.show`); on PostgreSQL
they take the full path, since its driver alone takes longer to import than they may.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer._click.exceptions import UsageError  # what typer raises (it bundles click)
from typer.core import TyperGroup

from i2v import __version__
from i2v.cli.coercion import use_quick_conversion
from i2v.cli.context import CliContext
from i2v.errors import I2VError

#: Every command: its name, the module whose ``register(app)`` adds it, and the first line
#: of its help, which ``i2v --help`` lists without importing the module (a test keeps these
#: lines equal to the commands' own).
COMMANDS: dict[str, tuple[str, str]] = {
    "submit": ("i2v.cli.jobs", "Queue a photo for a worker and return at once."),
    "job": ("i2v.cli.show", "Show one job: status, stage, progress, ETA, error and output."),
    "jobs": ("i2v.cli.show", "List recent jobs, newest first."),
    "cancel": ("i2v.cli.jobs", "Cancel a job: at once if queued, within one step if running."),
    "result": ("i2v.cli.jobs", "Save a finished job's video (or thumbnail) to a file."),
    "workers": ("i2v.cli.admin", "List workers, what they run and when they last reported."),
    "config": ("i2v.cli.admin", "Print the effective settings (secrets masked)."),
    "worker": (
        "i2v.cli.worker",
        "Run a worker: load the model once, then make videos from the queue until stopped.",
    ),
    "generate": (
        "i2v.cli.generate",
        "Make a video from a photo and wait for it (runs a worker here if none is running).",
    ),
    "doctor": (
        "i2v.cli.doctor",
        "Check Python, PyTorch, driver, VRAM, disk, weights, database, Telegram and encoder.",
    ),
    "up": (
        "i2v.cli.up",
        "Run the bot (if a token is set) and one worker per GPU, restarting any that crash.",
    ),
    "restart": (
        "i2v.cli.up",
        "Gracefully restart the workers (or bot, api, all) of the i2v up running on this machine.",
    ),
    "down": (
        "i2v.cli.up",
        "Gracefully stop every i2v up running on this machine (same data folder).",
    ),
    "gpu": (
        "i2v.cli.gpu",
        "Show each GPU's use, VRAM, temperature, power and clocks, and the i2v worker on it.",
    ),
    "bot": (
        "i2v.cli.bot",
        "Run the Telegram bot (long polling; webhook when I2V_TELEGRAM_WEBHOOK_URL is set).",
    ),
    "api": ("i2v.cli.api", "Serve the HTTP API, the web page and /metrics."),
    "db": ("i2v.cli.admin", "Database maintenance."),
}
#: Modules that add commands to the app through their ``register(app)`` function.
COMMAND_MODULES = tuple(dict.fromkeys(module for module, _ in COMMANDS.values()))


class LazyGroup(TyperGroup):
    """The root command: imports a command's module only when that command runs."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        """Every command name, in the order of :data:`COMMANDS`."""
        return [*COMMANDS, *(name for name in self.commands if name not in COMMANDS)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command, importing its module first (a stand-in with its help while listing)."""
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, help_line = COMMANDS[cmd_name]
            if self._listing:
                # short_help: listed whole (wrapped), as Rich listed it, not cut to 45 characters.
                return typer.core.TyperCommand(cmd_name, help=help_line, short_help=help_line)
            self.load(module)
        return self.commands.get(cmd_name)

    def load(self, module: str) -> None:
        """Import a command module and add the commands it registers."""
        registered = typer.Typer(rich_markup_mode=None)
        importlib.import_module(module).register(registered)
        group = typer.main.get_group(registered)
        assert isinstance(group, TyperGroup)
        self.commands.update(group.commands)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """Find the command; a mistyped name gets the usual "Did you mean" from every name."""
        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:
            import difflib  # only for a mistyped command

            typo = args[0] if args else ""
            matches = difflib.get_close_matches(typo, list(COMMANDS)) if typo else []
            if matches and "Did you mean" not in exc.message:
                names = ", ".join(repr(m) for m in matches)
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {names}?"
            raise

    def get_help_option(self, ctx: Any) -> Any:
        """The ``--help`` option, converted without pydantic (see :mod:`i2v.cli.coercion`)."""
        option = super().get_help_option(ctx)
        use_quick_conversion(option)
        return option

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """The help page, listing every command without importing any of them."""
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="i2v",
    cls=LazyGroup,
    help="Turn photos into short videos on your own GPU: CLI, Telegram bot and workers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help and usage errors: with Rich, typer imports it (and Markdown, Pygments)
    # for every `--help` and mistake, about as long as the rest of the start-up.
    rich_markup_mode=None,
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


def command_group() -> LazyGroup:
    """The root click group, every command loaded (for tests and documentation tools)."""
    group = typer.main.get_group(app)
    assert isinstance(group, LazyGroup)
    for module in COMMAND_MODULES:
        group.load(module)
    return group


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
