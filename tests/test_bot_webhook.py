"""Webhook mode: Telegram calls the bot's listener instead of the bot polling Telegram."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx

from bot_harness import ALICE, BORIS, BotThread
from fake_bot_api import FakeBotApi
from i2v.store import JobStore

pytest_plugins = ("bot_fixtures",)
SECRET = "webhook-secret-for-tests"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_in_webhook_mode_the_bot_registers_its_url_and_answers_only_updates_with_the_secret(
    api: FakeBotApi, start_bot: Callable[..., BotThread], bot_store: JobStore, photo_bytes: bytes
) -> None:
    port = _free_port()
    start_bot(
        telegram_webhook_url="https://bot.example.org/",
        telegram_webhook_listen=f"127.0.0.1:{port}",
        telegram_webhook_secret=SECRET,
    )
    api.wait_for(lambda: api.webhook, timeout=10, what="setWebhook")
    assert api.webhook == {
        "url": "https://bot.example.org/telegram/webhook",
        "secret_token": SECRET,
    }
    listener = f"http://127.0.0.1:{port}/telegram/webhook"

    api.send_text(BORIS, "/start")
    [forged] = api.take_updates()
    with httpx.Client(timeout=10) as telegram:
        wrong = telegram.post(listener, json=forged, headers={SECRET_HEADER: "guessed"})
        missing = telegram.post(listener, json=forged)
        photo_id = api.send_photo(ALICE, photo_bytes, caption="through the webhook")
        [update] = api.take_updates()
        accepted = telegram.post(listener, json=update, headers={SECRET_HEADER: SECRET})

    assert (wrong.status_code, missing.status_code, accepted.status_code) == (401, 401, 200)
    [status] = api.wait_for(lambda: api.messages(ALICE.id), timeout=10, what="a status message")
    assert status.reply_to == photo_id
    assert "In the queue" in str(status.text)
    [job] = bot_store.list_jobs()
    assert job.spec.prompt == "through the webhook"
    assert api.messages(BORIS.id) == []  # the forged updates were never handled
    assert api.calls("getUpdates") == []  # and the bot never polled


def test_without_a_configured_secret_the_bot_registers_a_random_one_and_refuses_updates_without_it(
    api: FakeBotApi, start_bot: Callable[..., BotThread]
) -> None:
    port = _free_port()
    start_bot(
        telegram_webhook_url="https://bot.example.org/",
        telegram_webhook_listen=f"127.0.0.1:{port}",
    )
    api.wait_for(lambda: api.webhook, timeout=10, what="setWebhook")
    secret = str(api.webhook["secret_token"])
    assert len(secret) >= 32
    api.send_text(BORIS, "/start")
    [update] = api.take_updates()
    with httpx.Client(timeout=10) as telegram:
        listener = f"http://127.0.0.1:{port}/telegram/webhook"
        assert telegram.post(listener, json=update).status_code == 401
        assert (
            telegram.post(listener, json=update, headers={SECRET_HEADER: secret}).status_code == 200
        )
    api.wait_for(lambda: api.messages(BORIS.id), timeout=10, what="the /start answer")
