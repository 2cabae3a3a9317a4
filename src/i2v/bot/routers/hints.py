"""Anything that is not a photo or a command (text, a sticker, a voice note) gets a one-line hint."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _


async def on_anything_else(message: Message) -> None:
    """Say what the bot expects instead of staying silent."""
    if message.text and message.text.startswith("/"):
        await message.answer(_("I don't know that command. Send /help to see what I can do."))
        return
    await message.answer(_("Send me a photo, and a caption if you like."))


def build_router() -> Router:
    """A fresh router; include it last, so it sees only what no other router handled."""
    router = Router(name="hints")
    # In a group the bot hears everyone's chatter; a hint there would be noise.
    router.message.register(on_anything_else, F.chat.type == ChatType.PRIVATE)
    return router
