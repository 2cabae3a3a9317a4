"""The bot's backlog: photos kept on disk during an outage are queued later, once, after a restart too."""

from __future__ import annotations

from pathlib import Path

from i2v.bot.backlog import Backlog
from i2v.jobs import JobSpec
from i2v.store import PHOTO, open_store_url


def spec_for(chat_id: int, message_id: int) -> JobSpec:
    return JobSpec(
        prompt="sunrise",
        source="telegram",
        owner=str(chat_id),
        notify={"chat_id": chat_id, "message_id": message_id, "lang": "ru"},
        dedupe_key=f"tg:{chat_id}:{message_id}",
    )


def test_kept_photos_are_queued_by_the_next_bot_once_with_their_chat(
    tmp_path: Path, sqlite_url: str, photo_bytes: bytes
) -> None:
    folder = tmp_path / "backlog"
    Backlog(folder).keep(spec_for(7, 1), photo_bytes, "image/png")
    Backlog(folder).keep(spec_for(7, 2), photo_bytes, "image/png")

    store = open_store_url(sqlite_url)
    try:
        restarted = Backlog(folder)  # a bot started after the outage finds what was kept
        assert len(restarted.waiting()) == 2
        assert restarted.submit_waiting(store) == 2
        assert restarted.waiting() == [] and list(folder.iterdir()) == []
        jobs = sorted(store.list_jobs(), key=lambda job: job.spec.dedupe_key or "")
        assert [job.spec.notify["message_id"] for job in jobs if job.spec.notify] == [1, 2]
        assert all(job.spec.prompt == "sunrise" and job.spec.owner == "7" for job in jobs)
        assert store.read_media(jobs[0].id, PHOTO) == photo_bytes

        # The same photo kept twice (a submit that went through just as the link broke) is one job.
        restarted.keep(spec_for(7, 2), photo_bytes, "image/png")
        restarted.submit_waiting(store)
        assert len(store.list_jobs()) == 2
    finally:
        store.close()


def test_an_entry_that_can_never_be_queued_is_dropped_without_blocking_the_others(
    tmp_path: Path, sqlite_url: str, photo_bytes: bytes
) -> None:
    folder = tmp_path / "backlog"
    backlog = Backlog(folder)
    backlog.keep(spec_for(7, 1), photo_bytes, "image/png")
    (folder / "00000000000000000000-garbled.json").write_text("{not json", encoding="utf-8")
    store = open_store_url(sqlite_url)
    try:
        assert backlog.submit_waiting(store) == 1
        assert len(store.list_jobs()) == 1
        assert list(folder.iterdir()) == []
    finally:
        store.close()
