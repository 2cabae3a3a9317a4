"""Fixtures of the bot tests, loaded with ``pytest_plugins = ("bot_fixtures",)``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fake_bot_api import FakeBotApi
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
