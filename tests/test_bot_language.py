"""A Russian user meets no English: refusals, hints, job errors and the command menu.

Each answer the bot can give a Russian reader about something that went wrong
is checked for a run of two or more Latin-script words; codes and job ids are
single words and may stay.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from bot_harness import ALICE, BORIS, BotThread
from fake_bot_api import FakeBotApi
from i2v.bot.locale import build_i18n
from i2v.bot.status import status_text
from i2v.errors import ErrorCode
from i2v.jobs import Job, JobSpec, JobStatus, QueuePosition
from i2v.store import JobStore
from test_messages import latin_phrases

pytest_plugins = ("bot_fixtures",)
DATA = Path(__file__).parent / "data"


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(buffer, "PNG")
    return buffer.getvalue()


def _replies(api: FakeBotApi, chat_id: int, count: int) -> list[str]:
    found = api.wait_for(
        lambda: api.messages(chat_id) if len(api.messages(chat_id)) >= count else None,
        timeout=20,
        what=f"{count} replies",
    )
    return [str(message.text) for message in found]


def test_every_refusal_and_hint_a_russian_user_can_meet_is_all_russian(
    api: FakeBotApi, start_bot: Callable[..., BotThread], bot_store: JobStore
) -> None:
    start_bot(min_image_side=16)
    sends: list[Callable[[], int]] = [
        lambda: api.send_text(BORIS, "привет, сделай видео"),
        lambda: api.send_sticker(BORIS),
        lambda: api.send_text(BORIS, "/nosuchcommand"),
        lambda: api.send_document(BORIS, b"hello\n", file_name="notes.txt", mime_type="text/plain"),
        lambda: api.send_document(BORIS, b"%PDF-1.4", file_name="x.png", mime_type="image/png"),
        lambda: api.send_document(BORIS, _png(8, 8), file_name="tiny.png", mime_type="image/png"),
        lambda: api.send_document(
            BORIS,
            (DATA / "rocket.jpg").read_bytes()[:5000],
            file_name="broken.jpg",
            mime_type="image/jpeg",
        ),
        lambda: api.send_document(
            BORIS,
            _png(64, 64),
            file_name="huge.png",
            mime_type="image/png",
            file_size=25 * 1024 * 1024,
        ),
        lambda: api.send_document(
            BORIS, _png(64, 64), file_name="a.png", mime_type="image/png", caption="я" * 1001
        ),
    ]
    for count, send in enumerate(sends, start=1):
        send()
        _replies(api, BORIS.id, count)  # one at a time: replies keep the order of the sends
    replies = _replies(api, BORIS.id, len(sends))
    assert replies[0] == replies[1] == "Пришлите мне фото, а если хотите, то и подпись к нему."
    assert replies[2].startswith("Такой команды я не знаю")
    assert "8×8" in replies[5]
    assert "повреждён" in replies[6]
    assert "25,0 МБ" in replies[7] and "20,0 МБ" in replies[7]
    for reply in replies:
        assert latin_phrases(reply) == [], reply
    assert bot_store.list_jobs() == []


def test_an_english_user_gets_the_same_hint_in_english(
    api: FakeBotApi, start_bot: Callable[..., BotThread]
) -> None:
    start_bot()
    api.send_text(ALICE, "hello?")
    assert _replies(api, ALICE.id, 1) == ["Send me a photo, and a caption if you like."]


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_job_error_reads_in_russian_with_its_code_and_job_and_no_english(
    code: ErrorCode,
) -> None:
    job = Job(
        id="k7h3m9qz2a",
        spec=JobSpec(),
        status=JobStatus.FAILED,
        attempts=3,
        error_code=code,
        # What a worker stored: never shown to the user, whatever language it is in.
        error_message="ValueError: box offset can't be negative",
    )
    i18n = build_i18n()
    with i18n.context(), i18n.use_locale("ru"):
        text = status_text(job)
    assert text.startswith("❌ ")
    assert text.endswith(f"(код {code.value}, задача k7h3m9qz2a)")
    assert "ValueError" not in text and "box offset" not in text
    assert latin_phrases(text) == []


def test_a_queued_job_that_starts_at_once_says_now_and_waits_are_said_in_words() -> None:
    job = Job(id="abc", spec=JobSpec(), status=JobStatus.QUEUED, eta_seconds=4.0)
    i18n = build_i18n()
    with i18n.context(), i18n.use_locale("ru"):
        now = status_text(job, QueuePosition(position=1, wait_seconds=0.0, live_workers=1))
        later = status_text(job, QueuePosition(position=3, wait_seconds=120.0, live_workers=1))
    with i18n.context(), i18n.use_locale("en"):
        english = status_text(job, QueuePosition(position=1, wait_seconds=0.0, live_workers=1))
    assert now == "⏳ В очереди: номер 1.\nНачнётся сейчас, будет готово примерно через 5 с."
    assert later.endswith("Начнётся примерно через 2 мин, будет готово примерно через 2 мин.")
    assert english.endswith("Starts now, ready in about 5 s.")


def test_a_job_that_fails_on_the_worker_is_told_to_a_russian_user_in_russian(
    api: FakeBotApi, start_bot: Callable[..., BotThread], bot_store: JobStore, photo_bytes: bytes
) -> None:
    start_bot()
    api.send_photo(BORIS, photo_bytes)
    status_id = api.first_message_id(BORIS.id)
    [job] = bot_store.list_jobs()
    lease = bot_store.claim("w1")
    assert lease is not None and lease.job.id == job.id
    bot_store.fail(
        job.id,
        lease.token,
        ErrorCode.INTERNAL,
        "Something went wrong while making this video; it was reported.",
        detail="ValueError: box offset can't be negative\nTraceback (most recent call last): ...",
    )
    text = api.wait_for(
        lambda: (t := api.text_of(BORIS.id, status_id)).startswith("❌") and t,
        timeout=20,
        what="the failure in the status message",
    )
    assert text == (
        "❌ Что-то пошло не так при создании этого видео; об этом уже сообщено. "
        f"(код internal, задача {job.id})"
    )


def test_a_video_telegram_refuses_is_told_in_russian_without_telegrams_words(
    api: FakeBotApi, start_bot: Callable[..., BotThread], bot_store: JobStore, photo_bytes: bytes
) -> None:
    start_bot()
    api.send_photo(BORIS, photo_bytes)
    status_id = api.first_message_id(BORIS.id)
    [job] = bot_store.list_jobs()
    refusal = "Bad Request: wrong file identifier/HTTP URL specified"
    api.fail_next("sendVideo", status=400, description=refusal)
    api.fail_next("sendDocument", status=400, description=refusal)
    lease = bot_store.claim("w1")
    assert lease is not None
    bot_store.succeed(job.id, lease.token, result={"width": 64, "height": 64}, video=b"mp4")
    text = api.wait_for(
        lambda: (t := api.text_of(BORIS.id, status_id)).startswith("❌") and t,
        timeout=20,
        what="the delivery failure in the status message",
    )
    assert text == (
        f"❌ Видео готово, но Telegram не принял его. (код delivery_failed, задача {job.id})"
    )
    assert latin_phrases(text) == []


def test_the_command_menu_is_set_in_english_and_in_russian(
    api: FakeBotApi, start_bot: Callable[..., BotThread]
) -> None:
    start_bot()
    api.wait_for(lambda: len(api.commands) == 2, timeout=10, what="both command menus")
    english = {c["command"]: c["description"] for c in api.commands[""]}
    russian = {c["command"]: c["description"] for c in api.commands["ru"]}
    assert set(english) == set(russian) == {"start", "settings", "status", "cancel", "queue"}
    assert english["status"] == "Your videos" and russian["status"] == "Ваши видео"
    assert all(latin_phrases(text) == [] for text in russian.values())
