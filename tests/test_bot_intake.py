"""What the bot takes as a photo, and what it refuses (each refusal a clear answer and no job)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot_harness import ALICE, BORIS, BotThread
from fake_bot_api import FakeBotApi
from i2v.config import Settings
from i2v.jobs import JobStatus, WorkerInfo, WorkerState
from i2v.store import PHOTO, JobStore
from i2v.worker import Worker
from i2v.worker.routing import claim_filter

pytest_plugins = ("bot_fixtures",)
DATA = Path(__file__).parent / "data"


def _reply(api: FakeBotApi, chat_id: int) -> str:
    messages = api.wait_for(lambda: api.messages(chat_id), timeout=10, what="a reply")
    return str(messages[0].text)


def test_an_image_sent_as_a_file_is_made_into_a_video_from_the_original_bytes(
    api: FakeBotApi,
    start_bot: Callable[..., BotThread],
    worker: Worker,
    bot_store: JobStore,
) -> None:
    original = (DATA / "rocket.jpg").read_bytes()
    start_bot()
    api.send_document(ALICE, original, file_name="rocket.jpg", mime_type="image/jpeg")
    [upload] = api.wait_for(lambda: api.uploads(ALICE.id), timeout=60, what="the video")
    [job] = bot_store.list_jobs()
    assert job.status is JobStatus.SUCCEEDED
    assert bot_store.read_media(job.id, PHOTO) == original
    assert bot_store.media_info(job.id, PHOTO).content_type == "image/jpeg"
    assert upload.data == bot_store.read_media(job.id, "video")


def test_a_user_not_on_the_allowlist_is_refused_politely_and_the_photo_is_never_downloaded(
    api: FakeBotApi, start_bot: Callable[..., BotThread], bot_store: JobStore, photo_bytes: bytes
) -> None:
    start_bot(telegram_allowed_users=[ALICE.id])
    api.send_photo(BORIS, photo_bytes)
    text = _reply(api, BORIS.id)
    assert "закрытый бот" in text and str(BORIS.id) in text
    assert api.calls("getFile") == []
    assert bot_store.list_jobs() == []


def test_a_text_file_sent_as_a_document_is_refused_without_downloading_it(
    api: FakeBotApi, start_bot: Callable[..., BotThread], bot_store: JobStore
) -> None:
    start_bot()
    api.send_document(ALICE, b"hello, world\n", file_name="notes.txt", mime_type="text/plain")
    assert "not an image" in _reply(api, ALICE.id)
    assert api.calls("getFile") == []
    assert bot_store.list_jobs() == []


def test_a_corrupt_image_is_refused_with_the_reason(
    api: FakeBotApi, start_bot: Callable[..., BotThread], bot_store: JobStore
) -> None:
    truncated = (DATA / "rocket.jpg").read_bytes()[:5000]
    start_bot()
    api.send_document(ALICE, truncated, file_name="broken.jpg", mime_type="image/jpeg")
    text = _reply(api, ALICE.id)
    assert text == "The image file is damaged or incomplete. Try sending it again."
    assert bot_store.list_jobs() == []


def test_a_file_named_as_an_image_that_is_not_one_is_refused(
    api: FakeBotApi, start_bot: Callable[..., BotThread], bot_store: JobStore
) -> None:
    start_bot()
    api.send_document(ALICE, b"%PDF-1.4 not a photo", file_name="x.png", mime_type="image/png")
    assert "not an image i2v can read" in _reply(api, ALICE.id)
    assert bot_store.list_jobs() == []


def test_a_file_over_the_bot_api_download_limit_is_refused_before_downloading(
    api: FakeBotApi, start_bot: Callable[..., BotThread], bot_store: JobStore, photo_bytes: bytes
) -> None:
    start_bot()
    api.send_document(
        ALICE, photo_bytes, file_name="huge.png", mime_type="image/png", file_size=25_000_000
    )
    text = _reply(api, ALICE.id)
    assert "23.8 MB" in text and "20.0 MB" in text
    assert api.calls("getFile") == []
    assert bot_store.list_jobs() == []


def test_a_caption_longer_than_the_prompt_limit_is_refused(
    api: FakeBotApi, start_bot: Callable[..., BotThread], bot_store: JobStore, photo_bytes: bytes
) -> None:
    start_bot(max_prompt_chars=20)
    api.send_photo(ALICE, photo_bytes, caption="a very long caption that goes on and on")
    assert "the limit is 20" in _reply(api, ALICE.id)
    assert api.calls("getFile") == []
    assert bot_store.list_jobs() == []


def test_a_photo_over_the_active_jobs_limit_is_refused_and_makes_no_job(
    api: FakeBotApi, start_bot: Callable[..., BotThread], bot_store: JobStore, photo_bytes: bytes
) -> None:
    start_bot(telegram_max_active_jobs=1)
    api.send_photo(ALICE, photo_bytes)
    api.wait_for(lambda: api.messages(ALICE.id), timeout=10, what="the first status")
    api.send_photo(ALICE, photo_bytes)
    api.wait_for(lambda: len(api.messages(ALICE.id)) == 2, timeout=10, what="a refusal")
    assert "the limit is 1" in str(api.messages(ALICE.id)[1].text)
    assert len(bot_store.list_jobs()) == 1


def test_a_photo_over_the_daily_quota_is_refused(
    api: FakeBotApi,
    start_bot: Callable[..., BotThread],
    worker: Worker,
    bot_store: JobStore,
    photo_bytes: bytes,
) -> None:
    start_bot(telegram_daily_quota=1)
    api.send_photo(ALICE, photo_bytes)
    api.wait_for(lambda: api.uploads(ALICE.id), timeout=60, what="the first video")
    api.send_photo(ALICE, photo_bytes)
    api.wait_for(
        lambda: any("24 hours" in str(m.text) for m in api.messages(ALICE.id)),
        timeout=10,
        what="the quota refusal",
    )
    assert len(bot_store.list_jobs()) == 1


def test_a_photo_for_a_model_no_running_worker_makes_is_queued_and_the_user_is_told_so(
    api: FakeBotApi, start_bot: Callable[..., BotThread], bot_store: JobStore, photo_bytes: bytes
) -> None:
    ltx_only = Settings(engine="diffusers", model="ltx-video")
    bot_store.register_worker(
        WorkerInfo(id="gpu-box-1", host="gpu-box", pid=42, state=WorkerState.IDLE),
        claim_filter(ltx_only, None, None).to_dict(),
    )
    bot_store.put_user_settings(str(BORIS.id), {"model": "wan2.2-ti2v-5b"})
    start_bot(model="ltx-video", telegram_models=["ltx-video", "wan2.2-ti2v-5b"])
    api.send_photo(BORIS, photo_bytes)
    status = _reply(api, BORIS.id)
    assert "Сейчас не работает ни один обработчик для модели wan2.2-ti2v-5b" in status
    assert "/settings" in status and "Начнётся" not in status
    [job] = bot_store.list_jobs()
    assert job.status is JobStatus.QUEUED and job.spec.model == "wan2.2-ti2v-5b"
