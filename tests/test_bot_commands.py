"""Commands and buttons: Cancel, /cancel, /settings, /status, /queue, admin commands, languages."""

from __future__ import annotations

from collections.abc import Callable

from bot_harness import ALICE, BORIS, BotThread
from fake_bot_api import FakeBotApi, FakeUser
from i2v.jobs import JobSpec, JobStatus, Stage, WorkerInfo, WorkerState
from i2v.store import JobStore
from i2v.worker import Worker

pytest_plugins = ("bot_fixtures",)


def test_the_cancel_button_cancels_a_queued_job_and_the_status_says_canceled(
    api: FakeBotApi, start_bot: Callable[..., BotThread], bot_store: JobStore, photo_bytes: bytes
) -> None:
    start_bot()
    api.send_photo(ALICE, photo_bytes)
    status_id = api.first_message_id(ALICE.id)
    [button] = api.message(ALICE.id, status_id).button_data()
    api.press(ALICE, status_id, button)
    api.wait_for(
        lambda: "Canceled" in api.text_of(ALICE.id, status_id), timeout=10, what="'Canceled'"
    )
    [job] = bot_store.list_jobs()
    assert job.status is JobStatus.CANCELED
    assert api.message(ALICE.id, status_id).button_data() == []  # the button is gone
    assert api.calls("answerCallbackQuery")[0].params["text"] == "Canceled."
    api.wait_for(lambda: bot_store.get(job.id).delivered, timeout=5, what="delivered")


def test_someone_elses_cancel_button_does_nothing(
    api: FakeBotApi, start_bot: Callable[..., BotThread], bot_store: JobStore, photo_bytes: bytes
) -> None:
    start_bot()
    api.send_photo(ALICE, photo_bytes)
    status_id = api.first_message_id(ALICE.id)
    [button] = api.message(ALICE.id, status_id).button_data()
    mallory = FakeUser(ALICE.id + 1)
    # A forwarded status message carries the same button; pressing it is not enough.
    api.send_text(mallory, "/start")
    api.wait_for(lambda: api.messages(mallory.id), timeout=10, what="help")
    api._messages[mallory.id][status_id] = api.message(ALICE.id, status_id)
    api.press(mallory, status_id, button)
    api.wait_for(lambda: api.calls("answerCallbackQuery"), timeout=10, what="an answer")
    assert api.calls("answerCallbackQuery")[0].params["text"] == "This is not your video."
    assert bot_store.list_jobs()[0].status is JobStatus.QUEUED


def test_slash_cancel_stops_the_running_job_and_the_video_is_never_sent(
    api: FakeBotApi,
    start_bot: Callable[..., BotThread],
    start_worker: Callable[..., Worker],
    bot_store: JobStore,
    photo_bytes: bytes,
) -> None:
    start_worker(step_seconds=2.0)
    start_bot()
    api.send_photo(ALICE, photo_bytes)
    status_id = api.first_message_id(ALICE.id)
    api.wait_for(
        lambda: bot_store.list_jobs()[0].stage is Stage.GENERATING,
        timeout=10,
        what="frames being made",
    )
    api.send_text(ALICE, "/cancel")
    api.wait_for(
        lambda: any("Canceling" in str(m.text) for m in api.messages(ALICE.id)),
        timeout=10,
        what="the /cancel answer",
    )
    api.wait_for(
        lambda: "Canceled" in api.text_of(ALICE.id, status_id), timeout=15, what="'Canceled'"
    )
    assert bot_store.list_jobs()[0].status is JobStatus.CANCELED
    assert api.uploads() == []


def test_slash_cancel_with_nothing_running_says_so(
    api: FakeBotApi, start_bot: Callable[..., BotThread]
) -> None:
    start_bot()
    api.send_text(ALICE, "/cancel")
    messages = api.wait_for(lambda: api.messages(ALICE.id), timeout=10, what="an answer")
    assert messages[0].text == "You have no video in the making."


def test_settings_change_the_resolution_of_the_next_video(
    api: FakeBotApi,
    start_bot: Callable[..., BotThread],
    worker: Worker,
    bot_store: JobStore,
    photo_bytes: bytes,
) -> None:
    start_bot()  # the service default is 480p
    api.send_text(ALICE, "/settings")
    [menu] = api.wait_for(lambda: api.messages(ALICE.id), timeout=10, what="the settings")
    assert "✓ 480p" in str(menu.reply_markup)
    assert not [data for data in menu.button_data() if ":model:" in data]  # one model: no choice
    [choice] = [data for data in menu.button_data() if data.endswith(":res:720p")]
    api.press(ALICE, menu.message_id, choice)
    api.wait_for(
        lambda: "✓ 720p" in str(api.message(ALICE.id, menu.message_id).reply_markup),
        timeout=10,
        what="the tick to move",
    )
    assert bot_store.get_user_settings(str(ALICE.id)) == {"resolution": "720p"}
    api.send_photo(ALICE, photo_bytes)
    [upload] = api.wait_for(lambda: api.uploads(ALICE.id), timeout=60, what="the video")
    # 720p is the short side: the 600x400 landscape photo becomes 1080x720.
    assert (int(upload.params["width"]), int(upload.params["height"])) == (1080, 720)


