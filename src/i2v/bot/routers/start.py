"""/start and /help: what the bot does and how to use it."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from i2v.config import Settings


def help_text(settings: Settings) -> str:
    """The help message, with this installation's limits in it."""
    quota = (
        _("You can make up to {n} videos a day.").format(n=settings.telegram_daily_quota)
        if settings.telegram_daily_quota
        else ""
    )
    lines = [
        _("I turn a photo into a short video."),
        "",
        _(
            "Send me a photo. For the best quality send it as a file (📎 → File). "
            "A caption, if you add one, describes the motion you want."
        ),
        _("I reply with a status message that follows the job, then send the video."),
        "",
        _("/settings: resolution, length and language"),
        _("/status: your videos"),
        _("/cancel: stop your latest video"),
        _("/queue: how busy the queue is"),
        "",
        _("You can have {n} videos in the making at once.").format(
            n=settings.telegram_max_active_jobs
        ),
        quota,
    ]
    return "\n".join(lines).strip()


async def on_start(message: Message, settings: Settings) -> None:
    """Explain the bot."""
    await message.answer(help_text(settings))


def build_router() -> Router:
    """A fresh router with this feature's handlers (a router can join only one dispatcher)."""
    router = Router(name="start")
    router.message.register(on_start, CommandStart())
    router.message.register(on_start, Command("help"))
    return router
