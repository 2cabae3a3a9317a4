"""Pacing every call the bot makes, so it keeps Telegram's flood limits.

Telegram bans bots that send too much: about 30 messages a second overall, and
it answers 429 with ``retry_after`` when a chat gets too many. One :class:`Pacer`
per bot counts message-sending calls in a sliding one-second window and remembers
each chat's cool-down. :class:`PacingMiddleware` puts every request through it,
so handlers, the notifier and deliveries share one budget.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import EditMessageReplyMarkup, EditMessageText, Response, TelegramMethod
from aiogram.methods.base import TelegramType

log = logging.getLogger(__name__)

#: Methods that put a message in a chat (or change one); Telegram rate-limits these.
PACED_METHODS = frozenset(
    {
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "sendVideo",
        "sendDocument",
        "sendPhoto",
        "deleteMessage",
    }
)
#: Share of the budget that edits may use, so replies to users always find room.
EDIT_SHARE = 0.6
#: A 429 is retried this many times for calls that cannot simply be skipped.
MAX_RETRIES = 3


class Pacer:
    """A global sliding-window budget plus per-chat cool-downs from 429 answers."""

    def __init__(self, per_second: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = max(1.0, per_second)
        self._clock = clock
        self._sent: collections.deque[float] = collections.deque()
        self._cool_until: dict[int | str, float] = {}
        self._urgent_waiting = 0
        self._lock = asyncio.Lock()

    def cooldown(self, chat_id: int | str, seconds: float) -> None:
        """Forbid calls to ``chat_id`` for ``seconds`` (Telegram's retry_after)."""
        until = self._clock() + seconds
        self._cool_until[chat_id] = max(until, self._cool_until.get(chat_id, 0.0))

    def cooling_for(self, chat_id: int | str) -> float:
        """Seconds until ``chat_id`` may be called again (0 when it may now)."""
        left = self._cool_until.get(chat_id, 0.0) - self._clock()
        if left <= 0:
            self._cool_until.pop(chat_id, None)
            return 0.0
        return left

    def _window_count(self) -> int:
        horizon = self._clock() - 1.0
        while self._sent and self._sent[0] <= horizon:
            self._sent.popleft()
        return len(self._sent)

    def _wait_for_slot(self, limit: float) -> float:
        if self._window_count() < limit:
            return 0.0
        # The oldest call leaves the window first; the next slot opens then.
        return max(0.001, self._sent[0] + 1.0 - self._clock())

    async def turn(self, chat_id: int | str | None, *, urgent: bool) -> None:
        """Wait until the chat's cool-down is over and the global window has room.

        Urgent calls (replies to users, video uploads) may use the whole budget;
        edits only ``EDIT_SHARE`` of it, and never while an urgent call is waiting.
        """
        if chat_id is not None:
            while (left := self.cooling_for(chat_id)) > 0:
                await asyncio.sleep(left)
        limit = self.per_second if urgent else self.per_second * EDIT_SHARE
        if urgent:
            self._urgent_waiting += 1
        try:
            while True:
                async with self._lock:
                    blocked = not urgent and self._urgent_waiting > 0
                    wait = 0.01 if blocked else self._wait_for_slot(limit)
                    if wait == 0.0:
                        self._sent.append(self._clock())
                        return
                await asyncio.sleep(wait)
        finally:
            if urgent:
                self._urgent_waiting -= 1


class PacingMiddleware(BaseRequestMiddleware):
    """Puts every Bot API request through a :class:`Pacer` and honours 429 answers exactly.

    A 429 puts the chat on cool-down for exactly ``retry_after`` seconds. Edits are
    then re-raised, because the notifier will send a fresher edit later anyway;
    other calls wait out the cool-down and are retried.
    """

    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        """Wait for a turn, make the request, and record any flood-control answer."""
        name = method.__api_method__
        if name not in PACED_METHODS:
            return await make_request(bot, method)
        chat_id = _chat_of(method)
        is_edit = isinstance(method, (EditMessageText, EditMessageReplyMarkup))
        for attempt in range(MAX_RETRIES + 1):
            await self.pacer.turn(chat_id, urgent=not is_edit)
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                log.warning(
                    "%s to chat %s: flood control, retry after %s s", name, chat_id, exc.retry_after
                )
                if chat_id is not None:
                    self.pacer.cooldown(chat_id, exc.retry_after)
                if is_edit or attempt == MAX_RETRIES or chat_id is None:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover


def _chat_of(method: TelegramMethod[Any]) -> int | str | None:
    chat_id = getattr(method, "chat_id", None)
    return chat_id if isinstance(chat_id, (int, str)) else None