def test_settings_offer_the_configured_models_and_the_chosen_one_makes_the_next_job(
    api: FakeBotApi, start_bot: Callable[..., BotThread], bot_store: JobStore, photo_bytes: bytes
) -> None:
    start_bot(model="ltx-video", telegram_models=["ltx-video", "wan2.2-ti2v-5b"])
    api.send_text(ALICE, "/settings")
    [menu] = api.wait_for(lambda: api.messages(ALICE.id), timeout=10, what="the settings")
    assert str(menu.text).endswith("language and model.")
    assert "✓ ltx-video" in str(menu.reply_markup)  # the service's own model until one is picked
    [wan] = [data for data in menu.button_data() if data.endswith(":model:1")]
    api.press(ALICE, menu.message_id, wan)
    api.wait_for(
        lambda: "✓ wan2.2-ti2v-5b" in str(api.message(ALICE.id, menu.message_id).reply_markup),
        timeout=10,
        what="the tick to move",
    )
    assert bot_store.get_user_settings(str(ALICE.id)) == {"model": "wan2.2-ti2v-5b"}
    api.send_photo(ALICE, photo_bytes)
    api.wait_for(lambda: len(api.messages(ALICE.id)) == 2, timeout=10, what="the status")
    [job] = bot_store.list_jobs()
    assert job.spec.model == "wan2.2-ti2v-5b"


def test_a_saved_model_that_is_no_longer_offered_gives_way_to_the_service_default(
    api: FakeBotApi, start_bot: Callable[..., BotThread], bot_store: JobStore, photo_bytes: bytes
) -> None:
    bot_store.put_user_settings(str(ALICE.id), {"model": "cogvideox-5b-i2v"})
    start_bot(telegram_models=["ltx-video", "wan2.2-ti2v-5b"])
    api.send_photo(ALICE, photo_bytes)
    api.wait_for(lambda: api.messages(ALICE.id), timeout=10, what="the status")
    [job] = bot_store.list_jobs()
    assert job.spec.model is None


def test_texts_follow_the_telegram_language_and_the_language_chosen_in_settings(
    api: FakeBotApi, start_bot: Callable[..., BotThread], photo_bytes: bytes
) -> None:
    start_bot()
    api.send_text(ALICE, "/start")
    api.send_text(BORIS, "/start")
    [english] = api.wait_for(lambda: api.messages(ALICE.id), timeout=10, what="English help")
    [russian] = api.wait_for(lambda: api.messages(BORIS.id), timeout=10, what="Russian help")
    assert str(english.text).startswith("I turn a photo into a short video.")
    assert str(russian.text).startswith("Я превращаю фото в короткое видео.")

    api.send_text(BORIS, "/settings")
    menu = api.wait_for(lambda: api.messages(BORIS.id)[1:], timeout=10, what="settings")[0]
    [english_button] = [data for data in menu.button_data() if data.endswith(":lang:en")]
    api.press(BORIS, menu.message_id, english_button)
    api.wait_for(
        lambda: str(api.message(BORIS.id, menu.message_id).text).startswith("Settings"),
        timeout=10,
        what="the menu in English",
    )
    api.send_photo(BORIS, photo_bytes)
    status = api.wait_for(lambda: api.messages(BORIS.id)[2:], timeout=10, what="status")[0]
    assert "In the queue" in str(status.text)


def test_status_and_queue_describe_the_users_jobs(
    api: FakeBotApi, start_bot: Callable[..., BotThread], bot_store: JobStore, photo_bytes: bytes
) -> None:
    start_bot()
    api.send_photo(BORIS, photo_bytes, caption="Ракета медленно поднимается над морем на закате")
    api.first_message_id(BORIS.id)
    [job] = bot_store.list_jobs()
    assert job.created_at is not None
    sent_at = job.created_at.astimezone().strftime("%H:%M")
    api.send_text(BORIS, "/status")
    api.wait_for(lambda: len(api.messages(BORIS.id)) >= 2, timeout=10, what="/status")
    status = str(api.messages(BORIS.id)[1].text)
    # Named by when it was sent and what it asked for: a person knows neither id nor seq.
    assert f"• {sent_at} «Ракета медленно поднимается…»: в очереди" in status
    assert job.id not in status
    api.send_text(BORIS, "/queue")
    api.wait_for(lambda: len(api.messages(BORIS.id)) >= 3, timeout=10, what="/queue")
    text = str(api.messages(BORIS.id)[2].text)
    assert "Ожидают: 1" in text and f"Ваше видео {sent_at} «Ракета" in text and job.id not in text


