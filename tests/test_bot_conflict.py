"""Another bot polling the same token: Telegram answers 409 Conflict, and this bot says so and stops."""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot_harness import ALICE, FAST, BotThread, bot_settings, start_bot_process
from fake_bot_api import FakeBotApi
from i2v.bot.conflict import ConflictWatch, TokenInUse
from i2v.launcher.supervisor import ANOTHER_INSTANCE_EXIT
from i2v.store import JobStore

pytest_plugins = ("bot_fixtures",)

CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)


def wait_until_ended(bot: BotThread, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while bot._thread.is_alive():
        assert time.monotonic() < deadline, f"the bot still runs after {timeout} s"
        time.sleep(0.05)


def test_a_bot_that_keeps_getting_409_conflict_stops_with_a_plain_reason(
    api: FakeBotApi,
    bot_store: JobStore,
    sqlite_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    api.fail_next("getUpdates", status=409, description=CONFLICT, times=10_000)
    options = dataclasses.replace(FAST, conflict_patience_seconds=2.0)
    bot = BotThread(bot_store, bot_settings(api, sqlite_url, tmp_path), options).start()
    wait_until_ended(bot, 60)  # by itself: nobody asked it to stop
    assert isinstance(bot.error, TokenInUse)
    assert "another bot is polling Telegram with this bot's token" in str(bot.error)
    assert any(
        "another bot is polling Telegram with this token" in record.getMessage()
        for record in caplog.records
    )
    assert len(api.calls("getUpdates")) >= 2  # it gave the other one time to go away


def test_a_short_conflict_from_a_bot_that_is_going_away_is_ridden_out(
    api: FakeBotApi, start_bot: Callable[..., BotThread]
) -> None:
    # The bot of an i2v up that was just closed polls a moment longer, then stops.
    api.fail_next("getUpdates", status=409, description=CONFLICT, times=2)
    bot = start_bot(dataclasses.replace(FAST, conflict_patience_seconds=20.0))
    api.wait_for(
        lambda: [c for c in api.calls("getUpdates") if c.status == 200],
        timeout=60,
        what="polling to work again",
    )
    api.send_text(ALICE, "/start")
    api.wait_for(lambda: api.messages(ALICE.id), timeout=30, what="the answer to /start")
    assert bot._thread.is_alive()


def test_conflicts_far_apart_do_not_add_up_but_a_streak_longer_than_the_patience_does() -> None:
    now = [0.0]
    watch = ConflictWatch(patience=10.0, clock=lambda: now[0])
    for moment in (0.0, 11.0, 22.0, 33.0):  # each more than the patience after the last
        now[0] = moment
        watch.conflict()
    assert not watch.detected.is_set()
    for moment in (60.0, 63.0, 66.0, 69.0):  # a streak of 9 s
        now[0] = moment
        watch.conflict()
    assert not watch.detected.is_set()
    now[0] = 70.5
    watch.conflict()
    assert watch.detected.is_set()


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="reads the exit code of a POSIX process")
def test_i2v_bot_exits_with_code_4_and_one_line_when_another_bot_polls_its_token(
    api: FakeBotApi, sqlite_url: str, tmp_path: Path
) -> None:
    api.fail_next("getUpdates", status=409, description=CONFLICT, times=10_000)
    bot = start_bot_process(api, sqlite_url, tmp_path)
    try:
        code = bot.wait(90)
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait(10)
    log = (tmp_path / "bot.log").read_text()
    assert code == ANOTHER_INSTANCE_EXIT == 4, log
    assert "another bot is polling Telegram with this token" in log
    assert "i2v: error: another bot is polling Telegram with this bot's token" in log
    assert "Traceback" not in log
