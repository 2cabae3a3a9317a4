"""Texts: the catalogues ship compiled and complete, and status messages read right in both languages."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from i2v.bot.locale import LOCALES_DIR, build_i18n, language_for
from i2v.bot.pacing import Pacer
from i2v.bot.status import format_duration, progress_bar, status_text
from i2v.errors import ErrorCode
from i2v.jobs import Job, JobSpec, JobStatus, QueuePosition, Stage

BOT_SOURCES = Path(__file__).parent.parent / "src" / "i2v" / "bot"
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _job(**fields: object) -> Job:
    values: dict[str, object] = {"id": "abc", "spec": JobSpec(), "status": JobStatus.QUEUED}
    values.update(fields)
    return Job(**values)  # type: ignore[arg-type]


def test_every_text_in_the_bot_is_translated_to_russian(tmp_path: Path) -> None:
    pot = tmp_path / "i2v.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-k",
            "_",
            "-o",
            str(pot),
            str(BOT_SOURCES),
        ],
        check=True,
        capture_output=True,
    )
    wanted = {m.id for m in read_po(pot.open("rb")) if m.id}
    russian = read_po((LOCALES_DIR / "ru" / "LC_MESSAGES" / "i2v.po").open("rb"))
    translated = {m.id for m in russian if m.id and m.string and not m.fuzzy}
    assert wanted - translated == set()


def test_the_shipped_mo_files_match_their_po_sources() -> None:
    for language in ("en", "ru"):
        folder = LOCALES_DIR / language / "LC_MESSAGES"
        source = {m.id: m.string for m in read_po((folder / "i2v.po").open("rb")) if m.id}
        compiled = {
            m.id: m.string for m in read_mo(io.BytesIO((folder / "i2v.mo").read_bytes())) if m.id
        }
        assert {k: v for k, v in source.items() if v} == compiled, language


def test_telegram_language_codes_choose_russian_or_english_and_a_saved_choice_wins() -> None:
    assert language_for("ru") == "ru"
    assert language_for("uk-UA") == "ru"
    assert language_for("de") == "en"
    assert language_for(None) == "en"
    assert language_for("ru", saved="en") == "en"


def test_a_queued_job_shows_its_place_and_wait_in_both_languages() -> None:
    i18n = build_i18n()
    job = _job(eta_seconds=60.0)
    position = QueuePosition(position=3, wait_seconds=192.0, live_workers=1)
    with i18n.context():
        with i18n.use_locale("en"):
            english = status_text(job, position)
        with i18n.use_locale("ru"):
            russian = status_text(job, position)
    assert english == "⏳ In the queue: number 3.\nStarts in about 3 min, ready in about 4 min."
    assert russian == (
        "⏳ В очереди: номер 3.\nНачнётся примерно через 3 мин, будет готово примерно через 4 мин."
    )


def test_a_running_job_shows_stage_bar_percent_eta_and_once_late_says_so() -> None:
    i18n = build_i18n()
    running = _job(
        status=JobStatus.RUNNING,
        stage=Stage.GENERATING,
        progress=0.42,
        eta_seconds=30.0,
        started_at=T0,
        updated_at=T0 + timedelta(seconds=20),
        notify={"expected_seconds": 60.0},
    )
    late = _job(**{**running.__dict__, "updated_at": T0 + timedelta(seconds=200)})
    with i18n.context(), i18n.use_locale("en"):
        on_time = status_text(running)
        slow = status_text(late)
    assert on_time == "🎬 Generating\n▓▓▓▓░░░░░░ 42%\nAbout 30 s left."
    assert slow.endswith("This is taking longer than expected. It is still working.")


def test_finished_jobs_end_as_done_in_failed_or_canceled() -> None:
    i18n = build_i18n()
    done = _job(status=JobStatus.SUCCEEDED, started_at=T0, finished_at=T0 + timedelta(seconds=192))
    failed = _job(status=JobStatus.FAILED, error_code=ErrorCode.STALLED, attempts=3)
    with i18n.context(), i18n.use_locale("en"):
        assert status_text(done) == "✅ Done in 3 min 12 s."
        assert status_text(failed) == (
            "❌ Making the video stopped moving and did not recover after 3 tries. "
            "(code stalled, job abc)"
        )
        assert status_text(_job(status=JobStatus.CANCELED)) == "🚫 Canceled."
        assert format_duration(3700) == "1 h 1 min"
        assert format_duration(120) == "2 min"
    assert progress_bar(1.0) == "▓▓▓▓▓▓▓▓▓▓ 100%"


def test_the_pacer_keeps_any_one_second_window_under_its_rate() -> None:
    async def scenario() -> list[float]:
        pacer = Pacer(10)
        loop = asyncio.get_running_loop()
        times: list[float] = []

        async def call(chat: int) -> None:
            await pacer.turn(chat, urgent=True)
            times.append(loop.time())

        await asyncio.gather(*(call(i) for i in range(25)))
        return sorted(times)

    times = asyncio.run(scenario())
    assert all(later - earlier >= 0.99 for earlier, later in zip(times, times[10:], strict=False))
    assert times[-1] - times[0] < 2.5  # and it does not wait longer than it must


def test_the_pacer_holds_a_chat_for_exactly_its_retry_after() -> None:
    async def scenario() -> tuple[float, float]:
        pacer = Pacer(30)
        loop = asyncio.get_running_loop()
        pacer.cooldown(7, 0.5)
        begin = loop.time()
        await pacer.turn(8, urgent=True)
        other = loop.time() - begin
        await pacer.turn(7, urgent=True)
        return other, loop.time() - begin

    other_chat, same_chat = asyncio.run(scenario())
    assert other_chat < 0.05
    assert 0.5 <= same_chat < 0.6


def test_a_queued_job_no_running_worker_can_make_says_so_instead_of_a_wait() -> None:
    i18n = build_i18n()
    job = _job(spec=JobSpec(model="wan2.2-ti2v-5b"), eta_seconds=60.0)
    position = QueuePosition(position=1, wait_seconds=0.0, live_workers=2, serving_workers=0)
    with i18n.context():
        with i18n.use_locale("en"):
            english = status_text(job, position)
        with i18n.use_locale("ru"):
            russian = status_text(job, position)
    assert english == (
        "⏳ In the queue: number 1.\n"
        "No worker for the model wan2.2-ti2v-5b is running right now, so the job waits "
        "until one starts. You can cancel it, or choose another model in /settings."
    )
    assert russian.startswith("⏳ В очереди: номер 1.\nСейчас не работает ни один обработчик")
    assert "wan2.2-ti2v-5b" in russian and "Начнётся" not in russian
