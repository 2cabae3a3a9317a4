"""``i2v bot``: run the Telegram bot."""

from __future__ import annotations

import asyncio

import typer

from i2v.cli.context import get_context


def bot(ctx: typer.Context) -> None:
    """Run the Telegram bot (long polling; webhook when I2V_TELEGRAM_WEBHOOK_URL is set)."""
    from i2v.bot.factory import build_bot
    from i2v.bot.runner import run_bot

    context = get_context(ctx)
    settings = context.settings
    # Check the token before touching the database, so a missing token is the only message.
    build_bot(settings)
    try:
        asyncio.run(run_bot(context.store, settings))
    except KeyboardInterrupt:
        typer.echo("bot stopped", err=True)


def register(app: typer.Typer) -> None:
    """Add the bot command to the app."""
    app.command()(bot)
