"""A user's own jobs: the Cancel button, /cancel, /status and /queue.

A user sees and cancels only their own jobs: a Cancel button's data names a job,
and anyone can send any data, so the handler checks the job's owner before it
acts. Admins (I2V_TELEGRAM_ADMINS) also see every job in the making in /queue.
"""

from __future__ import annotations

import asyncio

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from i2v.bot.access import is_admin
from i2v.bot.intake import SOURCE
from i2v.bot.keyboards import CancelJob
from i2v.bot.status import (
    START_NOW_SECONDS,
    current_language,
    format_duration,
    format_estimate,
    progress_bar,
)
from i2v.config import Settings
from i2v.jobs import Job, JobStatus
from i2v.messages import formats
from i2v.store import JobStore

ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
#: Jobs listed by /status.
STATUS_LIMIT = 5
#: Characters of a caption that name a job in /status and /queue.
EXCERPT_CHARS = 30
#: The names Telegram photos (and unnamed files) get: they tell a person nothing.
UNNAMED = frozenset({"", "photo", "photo.jpg", "image"})
#: Jobs listed for an admin by /queue.
ADMIN_LIMIT = 20


def _status_word(job: Job) -> str:
    words = {
        JobStatus.QUEUED: _("queued"),
        JobStatus.RUNNING: _("running"),
        JobStatus.SUCCEEDED: _("done"),
        JobStatus.FAILED: _("failed"),
        JobStatus.CANCELED: _("canceled"),
    }
    return words[job.status]


async def _cancel(store: JobStore, job: Job) -> str:
    """Cancel a job and say what happened."""
    job = await asyncio.to_thread(store.request_cancel, job.id)
    if job.status is JobStatus.CANCELED:
        return _("Canceled.")
    if job.status.is_terminal:
        return _("This video is already finished.")
    return _("Canceling… the worker stops at its next step.")


def is_users_job(job: Job, user_id: int) -> bool:
    """True when ``job`` was sent to the bot by the Telegram user ``user_id``."""
    return job.spec.source == SOURCE and job.spec.owner == str(user_id)


async def on_cancel_button(query: CallbackQuery, callback_data: CancelJob, store: JobStore) -> None:
    """The Cancel button under a status message."""
    job = await asyncio.to_thread(store.find, callback_data.job_id)
    if job is None or not is_users_job(job, query.from_user.id):
        await query.answer(_("This is not your video."), show_alert=True)
        return
    await query.answer(await _cancel(store, job))


async def on_cancel(message: Message, store: JobStore) -> None:
    """Cancel the user's latest queued or running job."""
    owner = str(message.from_user.id if message.from_user else message.chat.id)
    active = await asyncio.to_thread(
        store.list_jobs, statuses=ACTIVE, source=SOURCE, owner=owner, limit=1
    )
    if not active:
        await message.answer(_("You have no video in the making."))
        return
    await message.answer(await _cancel(store, active[0]))


async def on_status(message: Message, store: JobStore) -> None:
    """List the user's latest jobs, each named by when it was sent and what it asked for."""
    owner = str(message.from_user.id if message.from_user else message.chat.id)
    jobs = await asyncio.to_thread(store.list_jobs, source=SOURCE, owner=owner, limit=STATUS_LIMIT)
    if not jobs:
        await message.answer(_("You have not made any videos yet. Send me a photo."))
        return
    lines = [_("Your latest videos:")]
    for job in jobs:
        line = f"• {job_name(job)}: {_status_word(job)}"
        if job.status is JobStatus.RUNNING:
            line += f" {progress_bar(job.progress)}"
        elif job.status is JobStatus.SUCCEEDED and job.elapsed_seconds is not None:
            line += f" ({format_duration(job.elapsed_seconds)})"
        lines.append(line)
    await message.answer("\n".join(lines))


def _file_name(job: Job) -> str:
    name = job.spec.image_name
    return "" if name in UNNAMED else name


def job_name(job: Job) -> str:
    """A job as its owner knows it: when it was sent, and its caption (or file name) in short."""
    lang = current_language()
    when = formats.clock_time(job.created_at, lang) if job.created_at else "?"
    # Without a caption, a file's own name still says which photo it was.
    prompt = " ".join(job.spec.prompt.split()) or _file_name(job)
    if not prompt:
        return when
    excerpt = prompt
    if len(prompt) > EXCERPT_CHARS:
        # Cut at a word boundary where there is one, so the excerpt reads as words.
        cut = prompt[:EXCERPT_CHARS]
        excerpt = (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,.;:") + "…"
    return f"{when} «{excerpt}»" if lang == "ru" else f"{when} “{excerpt}”"


async def on_queue(message: Message, store: JobStore, settings: Settings) -> None:
    """How many jobs wait and run, and where the user's own stand (for admins: every job)."""
    queued, running, workers = await asyncio.gather(
        asyncio.to_thread(store.count_jobs, statuses=[JobStatus.QUEUED]),
        asyncio.to_thread(store.count_jobs, statuses=[JobStatus.RUNNING]),
        asyncio.to_thread(store.live_worker_count),
    )
    lines = [
        _("Waiting: {queued}. Running: {running}. Workers online: {workers}.").format(
            queued=queued, running=running, workers=workers
        )
    ]
    owner = str(message.from_user.id if message.from_user else message.chat.id)
    mine = await asyncio.to_thread(
        store.list_jobs, statuses=[JobStatus.QUEUED], source=SOURCE, owner=owner, limit=10
    )
    for job in mine:
        position = await asyncio.to_thread(store.queue_position, job.id)
        if position.wait_seconds < START_NOW_SECONDS:
            line = _("Your video {name}: number {n}, starts now.").format(
                name=job_name(job), n=position.position
            )
        else:
            line = _("Your video {name}: number {n}, starts in about {wait}.").format(
                name=job_name(job), n=position.position, wait=format_estimate(position.wait_seconds)
            )
        lines.append(line)
    if is_admin(message.from_user, settings.telegram_admins):
        everyone = await asyncio.to_thread(store.list_jobs, statuses=ACTIVE, limit=ADMIN_LIMIT)
        if everyone:
            lines.append(_("All videos in the making:"))
            lines.extend(
                # An admin acts on a job with the CLI, so the id stands beside its name.
                f"• {job_name(job)} ({job.id}): {_status_word(job)}, {_who(job)}"
                for job in everyone
            )
    await message.answer("\n".join(lines))


def _who(job: Job) -> str:
    """Who asked for a job, for an admin: a Telegram user id, an API client, or the CLI."""
    owner = job.spec.owner or ""
    return f"{job.spec.source} {owner}".strip()


def build_router() -> Router:
    """A fresh router with this feature's handlers (a router can join only one dispatcher)."""
    router = Router(name="jobs")
    router.callback_query.register(on_cancel_button, CancelJob.filter())
    router.message.register(on_cancel, Command("cancel"))
    router.message.register(on_status, Command("status"))
    router.message.register(on_queue, Command("queue"))
    return router
