"""Who may use the bot: the allowlist and the admins."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject, User
from aiogram.utils.i18n import gettext as _

log = logging.getLogger(__name__)


class AllowlistMiddleware(BaseMiddleware):
    """Answers users not on the allowlist politely and stops their update there.

    It runs before any handler, so a refused photo is never downloaded.
    """

    def __init__(self, allowed: Collection[int], admins: Collection[int] = ()) -> None:
        self.allowed = frozenset(allowed)
        self.admins = frozenset(admins)

    def is_allowed(self, user: User | None) -> bool:
        """True when the list is empty (everyone), or the user is on it or an admin."""
        if not self.allowed:
            return True
        return user is not None and (user.id in self.allowed or user.id in self.admins)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        """Pass allowed users on; answer the others and drop the update."""
        user: User | None = data.get("event_from_user")
        if self.is_allowed(user):
            return await handler(event, data)
        log.info("refused user %s: not on the allowlist", user.id if user else "?")
        text = _(
            "Sorry, this bot is private and you are not on its list of users. "
            "Ask its owner to add your id: {id}"
        ).format(id=user.id if user else "?")
        if isinstance(event, Message):
            await event.answer(text)
        elif isinstance(event, CallbackQuery):
            await event.answer(text, show_alert=True)
        return None


def is_admin(user: User | None, admins: Collection[int]) -> bool:
    """True when the user is one of the configured admins."""
    return user is not None and user.id in admins
