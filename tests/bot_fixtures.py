"""Fixtures of the bot tests, loaded with ``pytest_plugins = ("bot_fixtures",)``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from bot_harness import FAST, BotThread, bot_settings, kenburns_worker
from fake_bot_api import FakeBotApi
from i2v.bot import BotOptions
from i2v.store import JobStore, open_store_url
from i2v.worker import Worker


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
def start_worker(bot_store: JobStore, tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """Start real Ken Burns workers on the bot's store (``step_seconds`` slows one); stopped after."""
    with ExitStack() as running:

        def start(step_seconds: float = 0.0) -> Worker:
            return running.enter_context(
                kenburns_worker(bot_store, tmp_path / "worker", step_seconds)
            )

        yield start


@pytest.fixture
def worker(start_worker: Callable[..., Worker]) -> Worker:
    """A running real Ken Burns worker on the bot's store."""
    return start_worker()
