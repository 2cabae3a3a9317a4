"""The whole trip: a photo in, a status message that follows the job, a playable video out."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

from bot_harness import ALICE, FAST, BotThread, bot_settings
from fake_bot_api import FakeBotApi, FakeUser
from i2v.bot import BotOptions
from i2v.encoding import probe_mp4
from i2v.jobs import JobStatus
from i2v.store import PHOTO, JobStore
from i2v.worker import Worker

pytest_plugins = ("bot_fixtures",)


def _finished_video(api: FakeBotApi, chat_id: int, timeout: float = 60) -> None:
    api.wait_for(lambda: api.uploads(chat_id), timeout=timeout, what="the video")


def test_a_photo_gets_a_status_reply_live_edits_and_a_streamable_video(
    api: FakeBotApi,
    bot_store: JobStore,
    start_worker: Callable[..., Worker],
    sqlite_url: str,
    tmp_path: Path,
    photo_bytes: bytes,
) -> None:
    settings = bot_settings(api, sqlite_url, tmp_path)
    options = BotOptions(poll_seconds=0.1)  # the real 3 s edit interval
    bot = BotThread(bot_store, settings, options).start()
    try:
        photo_id = api.send_photo(ALICE, photo_bytes, caption="slow zoom")
        status = api.wait_for(lambda: api.messages(ALICE.id), timeout=5, what="a status message")[0]
        first_reply = api.calls("sendMessage", chat_id=ALICE.id)[0]
        photo_sent = api.calls("getUpdates")[0].at
        assert first_reply.at - photo_sent < 2.0
        assert status.reply_to == photo_id
        assert "queue" in status.text
        assert any(data.startswith("cancel:") for data in status.button_data())
        start_worker(step_seconds=4.0)  # one step at 8 frames: about 4 s running
        _finished_video(api, ALICE.id)
        api.wait_for(
            lambda: "Done in" in (api.message(ALICE.id, status.message_id).text or ""),
            timeout=10,
            what="the final status",
        )
    finally:
        bot.stop()

    job = bot_store.list_jobs()[0]
    assert job.status is JobStatus.SUCCEEDED and job.delivered
    assert job.spec.prompt == "slow zoom"
    assert bot_store.read_media(job.id, PHOTO) == photo_bytes  # the largest size, not a thumbnail

    edits = api.calls("editMessageText", chat_id=ALICE.id)
    texts = [call.params["text"] for call in edits]
    assert any("%" in text for text in texts), texts  # a progress bar was shown while running
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(edits)]
    assert all(gap >= 2.9 for gap in gaps), gaps

    [upload] = api.uploads(ALICE.id)
    assert upload.method == "sendVideo"
    assert upload.params["supports_streaming"] in ("true", "True", True)
    assert int(upload.params["width"]) == job.result["width"] == 720
    assert int(upload.params["height"]) == job.result["height"] == 480
    assert int(upload.params["duration"]) == 1
    assert upload.thumbnail and upload.thumbnail[:2] == b"\xff\xd8"
    assert "720×480" in upload.params["caption"]
    assert int(upload.params["reply_parameters"]["message_id"]) == photo_id
    assert api.calls("sendChatAction", chat_id=ALICE.id)[0].params["action"] == "upload_video"
    path = tmp_path / "got.mp4"
    path.write_bytes(upload.data)
    probe = probe_mp4(path)
    assert (probe.codec, probe.pix_fmt, probe.moov_before_mdat) == ("h264", "yuv420p", True)
    assert (probe.width, probe.height) == (720, 480)


def test_users_sending_photos_at_once_each_get_exactly_one_video(
    api: FakeBotApi,
    bot_store: JobStore,
    worker: Worker,
    sqlite_url: str,
    tmp_path: Path,
    photo_bytes: bytes,
) -> None:
    users = [FakeUser(2000 + i, "en") for i in range(6)]
    bot = BotThread(bot_store, bot_settings(api, sqlite_url, tmp_path, fps=4), FAST).start()
    try:
        for user in users:
            api.send_photo(user, photo_bytes)
        api.wait_for(lambda: len(api.uploads()) >= len(users), timeout=90, what="every video")
        api.wait_for(
            lambda: all(job.delivered for job in bot_store.list_jobs()),
            timeout=15,
            what="every job delivered",
        )
    finally:
        bot.stop()
    assert sorted(upload.chat_id for upload in api.uploads()) == [user.id for user in users]
