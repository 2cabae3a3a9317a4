"""The notifier under Telegram's rules: 429 storms, "not modified", deleted messages, restarts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot_harness import ALICE, BORIS, FAST, BotThread, bot_settings, start_bot_process
from fake_bot_api import FakeBotApi
from i2v.bot import build_bot
from i2v.bot.factory import install_pacing
from i2v.bot.intake import PendingIntake
from i2v.bot.locale import build_i18n
from i2v.bot.notifier import Notifier
from i2v.bot.pacing import PACED_METHODS
from i2v.jobs import JobSpec, JobStatus
from i2v.store import JobStore
from i2v.worker import Worker

pytest_plugins = ("bot_fixtures",)


def test_a_429_storm_is_waited_out_exactly_per_chat_and_other_chats_keep_moving(
    api: FakeBotApi,
    start_bot: Callable[..., BotThread],
    start_worker: Callable[..., Worker],
    bot_store: JobStore,
    photo_bytes: bytes,
) -> None:
    start_worker(step_seconds=2.0)
    api.fail_next("editMessageText", chat_id=ALICE.id, retry_after=2, times=2)
    api.fail_next("sendVideo", chat_id=ALICE.id, retry_after=1, times=2)
    start_bot()
    api.send_photo(ALICE, photo_bytes)
    api.send_photo(BORIS, photo_bytes)
    api.wait_for(lambda: len(api.uploads()) == 2, timeout=60, what="both videos")
    alice_status = api.first_message_id(ALICE.id)
    api.wait_for(
        lambda: "Done" in api.text_of(ALICE.id, alice_status), timeout=15, what="Alice's final"
    )

    calls = [c for c in api.calls(chat_id=ALICE.id) if c.method in PACED_METHODS]
    refused = [i for i, call in enumerate(calls) if call.status == 429]
    assert len(refused) == 4, [(c.method, c.status) for c in calls]
    for i in refused:
        wait = calls[i + 1].at - calls[i].at
        assert wait >= float(calls[i].retry_after or 0), (calls[i].method, wait)
        if calls[i].method == "sendVideo":
            # An upload is retried as soon as the wait is over, not a poll later.
            assert wait < float(calls[i].retry_after or 0) + 0.5
    assert len(api.uploads(ALICE.id)) == 1
    # Boris's chat was never held back by Alice's flood control.
    boris = [c for c in api.calls(chat_id=BORIS.id) if c.method in PACED_METHODS]
    assert all(call.status == 200 for call in boris)


def test_message_is_not_modified_counts_as_success(
    api: FakeBotApi,
    start_bot: Callable[..., BotThread],
    worker: Worker,
    bot_store: JobStore,
    photo_bytes: bytes,
) -> None:
    api.fail_next(
        "editMessageText",
        status=400,
        description="Bad Request: message is not modified: specified new message content and "
        "reply markup are exactly the same as a current content and reply markup of the message",
        times=1000,  # every edit: only treating it as success lets the job finish
    )
    start_bot()
    api.send_photo(ALICE, photo_bytes)
    api.wait_for(lambda: api.uploads(ALICE.id), timeout=60, what="the video")
    api.wait_for(lambda: bot_store.list_jobs()[0].delivered, timeout=15, what="delivered")
    assert api.calls("editMessageText")  # the edits were answered "not modified"
    assert len(api.messages(ALICE.id)) == 2  # the status message and the video, nothing resent


def test_a_deleted_status_message_is_replaced_by_a_new_one(
    api: FakeBotApi,
    start_bot: Callable[..., BotThread],
    start_worker: Callable[..., Worker],
    bot_store: JobStore,
    photo_bytes: bytes,
) -> None:
    start_bot()
    photo_id = api.send_photo(ALICE, photo_bytes)
    first = api.first_message_id(ALICE.id)
    api.delete_message(ALICE.id, first)
    start_worker()
    api.wait_for(lambda: api.uploads(ALICE.id), timeout=60, what="the video")
    api.wait_for(lambda: bot_store.list_jobs()[0].delivered, timeout=15, what="delivered")
    texts = [m for m in api.messages(ALICE.id) if m.kind == "text"]
    assert len(texts) == 2 and texts[0].message_id == first
    replacement = texts[1]
    assert replacement.reply_to == photo_id and "Done" in str(replacement.text)
    notify = bot_store.list_jobs()[0].notify or {}
    assert notify["status_message_id"] == replacement.message_id


def test_a_status_message_the_handler_sent_while_a_pass_was_under_way_is_not_sent_again(
    api: FakeBotApi,
    bot_store: JobStore,
    sqlite_url: str,
    tmp_path: Path,
    photo_bytes: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    photo_id = api.send_photo(ALICE, photo_bytes)
    notify = {"chat_id": ALICE.id, "message_id": photo_id, "lang": "en"}
    job = bot_store.submit(
        JobSpec(source="telegram", owner=str(ALICE.id), notify=notify, dedupe_key="tg:1"),
        photo_bytes,
    )
    read_before_the_reply = bot_store.list_jobs()

    def stale_read(**filters: object) -> list[object]:
        # The pass read the store; then, while it edited other chats, the photo handler
        # replied and recorded its status message.
        bot_store.set_notify(job.id, {**notify, "status_message_id": 2})
        return list(read_before_the_reply)

    monkeypatch.setattr(bot_store, "list_jobs", stale_read)

    async def one_pass() -> None:
        bot = build_bot(bot_settings(api, sqlite_url, tmp_path))
        notifier = Notifier(
            bot, bot_store, build_i18n(), install_pacing(bot, FAST), FAST, PendingIntake()
        )
        await notifier.run_once()
        await bot.session.close()

    asyncio.run(one_pass())
    assert api.calls("sendMessage") == []


def test_a_video_recorded_as_sent_before_a_crash_is_not_sent_again(
    api: FakeBotApi, start_bot: Callable[..., BotThread], bot_store: JobStore, photo_bytes: bytes
) -> None:
    # The bot sent the video, wrote its message id, and died before marking the job delivered.
    api.send_text(ALICE, "photo stand-in")  # message 1 in Alice's chat
    job = bot_store.submit(JobSpec(source="telegram", owner=str(ALICE.id)), photo_bytes)
    lease = bot_store.claim("w1")
    assert lease is not None
    bot_store.succeed(job.id, lease.token, result={"width": 64, "height": 64}, video=b"mp4")
    notify = {"chat_id": ALICE.id, "message_id": 1, "status_message_id": 1, "lang": "en"}
    bot_store.set_notify(job.id, {**notify, "video_message_id": 7})
    start_bot()
    api.wait_for(lambda: bot_store.get(job.id).delivered, timeout=15, what="delivered")
    assert api.calls("sendVideo") == [] and api.calls("sendDocument") == []


def test_a_bot_killed_mid_job_and_restarted_sends_the_video_exactly_once(
    api: FakeBotApi,
    bot_store: JobStore,
    start_worker: Callable[..., Worker],
    sqlite_url: str,
    tmp_path: Path,
    photo_bytes: bytes,
) -> None:
    bot = start_bot_process(api, sqlite_url, tmp_path)
    try:
        api.send_photo(ALICE, photo_bytes)
        status_id = api.first_message_id(ALICE.id)
        start_worker(step_seconds=2.0)
        api.wait_for(
            lambda: bot_store.list_jobs(statuses=[JobStatus.RUNNING]), timeout=10, what="running"
        )
        bot.kill()  # no goodbye: SIGKILL on POSIX, TerminateProcess on Windows
        bot.wait(10)
        [job] = api.wait_for(
            lambda: bot_store.list_jobs(statuses=[JobStatus.SUCCEEDED]), timeout=30, what="done"
        )
        assert not job.delivered and api.uploads() == []
        bot = start_bot_process(api, sqlite_url, tmp_path)
        api.wait_for(lambda: bot_store.get(job.id).delivered, timeout=30, what="delivery")
        bot.kill()
        bot.wait(10)
        # A second restart finds nothing left to do.
        calls_before = len(api.calls("getUpdates"))
        bot = start_bot_process(api, sqlite_url, tmp_path)
        api.wait_for(
            lambda: len(api.calls("getUpdates")) > calls_before + 1, timeout=30, what="polling"
        )
        time.sleep(1.5)  # a notifier pass or two
    finally:
        bot.kill()
        bot.wait(10)
    assert len(api.uploads(ALICE.id)) == 1
    assert "Done" in api.text_of(ALICE.id, status_id)
    assert len([m for m in api.messages(ALICE.id) if m.kind == "text"]) == 1
