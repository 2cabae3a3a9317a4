"""The bot rides out a database outage: it keeps polling, keeps photos sent meanwhile, and delivers.

A private PostgreSQL (never the shared one) is stopped under a real ``i2v bot``
process; photos and commands arrive through the fake Bot API; once the server is
back, a real Ken Burns worker makes the videos.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot_harness import ALICE, BORIS, kenburns_worker, start_bot_process
from fake_bot_api import FakeBotApi
from i2v.jobs import JobStatus
from i2v.store import JobStore, open_store_url
from private_postgres import PrivatePostgres, postgres_bin_dir, private_postgres

pytest_plugins = ("bot_fixtures",)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(postgres_bin_dir() is None, reason="PostgreSQL's pg_ctl is not installed"),
    pytest.mark.skipif(sys.platform == "win32", reason="runs PostgreSQL's server tools"),
]

SAVED = {
    "en": "your photo is saved: I will start on it as soon as I can",
    "ru": "ваше фото сохранено",
}
TRY_AGAIN = {"en": "Please try again in a minute.", "ru": "Попробуйте ещё раз через минуту."}


@pytest.fixture
def server() -> Iterator[PrivatePostgres]:
    with private_postgres() as cluster:
        yield cluster


@pytest.fixture
def store(server: PrivatePostgres) -> Iterator[JobStore]:
    opened = open_store_url(server.url)  # creates the schema before the bot starts
    yield opened
    opened.close()


def texts(api: FakeBotApi, chat_id: int) -> list[str]:
    return [str(message.text) for message in api.messages(chat_id)]


def said(api: FakeBotApi, chat_id: int, words: str) -> bool:
    return any(words in text for text in texts(api, chat_id))


def test_photos_sent_while_the_database_is_down_get_their_videos_once_it_is_back(
    api: FakeBotApi,
    server: PrivatePostgres,
    store: JobStore,
    tmp_path: Path,
    photo_bytes: bytes,
) -> None:
    bot = start_bot_process(api, server.url, tmp_path)
    try:
        api.wait_for(lambda: api.calls("getUpdates"), timeout=60, what="the bot to poll")
        server.stop()

        # Photos arrive during the outage: each is kept, and each user is told so in their language.
        api.send_photo(ALICE, photo_bytes)
        api.send_photo(BORIS, photo_bytes, caption="утро")
        api.wait_for(lambda: said(api, ALICE.id, SAVED["en"]), timeout=60, what="Alice's reply")
        api.wait_for(lambda: said(api, BORIS.id, SAVED["ru"]), timeout=60, what="Boris's reply")
        # A command that needs the database gets "try again in a minute", not silence.
        api.send_text(BORIS, "/status")
        api.wait_for(lambda: said(api, BORIS.id, TRY_AGAIN["ru"]), timeout=60, what="/status")
        # The bot keeps polling Telegram all the while.
        polls = len(api.calls("getUpdates"))
        api.wait_for(
            lambda: len(api.calls("getUpdates")) > polls + 1, timeout=30, what="more polls"
        )
        assert bot.poll() is None

        server.start()
        with kenburns_worker(store, tmp_path / "worker"):
            api.wait_for(
                lambda: api.uploads(ALICE.id) and api.uploads(BORIS.id),
                timeout=180,
                what="both videos",
            )
        jobs = store.list_jobs()
        assert sorted(job.status for job in jobs) == [JobStatus.SUCCEEDED] * 2
        assert {job.spec.prompt for job in jobs} == {"", "утро"}
        assert len(api.uploads(ALICE.id)) == 1 and len(api.uploads(BORIS.id)) == 1
        # Nothing waits in the backlog any more.
        assert not list((tmp_path / "data" / "bot" / "backlog").glob("*"))
        assert bot.poll() is None
    finally:
        if bot.poll() is None:
            bot.terminate()
            bot.wait(30)
        print((tmp_path / "bot.log").read_text()[-6000:])
    log = (tmp_path / "bot.log").read_text()
    assert "Traceback" not in log
    # The notifier says once that the store is away and once that it is back.
    assert log.count("notifier: cannot read the store") == 1
    assert log.count("notifier: the store answers again") == 1


def test_a_bot_started_while_the_database_is_down_waits_for_it_instead_of_giving_up(
    api: FakeBotApi, server: PrivatePostgres, store: JobStore, tmp_path: Path
) -> None:
    server.stop()
    bot = start_bot_process(api, server.url, tmp_path)
    try:
        log = tmp_path / "bot.log"
        api.wait_for(
            lambda: "waiting for the database" in log.read_text(), timeout=60, what="the wait"
        )
        assert bot.poll() is None  # not exit 2: an outage is no bad setting
        server.start()
        api.wait_for(lambda: api.calls("getUpdates"), timeout=60, what="the bot to poll")
        api.send_text(ALICE, "/start")
        api.wait_for(lambda: api.messages(ALICE.id), timeout=30, what="the answer to /start")
    finally:
        if bot.poll() is None:
            bot.terminate()
            bot.wait(30)
        print((tmp_path / "bot.log").read_text()[-3000:])
    assert "the database is reachable after" in (tmp_path / "bot.log").read_text()
