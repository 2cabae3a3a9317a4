"""Stopping ``i2v bot``: the signals a service manager and ``i2v up`` send end it gracefully."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from bot_harness import start_bot_process
from fake_bot_api import FakeBotApi

pytest_plugins = ("bot_fixtures",)

#: Only Windows has SIGBREAK (Ctrl+Break, what `i2v up` sends there); SIGUSR1 stands in for it.
PLAY_CTRL_BREAK = "import signal; signal.SIGBREAK = signal.SIGUSR1"


@pytest.mark.skipif(sys.platform == "win32", reason="sends POSIX signals")
@pytest.mark.parametrize("name", ["SIGTERM", "SIGBREAK"])
def test_i2v_bot_stops_gracefully_on_sigterm_and_on_ctrl_break(
    name: str, api: FakeBotApi, sqlite_url: str, tmp_path: Path
) -> None:
    ctrl_break = name == "SIGBREAK"
    bot = start_bot_process(
        api, sqlite_url, tmp_path, prelude=PLAY_CTRL_BREAK if ctrl_break else ""
    )
    try:
        api.wait_for(lambda: api.calls("getUpdates"), timeout=30, what="polling")
        bot.send_signal(signal.SIGUSR1 if ctrl_break else signal.SIGTERM)
        code = bot.wait(15)
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait(10)
    log = (tmp_path / "bot.log").read_text()
    assert code == 0, log
    assert "notifier stopped" in log and log.rstrip().endswith("bot stopped"), log