def test_status_names_a_job_without_a_caption_by_its_file_name(
    api: FakeBotApi, start_bot: Callable[..., BotThread], bot_store: JobStore, photo_bytes: bytes
) -> None:
    start_bot()
    api.send_document(ALICE, photo_bytes, file_name="beach-at-dawn.png", mime_type="image/png")
    api.first_message_id(ALICE.id)
    [job] = bot_store.list_jobs()
    assert job.created_at is not None
    api.send_text(ALICE, "/status")
    api.wait_for(lambda: len(api.messages(ALICE.id)) >= 2, timeout=10, what="/status")
    sent_at = job.created_at.astimezone().strftime("%H:%M")
    assert f"• {sent_at} “beach-at-dawn.png”: queued" in str(api.messages(ALICE.id)[1].text)


def test_workers_and_gpu_are_for_admins_only(
    api: FakeBotApi, start_bot: Callable[..., BotThread], bot_store: JobStore
) -> None:
    bot_store.register_worker(
        WorkerInfo(
            id="gpu-box-1",
            host="gpu-box",
            pid=42,
            state=WorkerState.BUSY,
            job_id="abc",
            model="ltx-video",
            gpu={
                "name": "RTX 4090",
                "utilization_percent": 97.0,
                "memory_used_mb": 18432.0,
                "memory_total_mb": 24576.0,
                "temperature_c": 71.0,
            },
        )
    )
    start_bot(telegram_admins=[ALICE.id])
    api.send_text(BORIS, "/gpu")
    api.send_text(ALICE, "/workers")
    api.send_text(ALICE, "/gpu")
    refused = api.wait_for(lambda: api.messages(BORIS.id), timeout=10, what="refusal")[0]
    assert "администратор" in str(refused.text)
    answers = api.wait_for(lambda: api.messages(ALICE.id)[1:], timeout=10, what="answers")
    texts = sorted(str(m.text) for m in api.messages(ALICE.id))
    assert answers
    assert any("gpu-box-1 @ gpu-box: busy, job abc [ltx-video]" in t for t in texts), texts
    assert any("RTX 4090, use 97%, VRAM 18.0/24.0 GB, 71°C" in t for t in texts), texts


def test_a_forged_cancel_callback_naming_another_users_job_cancels_nothing(
    api: FakeBotApi, start_bot: Callable[..., BotThread], bot_store: JobStore, photo_bytes: bytes
) -> None:
    start_bot()
    api.send_photo(ALICE, photo_bytes)
    api.wait_for(bot_store.list_jobs, timeout=10, what="Alice's job")
    [job] = bot_store.list_jobs()
    mallory = FakeUser(ALICE.id + 7)
    api.send_text(mallory, "/start")
    own_message = api.wait_for(lambda: api.messages(mallory.id), timeout=10, what="help")[0]
    # A client may send any callback data under any message of its own chat.
    api.press(mallory, own_message.message_id, f"cancel:{job.id}")
    api.wait_for(lambda: api.calls("answerCallbackQuery"), timeout=10, what="an answer")

    assert api.calls("answerCallbackQuery")[0].params["text"] == "This is not your video."
    assert api.calls("answerCallbackQuery")[0].params["show_alert"] == "true"
    assert bot_store.get(job.id).status is JobStatus.QUEUED
    assert not bot_store.get(job.id).cancel_requested


def test_an_admins_queue_lists_every_job_in_the_making_and_a_users_only_their_own(
    api: FakeBotApi, start_bot: Callable[..., BotThread], bot_store: JobStore, photo_bytes: bytes
) -> None:
    api_job = bot_store.submit(JobSpec(source="api", owner="api:ci"), photo_bytes)
    start_bot(telegram_admins=[ALICE.id])
    api.send_photo(BORIS, photo_bytes)
    api.wait_for(lambda: len(bot_store.list_jobs()) == 2, timeout=10, what="Boris's job")
    [boris_job] = bot_store.list_jobs(source="telegram")
    api.send_text(ALICE, "/queue")
    api.send_text(BORIS, "/queue")

    admin = api.wait_for(
        lambda: [m for m in api.messages(ALICE.id) if api_job.id in str(m.text)],
        timeout=10,
        what="the admin's /queue",
    )[0]
    user = api.wait_for(
        lambda: [m for m in api.messages(BORIS.id) if "Ожидают" in str(m.text)],
        timeout=10,
        what="the user's /queue",
    )[0]
    assert boris_job.id in str(admin.text)
    assert "api api:ci" in str(admin.text)
    # A user's /queue names only their own video, by when they sent it, never by an id.
    assert str(user.text).count("Ваше видео") == 1
    assert api_job.id not in str(user.text) and boris_job.id not in str(user.text)
