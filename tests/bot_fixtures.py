"""Fixtures of the bot tests, loaded with ``pytest_plugins = ("bot_fixtures",)``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot_harness import FAST, BotThread, bot_settings
from bot_worker import KenBurnsWorker
from fake_bot_api import FakeBotApi
from i2v.bot import BotOptions
from i2v.store import JobStore, open_store_url


@pytest.fixture
def api() -> Iterator[FakeBotApi]:
    """A fresh fake Bot API server."""
    with FakeBotApi() as server:
        yield server


@pytest.fixture
def bot_store(sqlite_url: str) -> Iterator[JobStore]:
    """The store the bot and the worker share."""
    store = open_store_url(sqlite_url)
    yield store
    store.close()


@pytest.fixture
def start_bot(
    api: FakeBotApi, bot_store: JobStore, sqlite_url: str, tmp_path: Path
) -> Iterator[Callable[..., BotThread]]:
    """Start the real bot with settings overrides (and BotOptions via ``options=``); stopped after."""
    started: list[BotThread] = []

    def start(options: BotOptions = FAST, **overrides: object) -> BotThread:
        settings = bot_settings(api, sqlite_url, tmp_path, **overrides)
        bot = BotThread(bot_store, settings, options).start()
        started.append(bot)
        return bot

    yield start
    for bot in started:
        bot.stop()


@pytest.fixture
def worker(bot_store: JobStore) -> Iterator[KenBurnsWorker]:
    """A running Ken Burns worker on the bot's store."""
    running = KenBurnsWorker(bot_store).start()
    yield running
    running.stop()
