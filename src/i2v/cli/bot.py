"""``i2v bot``: run the Telegram bot."""

from __future__ import annotations

import asyncio
import contextlib

import typer

from i2v.cli.context import get_context
from i2v.launcher.parentwatch import watch_parent


def bot(ctx: typer.Context) -> None:
    """Run the Telegram bot (long polling; webhook when I2V_TELEGRAM_WEBHOOK_URL is set).

    Ctrl+C, SIGTERM and Ctrl+Break (Windows) stop it gracefully; a second one at once.
    """
    from i2v.bot.factory import build_bot
    from i2v.bot.runner import run_until_signalled

    context = get_context(ctx)
    settings = context.settings
    # Check the token before touching the database, so a missing token is the only message.
    build_bot(settings)
    watch_parent()  # under i2v up: stop by ourselves when it is gone
    with contextlib.suppress(KeyboardInterrupt):  # the second signal, or one during start-up
        asyncio.run(run_until_signalled(context.store, settings))
    typer.echo("bot stopped", err=True)


def register(app: typer.Typer) -> None:
    """Add the bot command to the app."""
    app.command()(bot)
