"""Photo intake: a photo or image file in, a queued job and its status message out."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Message, ReplyParameters
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiohttp import ClientError

from i2v import messages
from i2v.bot.backlog import Backlog
from i2v.bot.intake import (
    DAY_SECONDS,
    SOURCE,
    IncomingImage,
    PendingIntake,
    build_spec,
    dedupe_key,
    image_of,
    is_image_type,
)
from i2v.bot.keyboards import cancel_keyboard
from i2v.bot.options import BotOptions
from i2v.bot.outage import photo_kept_text, try_again_text
from i2v.bot.preferences import Preferences
from i2v.bot.status import current_language, status_text
from i2v.config import Settings, VideoConfig
from i2v.errors import InputError, StoreUnavailable
from i2v.intake import check_photo
from i2v.jobs import Job, JobSpec, JobStatus
from i2v.messages import formats
from i2v.store import JobStore

log = logging.getLogger(__name__)
ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)


async def on_image(
    message: Message,
    bot: Bot,
    store: JobStore,
    settings: Settings,
    video: VideoConfig,
    options: BotOptions,
    pending: PendingIntake,
    i18n: I18n,
    user_prefs: dict[str, Any],
    backlog: Backlog,
) -> None:
    """Check the image and the user's limits, queue a job, and reply with its status.

    While the database is away, the photo goes to the backlog and is queued later.
    """
    image = image_of(message)
    if image is None:  # pragma: no cover - the filter guarantees one
        return
    key = dedupe_key(message)
    pending.add(key)
    try:
        try:
            refusal = await _refusal_before_download(message, image, store, settings, options)
        except StoreUnavailable:
            # The checks that need no database passed; the limits cannot be read now.
            refusal = None
        if refusal is not None:
            if refusal:
                await message.reply(refusal)
            return
        prefs = Preferences.from_dict(user_prefs).offered(options.models)
        try:
            spec = build_spec(message, image, prefs, video, i18n.current_locale)
        except InputError as exc:
            await message.reply(messages.explain(exc, i18n.current_locale))
            return
        photo = await _download(bot, image, message.chat.id)
        if photo is None:
            await message.reply(_("I could not download this file from Telegram. Send it again."))
            return
        try:
            await asyncio.to_thread(check_photo, photo, video)
        except InputError as exc:
            await message.reply(messages.explain(exc, i18n.current_locale))
            return
        content_type = image.content_type if image.is_document else "image/jpeg"
        try:
            job = await asyncio.to_thread(store.submit, spec, photo, content_type=content_type)
        except StoreUnavailable as exc:
            await _keep_for_later(message, backlog, spec, photo, content_type, exc)
            return
        log.info("job %s: queued from chat %s", job.id, message.chat.id)
        try:
            await _send_status(message, store, job)
        except StoreUnavailable as exc:
            # The job is queued; the notifier sends its status message once the store is back.
            log.warning("job %s: status message waits for the database: %s", job.id, exc)
    finally:
        pending.discard(key)


async def _keep_for_later(
    message: Message,
    backlog: Backlog,
    spec: JobSpec,
    photo: bytes,
    content_type: str,
    outage: StoreUnavailable,
) -> None:
    """The database is away: keep the photo in the backlog and say the video will come."""
    try:
        await asyncio.to_thread(backlog.keep, spec, photo, content_type)
    except OSError as exc:
        log.error("chat %s: cannot keep the photo for later either: %s", message.chat.id, exc)
        await message.reply(try_again_text())
        return
    log.warning("chat %s: photo kept until the database is back: %s", message.chat.id, outage)
    await message.reply(photo_kept_text())


async def _refusal_before_download(
    message: Message,
    image: IncomingImage,
    store: JobStore,
    settings: Settings,
    options: BotOptions,
) -> str | None:
    """The reason to refuse without downloading; "" to stay silent; None to go on."""
    if image.is_document and not is_image_type(image.content_type):
        return _("This file is not an image. Send a photo, or a JPEG, PNG or WebP file.")
    if image.file_size is not None and image.file_size > options.max_download_bytes:
        lang = current_language()
        return _("This file is {size}; bots can download at most {limit}.").format(
            size=formats.megabytes(image.file_size, lang),
            limit=formats.megabytes(options.max_download_bytes, lang),
        )
    if message.caption and len(message.caption.strip()) > settings.max_prompt_chars:
        return _("The caption is {n} characters long; the limit is {limit}.").format(
            n=len(message.caption.strip()), limit=settings.max_prompt_chars
        )
    if await asyncio.to_thread(store.find_by_dedupe_key, dedupe_key(message)) is not None:
        # Telegram delivered this message again (a restart before the offset was saved).
        return ""
    owner = str(message.from_user.id if message.from_user else message.chat.id)
    active = await asyncio.to_thread(
        store.list_jobs, statuses=ACTIVE, source=SOURCE, owner=owner, limit=100
    )
    if len(active) >= settings.telegram_max_active_jobs:
        return _(
            "You already have {n} videos in the making; the limit is {limit}. "
            "Send this photo again when one is done, or /cancel one."
        ).format(n=len(active), limit=settings.telegram_max_active_jobs)
    if settings.telegram_daily_quota:
        today = await asyncio.to_thread(
            store.count_jobs,
            source=SOURCE,
            owner=owner,
            created_after=store.now() - DAY_SECONDS,
        )
        if today >= settings.telegram_daily_quota:
            return _("You have made {n} videos in the last 24 hours, which is the limit.").format(
                n=today
            )
    return None


async def _download(bot: Bot, image: IncomingImage, chat_id: int) -> bytes | None:
    """The file's bytes, or None when Telegram would not hand them over (logged)."""
    try:
        file = await bot.get_file(image.file_id)
        if file.file_path is None:
            log.warning("chat %s: Telegram gave no download path for the file", chat_id)
            return None
        buffer = io.BytesIO()
        await bot.download_file(file.file_path, destination=buffer)
    except (TelegramAPIError, ClientError, asyncio.TimeoutError) as exc:
        log.warning("chat %s: downloading the photo failed: %s", chat_id, exc)
        return None
    return buffer.getvalue()


async def _send_status(message: Message, store: JobStore, job: Job) -> None:
    """Reply to the photo with the job's status and a Cancel button, and remember its id."""
    position = await asyncio.to_thread(store.queue_position, job.id)
    text = status_text(job, position)
    sent = await message.answer(
        text,
        reply_markup=cancel_keyboard(job.id),
        reply_parameters=ReplyParameters(
            message_id=message.message_id, allow_sending_without_reply=True
        ),
    )
    notify = dict(job.notify or {})
    notify.update(
        status_message_id=sent.message_id,
        status_text=text,
        expected_seconds=job.eta_seconds,
    )
    await asyncio.to_thread(store.set_notify, job.id, notify)


def build_router() -> Router:
    """A fresh router with this feature's handlers (a router can join only one dispatcher)."""
    router = Router(name="photos")
    router.message.register(on_image, F.photo | F.document)
    return router
