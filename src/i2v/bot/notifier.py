"""The notifier: one loop that keeps every status message in step with the store.

Each pass reads this bot's undelivered jobs, edits the status messages whose
text changed (each message at most once per ``edit_interval_seconds``), starts
uploads of finished videos, writes the final line ("done in 3 m 12 s",
"failed: …", "canceled") and marks the job delivered. Everything it needs to
resume after a restart lives in the store, so a restarted bot carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramRetryAfter
from aiogram.types import InlineKeyboardMarkup, ReplyParameters
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from i2v.bot.delivery import Delivery
from i2v.bot.intake import SOURCE, PendingIntake
from i2v.bot.keyboards import cancel_keyboard
from i2v.bot.locale import DEFAULT_LANGUAGE
from i2v.bot.options import BotOptions
from i2v.bot.pacing import Pacer
from i2v.bot.status import status_text
from i2v.errors import StoreError
from i2v.jobs import Job, JobStatus
from i2v.store import JobStore, wakeups

log = logging.getLogger(__name__)

#: Jobs read per pass; older undelivered jobs come first, so none starves.
BATCH = 500
#: Seconds before a failed upload is tried again.
UPLOAD_RETRY_SECONDS = 10.0


class Notifier:
    """Edits status messages and hands finished videos to :class:`Delivery`."""

    def __init__(
        self,
        bot: Bot,
        store: JobStore,
        i18n: I18n,
        pacer: Pacer,
        options: BotOptions,
        pending: PendingIntake,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot = bot
        self.store = store
        self.i18n = i18n
        self.pacer = pacer
        self.options = options
        self.pending = pending
        self.delivery = Delivery(bot, store, options)
        self._clock = clock
        self._last_edit: dict[str, float] = {}
        self._last_text: dict[str, str] = {}
        self._uploads: dict[str, asyncio.Task[None]] = {}
        self._upload_slots = asyncio.Semaphore(options.parallel_uploads)
        self._retry_upload_at: dict[str, float] = {}
        # What finished uploads recorded, by job: a pass that read the store before the
        # upload wrote its notes must still see them, or it would send the video again.
        self._settled: dict[str, dict[str, Any]] = {}
        self._stop = asyncio.Event()

    async def run(self) -> None:
        """Pass over the store until :meth:`stop` is called."""
        log.info("notifier started")
        changes = await wakeups.open_waiter(self.store.change_feed, [wakeups.CHANGED])
        outage_since: float | None = None
        while not self._stop.is_set():
            try:
                await self.run_once()
            except StoreError as exc:
                # The database being away for a moment must not end the bot: say so once,
                # keep passing, and catch up on everything once it answers again.
                if outage_since is None:
                    outage_since = self._clock()
                    log.warning("notifier: cannot read the store, retrying: %s", exc)
            else:
                if outage_since is not None:
                    log.info(
                        "notifier: the store answers again after %.0f s; catching up",
                        self._clock() - outage_since,
                    )
                    outage_since = None
            await self._wait_for_change(changes)
        for task in list(self._uploads.values()):
            task.cancel()
        await asyncio.gather(*self._uploads.values(), return_exceptions=True)
        log.info("notifier stopped")

    async def _wait_for_change(self, changes: wakeups.Waiter) -> None:
        """Sleep until a job changes or stop is asked; uploads in flight keep the old pace."""
        busy = bool(self._uploads or self._retry_upload_at)
        timeout = self.options.poll_seconds if busy else changes.safety_poll_seconds
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stop.wait(), self.options.poll_seconds)
            return
        if busy or self._stop.is_set():
            return
        waits = {
            asyncio.ensure_future(changes.wait_async(timeout)),
            asyncio.ensure_future(self._stop.wait()),
        }
        _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()

    def stop(self) -> None:
        """Ask the loop to end after the current pass."""
        self._stop.set()

    async def run_once(self) -> None:
        """One pass: bring every undelivered job's message up to date."""
        jobs = await asyncio.to_thread(
            self.store.list_jobs, source=SOURCE, undelivered=True, oldest_first=True, limit=BATCH
        )
        for job in jobs:
            notify = {**(job.notify or {}), **self._settled.get(job.id, {})}
            if "chat_id" not in notify or job.spec.dedupe_key in self.pending:
                continue
            if self.pacer.cooling_for(notify["chat_id"]) > 0:
                continue
            with self.i18n.context(), self.i18n.use_locale(notify.get("lang", DEFAULT_LANGUAGE)):
                try:
                    await self._update(job, notify)
                except TelegramRetryAfter:
                    pass  # the pacer now holds this chat back for exactly retry_after
                except TelegramAPIError as exc:
                    log.warning("job %s: Telegram error while updating: %s", job.id, exc)
        self._forget({job.id for job in jobs})

    async def _update(self, job: Job, notify: dict[str, Any]) -> None:
        if notify.get("status_message_id") is None:
            # This pass read the job a while ago; the photo handler may have sent the status
            # message since (it is no longer pending), so only the store's latest word counts.
            job = await asyncio.to_thread(self.store.get, job.id)
            notify = {**(job.notify or {}), **self._settled.get(job.id, {})}
            if notify.get("status_message_id") is None:
                await self._send_status(job, notify, status_text(job, await self._position(job)))
            return
        if job.status is JobStatus.SUCCEEDED and not _is_settled(notify):
            self._start_upload(job)
            return
        if not self._may_edit(job.id):
            return
        text = status_text(job, await self._position(job))
        if job.status is JobStatus.SUCCEEDED and notify.get("delivery_error"):
            # Telegram's own words stay in the log; the user reads a sentence in their language.
            text = _(
                "❌ The video is ready, but Telegram would not take it. (code {code}, job {job})"
            ).format(code="delivery_failed", job=job.id)
        if text != self._last_text.get(job.id, notify.get("status_text")):
            await self._edit(job, dict(notify), text)
        if job.status.is_terminal and await asyncio.to_thread(self.store.mark_delivered, job.id):
            log.info("job %s: %s, user told", job.id, job.status.value)

    async def _position(self, job: Job) -> Any:
        if job.status is not JobStatus.QUEUED:
            return None
        return await asyncio.to_thread(self.store.queue_position, job.id)

    def _may_edit(self, job_id: str) -> bool:
        now = self._clock()
        # A message first seen now may have been edited just before a restart: wait one interval.
        last = self._last_edit.setdefault(job_id, now)
        return now - last >= self.options.edit_interval_seconds

    async def _edit(self, job: Job, notify: dict[str, Any], text: str) -> None:
        keyboard = None if job.status.is_terminal else cancel_keyboard(job.id)
        try:
            await self.bot.edit_message_text(
                text=text,
                chat_id=notify["chat_id"],
                message_id=notify["status_message_id"],
                reply_markup=keyboard,
            )
        except TelegramBadRequest as exc:
            description = exc.message.lower()
            if "message is not modified" in description:
                pass  # the message already says this: that is what we wanted
            elif "message to edit not found" in description or "can't be edited" in description:
                log.info("job %s: status message gone; sending a new one", job.id)
                await self._send_status(job, notify, text)
                return
            else:
                raise
        finally:
            # Timed from the answer, not the attempt: the call may have queued in the pacer.
            self._last_edit[job.id] = self._clock()
        self._last_text[job.id] = text

    async def _send_status(self, job: Job, notify: dict[str, Any], text: str) -> None:
        keyboard: InlineKeyboardMarkup | None = (
            None if job.status.is_terminal else cancel_keyboard(job.id)
        )
        sent = await self.bot.send_message(
            notify["chat_id"],
            text,
            reply_markup=keyboard,
            reply_parameters=ReplyParameters(
                message_id=int(notify["message_id"]), allow_sending_without_reply=True
            ),
        )
        notify.update(status_message_id=sent.message_id, status_text=text)
        notify.setdefault("expected_seconds", job.eta_seconds)
        await asyncio.to_thread(self.store.set_notify, job.id, notify)
        self._last_edit[job.id] = self._clock()
        self._last_text[job.id] = text

    def _start_upload(self, job: Job) -> None:
        if job.id in self._uploads or self._clock() < self._retry_upload_at.get(job.id, 0.0):
            return
        task = asyncio.create_task(self._upload(job), name=f"upload-{job.id}")
        self._uploads[job.id] = task
        task.add_done_callback(lambda _: self._uploads.pop(job.id, None))

    async def _upload(self, job: Job) -> None:
        async with self._upload_slots:
            lang = (job.notify or {}).get("lang", DEFAULT_LANGUAGE)
            with self.i18n.context(), self.i18n.use_locale(lang):
                try:
                    settled = await self.delivery.deliver(job)
                    if settled:
                        self._settled[job.id] = settled
                    else:  # another bot process is sending it; look again later
                        self._retry_upload_at[job.id] = self._clock() + UPLOAD_RETRY_SECONDS
                except (TelegramAPIError, StoreError) as exc:
                    log.warning("job %s: sending the video failed, will retry: %s", job.id, exc)
                    self._retry_upload_at[job.id] = self._clock() + UPLOAD_RETRY_SECONDS

    def _forget(self, current: set[str]) -> None:
        """Drop what is remembered about jobs that are no longer undelivered."""
        tables: tuple[dict[str, Any], ...] = (
            self._last_edit,
            self._last_text,
            self._retry_upload_at,
            self._settled,
        )
        for table in tables:
            for job_id in [key for key in table if key not in current]:
                del table[job_id]


def _is_settled(notify: Any) -> bool:
    """True when the video was sent, or found impossible to send."""
    return bool(notify.get("video_message_id") or notify.get("delivery_error"))
