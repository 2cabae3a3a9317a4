"""Noticing another bot that polls the same token (Telegram answers getUpdates with 409 Conflict).

Two processes polling one token take turns stealing each other's updates: users
get answers from one and status edits from the other, or none at all. aiogram
retries a failed getUpdates forever, so the bot watches the answers itself and
stops once the conflicts have gone on for ``patience`` seconds. The patience
lets a bot from an ``i2v up`` that was just closed finish stopping (it notices
within seconds) without taking the new one down with it.

``i2v bot`` then exits with code 4, which neither ``i2v up`` nor the systemd
unit restarts, however long the bot ran: restarting would only resume the tug of
war every few seconds. A person decides which of the two should run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramConflictError
from aiogram.methods import GetUpdates, Response, TelegramMethod
from aiogram.methods.base import TelegramType

from i2v.errors import ConfigError

if TYPE_CHECKING:
    from aiogram import Bot

#: Seconds of repeated 409 Conflict answers before the bot gives up polling.
CONFLICT_PATIENCE_SECONDS = 20.0


class TokenInUse(ConfigError):
    """Another bot polls Telegram with this token."""

    def __init__(self) -> None:
        super().__init__(
            "another bot is polling Telegram with this bot's token (Telegram answers "
            "409 Conflict), so this one stopped. Only one bot may use a token: stop the other "
            "one (an i2v up or i2v bot on this or another machine, or another program), or give "
            "this one its own token from @BotFather"
        )


class ConflictWatch(BaseRequestMiddleware):
    """A request middleware that sets :attr:`detected` once getUpdates keeps answering 409."""

    def __init__(
        self,
        patience: float = CONFLICT_PATIENCE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.patience = patience
        self.detected = asyncio.Event()
        self._clock = clock
        self._first: float | None = None
        self._last = 0.0

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:
            return await make_request(bot, method)
        except TelegramConflictError:
            if isinstance(method, GetUpdates):
                self.conflict()
            raise

    def conflict(self) -> None:
        """Count one 409 answer; a streak starts over after ``patience`` seconds without one."""
        now = self._clock()
        if self._first is None or now - self._last > self.patience:
            self._first = now
        self._last = now
        if now - self._first >= self.patience:
            self.detected.set()
