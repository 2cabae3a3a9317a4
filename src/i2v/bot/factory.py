"""Factories: the Bot (HTTP session to the Bot API) and the Dispatcher (routers and services).

Nothing is built at import time; the CLI, tests and the benchmark call these
with their own settings and store.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import BotCommand
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from i2v.bot.access import AllowlistMiddleware
from i2v.bot.backlog import Backlog
from i2v.bot.intake import PendingIntake
from i2v.bot.locale import DEFAULT_LANGUAGE, LocaleMiddleware, build_i18n
from i2v.bot.notifier import Notifier
from i2v.bot.options import BotOptions
from i2v.bot.outage import install_outage_replies
from i2v.bot.pacing import Pacer, PacingMiddleware
from i2v.bot.routers import admin, hints, jobs, photos, preferences, start
from i2v.config import Settings, VideoConfig
from i2v.errors import ConfigError
from i2v.store import JobStore

#: Seconds an ordinary Bot API call may take (uploads set their own, longer timeout).
REQUEST_TIMEOUT = 60


def build_bot(settings: Settings) -> Bot:
    """A Bot talking to ``settings.telegram_api_url``; ConfigError if the token is missing or bad."""
    if settings.telegram_token is None or not settings.telegram_token.get_secret_value().strip():
        raise ConfigError("I2V_TELEGRAM_TOKEN is not set; get a token from @BotFather")
    token = settings.telegram_token.get_secret_value().strip()
    if not _looks_like_token(token):
        # Never echo the token itself: it is a password.
        raise ConfigError(
            "I2V_TELEGRAM_TOKEN is malformed; a token looks like 123456789:AAH... "
            "(digits, a colon, then 35 letters, digits, _ or -)"
        )
    session = AiohttpSession(
        api=TelegramAPIServer.from_base(settings.telegram_api_url), timeout=REQUEST_TIMEOUT
    )
    return Bot(token=token, session=session)


def _looks_like_token(token: str) -> bool:
    bot_id, _, secret = token.partition(":")
    return bot_id.isdigit() and len(secret) >= 30 and all(c.isalnum() or c in "_-" for c in secret)


def install_pacing(bot: Bot, options: BotOptions) -> Pacer:
    """Route every request of ``bot`` through one pacer; return it."""
    pacer = Pacer(options.messages_per_second)
    bot.session.middleware(PacingMiddleware(pacer))
    return pacer


def build_dispatcher(
    store: JobStore, settings: Settings, options: BotOptions | None = None
) -> Dispatcher:
    """A Dispatcher with every router, the allowlist and i18n, and the notifier on startup.

    Handlers get ``store``, ``settings``, ``video``, ``options``, ``pending`` and ``backlog``
    injected;
    the options offer the models of I2V_TELEGRAM_MODELS unless they name their own.
    The notifier starts with polling (or the webhook server) and stops with it.
    """
    options = options or BotOptions()
    if not options.models:
        options = dataclasses.replace(options, models=tuple(settings.telegram_models))
    i18n = build_i18n()
    pending = PendingIntake()
    backlog = Backlog(settings.data_dir / "bot" / "backlog")
    dispatcher = Dispatcher(
        store=store,
        settings=settings,
        video=VideoConfig.from_settings(settings),
        options=options,
        pending=pending,
        backlog=backlog,
    )
    LocaleMiddleware(i18n, store).setup(dispatcher)
    allowlist = AllowlistMiddleware(settings.telegram_allowed_users, settings.telegram_admins)
    dispatcher.message.outer_middleware(allowlist)
    dispatcher.callback_query.outer_middleware(allowlist)
    install_outage_replies(dispatcher, i18n)
    dispatcher.include_routers(
        start.build_router(),
        preferences.build_router(),
        jobs.build_router(),
        admin.build_router(),
        photos.build_router(),
        hints.build_router(),
    )
    tasks: list[asyncio.Task[None]] = []
    notifiers: list[Notifier] = []
    backlogs: list[asyncio.Task[None]] = []

    async def on_startup(bot: Bot) -> None:
        pacer = install_pacing(bot, options)
        notifier = Notifier(bot, store, i18n, pacer, options, pending)
        notifiers.append(notifier)
        tasks.append(asyncio.create_task(notifier.run(), name="i2v-notifier"))
        # Photos kept during a database outage (in this run or the last) get queued.
        backlogs.append(asyncio.create_task(backlog.run(store), name="i2v-backlog"))
        with contextlib.suppress(Exception):
            # A menu is a nicety; a bot that cannot set it still works. English is the
            # default for every client; Russian for clients set to Russian.
            await bot.set_my_commands(menu_commands(i18n, DEFAULT_LANGUAGE))
            await bot.set_my_commands(menu_commands(i18n, "ru"), language_code="ru")

    async def on_shutdown() -> None:
        for notifier in notifiers:
            notifier.stop()
        for task in backlogs:
            task.cancel()
        await asyncio.gather(*backlogs, return_exceptions=True)
        backlogs.clear()
        await asyncio.gather(*tasks, return_exceptions=True)
        notifiers.clear()
        tasks.clear()

    dispatcher.startup.register(on_startup)
    dispatcher.shutdown.register(on_shutdown)
    return dispatcher


def menu_commands(i18n: I18n, language: str) -> list[BotCommand]:
    """The commands shown in Telegram's menu, described in ``language``."""
    with i18n.context(), i18n.use_locale(language):
        return [
            BotCommand(command="start", description=_("What this bot does")),
            BotCommand(command="settings", description=_("Resolution, length, language")),
            BotCommand(command="status", description=_("Your videos")),
            BotCommand(command="cancel", description=_("Stop your latest video")),
            BotCommand(command="queue", description=_("How busy the queue is")),
        ]


@contextlib.asynccontextmanager
async def running_bot(settings: Settings) -> AsyncIterator[Bot]:
    """A Bot whose HTTP session is closed on exit."""
    bot = build_bot(settings)
    try:
        yield bot
    finally:
        await bot.session.close()
