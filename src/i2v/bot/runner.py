"""Running the bot: long polling by default, a webhook server when a public URL is set.

``i2v bot`` runs :func:`run_until_signalled`: SIGINT (Ctrl+C), SIGTERM and, on
Windows, SIGBREAK (Ctrl+Break, which ``i2v up`` sends its children) all stop the
bot the same graceful way; a second signal stops it at once.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from aiogram import Bot, Dispatcher

from i2v.bot.conflict import ConflictWatch, TokenInUse
from i2v.bot.factory import build_bot, build_dispatcher
from i2v.bot.options import BotOptions
from i2v.config import Settings
from i2v.errors import ConfigError
from i2v.store import JobStore

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/telegram/webhook"
#: Seconds one getUpdates call may wait for news (Telegram's long poll).
POLLING_TIMEOUT = 30


def stop_signals() -> list[int]:
    """The signals that stop the bot gracefully on this platform."""
    numbers: list[int] = [signal.SIGINT, signal.SIGTERM]
    ctrl_break = getattr(signal, "SIGBREAK", None)
    if ctrl_break is not None:
        # Windows only: Ctrl+Break, which `i2v up` sends to stop its children gracefully.
        numbers.append(ctrl_break)
    return numbers


def install_stop_handlers(stop: asyncio.Event) -> Callable[[], None]:
    """Set ``stop`` on the first stop signal; return a function that restores the old handlers.

    Call it on the main thread (Python delivers signals only there) from the running loop.
    """
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {}

    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # a second signal: whoever sent it will not wait
        loop.call_soon_threadsafe(stop.set)

    # signal.signal rather than loop.add_signal_handler, which Windows' loop lacks; there
    # the loop's wakeup socket makes sure the handler runs promptly all the same.
    for number in stop_signals():
        previous[number] = signal.signal(number, handle)

    def restore() -> None:
        for number, handler in previous.items():
            signal.signal(number, handler)

    return restore


async def run_until_signalled(
    store: JobStore, settings: Settings, options: BotOptions | None = None
) -> None:
    """Run the bot until a stop signal arrives (``i2v bot``; main thread only)."""
    stop = asyncio.Event()
    restore = install_stop_handlers(stop)
    try:
        await run_bot(store, settings, options, stop=stop)
    finally:
        restore()


async def run_bot(
    store: JobStore,
    settings: Settings,
    options: BotOptions | None = None,
    *,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve the bot until ``stop`` is set: polling, or a webhook when a public URL is set."""
    stop = stop or asyncio.Event()
    bot = build_bot(settings)
    dispatcher = build_dispatcher(store, settings, options)
    me = await bot.get_me()
    log.info(
        "bot @%s started (%s)",
        me.username,
        "webhook" if settings.telegram_webhook_url else "polling",
    )
    if settings.telegram_webhook_url:
        await _serve_webhook(bot, dispatcher, settings, stop)
    else:
        # A webhook left over from an earlier run would stop getUpdates from working.
        await bot.delete_webhook(drop_pending_updates=False)
        await _poll(bot, dispatcher, stop, (options or BotOptions()).conflict_patience_seconds)
    log.info("bot @%s stopped", me.username)


async def _poll(bot: Bot, dispatcher: Dispatcher, stop: asyncio.Event, patience: float) -> None:
    """Long-poll until ``stop`` is set; handlers and the notifier finish their work first.

    Raises TokenInUse when another bot keeps polling the same token.
    """
    conflicts = ConflictWatch(patience)
    bot.session.middleware(conflicts)
    polling = asyncio.create_task(
        dispatcher.start_polling(bot, polling_timeout=POLLING_TIMEOUT, handle_signals=False)
    )
    waits = {asyncio.create_task(stop.wait()), asyncio.create_task(conflicts.detected.wait())}
    await asyncio.wait({polling, *waits}, return_when=asyncio.FIRST_COMPLETED)
    if not polling.done():
        await dispatcher.stop_polling()
    for task in waits:
        task.cancel()
    await polling  # a polling failure surfaces here
    if conflicts.detected.is_set() and not stop.is_set():
        log.error(
            "another bot is polling Telegram with this token: getUpdates has answered "
            "409 Conflict for %.0f s. Stopping this bot; stop the other one, or give this "
            "one its own token",
            patience,
        )
        raise TokenInUse()


async def _serve_webhook(
    bot: Bot, dispatcher: Dispatcher, settings: Settings, stop: asyncio.Event
) -> None:
    """Listen for Telegram's calls and register the public URL until ``stop`` is set."""
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
    from aiohttp import web

    host, _, port = settings.telegram_webhook_listen.rpartition(":")
    if not port.isdigit():
        raise ConfigError(
            "I2V_TELEGRAM_WEBHOOK_LISTEN must be host:port "
            f"(got {settings.telegram_webhook_listen!r})"
        )
    secret = settings.telegram_webhook_secret
    # Without a configured secret, a fresh random one per start: Telegram echoes it on every
    # call, so nobody who merely finds the URL can inject updates.
    secret_value = secret.get_secret_value() if secret else secrets.token_urlsafe(32)
    url = (settings.telegram_webhook_url or "").rstrip("/")
    if not url.endswith(WEBHOOK_PATH):
        url += WEBHOOK_PATH
    app = web.Application()
    SimpleRequestHandler(dispatcher=dispatcher, bot=bot, secret_token=secret_value).register(
        app, path=WEBHOOK_PATH
    )
    setup_application(app, dispatcher, bot=bot)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host or "127.0.0.1", int(port))
    await site.start()
    await bot.set_webhook(url, secret_token=secret_value, drop_pending_updates=False)
    log.info("webhook listening on %s, Telegram calls %s", settings.telegram_webhook_listen, url)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await bot.session.close()
