"""The Telegram bot: photo in, live status, video out; it talks to workers only through the store.

Build it with :func:`build_bot` and :func:`build_dispatcher`, or run it with
:func:`run_bot` until its stop event is set (``i2v bot`` sets it on a stop signal).
"""

from i2v.bot.factory import build_bot, build_dispatcher
from i2v.bot.options import BotOptions
from i2v.bot.runner import run_bot

__all__ = ["BotOptions", "build_bot", "build_dispatcher", "run_bot"]
