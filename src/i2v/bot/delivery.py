"""Sending a finished video to the chat it was asked for, once.

The message id of the sent video is written into the job's notify data right
after Telegram accepts it; the notifier marks the job delivered only after
that. A bot restarted at any point therefore either finds the id (and does not
send again) or finds none (and sends), so each video reaches the user once,
except if the process dies in the instant between Telegram's answer and that
write: then the user gets it twice rather than never.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Mapping
from typing import Any

from aiogram import Bot
from aiogram.enums import ChatAction
from aiogram.exceptions import TelegramBadRequest, TelegramEntityTooLarge
from aiogram.types import BufferedInputFile, Message, ReplyParameters

from i2v.bot.options import BotOptions
from i2v.bot.status import video_caption
from i2v.errors import MediaNotFound
from i2v.jobs import Job
from i2v.store import THUMBNAIL, VIDEO, JobStore

log = logging.getLogger(__name__)


class Delivery:
    """Uploads videos (with a chat action while they go) and records what was sent."""

    def __init__(self, bot: Bot, store: JobStore, options: BotOptions) -> None:
        self.bot = bot
        self.store = store
        self.options = options
        #: Who holds a delivery claim: unique per bot process, even across restarts.
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

    async def deliver(self, job: Job) -> dict[str, Any]:
        """Send the job's video (or a document if Telegram refuses it as a video), then record it.

        Returns what was recorded (``video_message_id`` or ``delivery_error``), or nothing
        while another bot process holds the delivery claim. Raises TelegramNetworkError
        and the like when it should be tried again later.
        """
        claim_seconds = self.options.upload_timeout_seconds + 60
        if not await asyncio.to_thread(
            self.store.claim_delivery, job.id, self.holder, claim_seconds
        ):
            log.info("job %s: another bot process is sending this video", job.id)
            return {}
        notify = dict(job.notify or {})
        try:
            video = await asyncio.to_thread(self.store.read_media, job.id, VIDEO)
        except MediaNotFound:
            log.warning("job %s: the video is gone from the store; cannot deliver it", job.id)
            return await self._record(job.id, notify, delivery_error="missing")
        thumbnail = await asyncio.to_thread(self._thumbnail, job.id)
        chat_id = int(notify["chat_id"])
        action = asyncio.create_task(self._keep_uploading_action(chat_id))
        try:
            sent = await self._send(job, notify, chat_id, video, thumbnail)
        except (TelegramBadRequest, TelegramEntityTooLarge) as exc:
            log.warning("job %s: Telegram refused the video and the document: %s", job.id, exc)
            return await self._record(job.id, notify, delivery_error=exc.message[:200])
        finally:
            action.cancel()
        log.info("job %s: video sent to chat %s as message %s", job.id, chat_id, sent.message_id)
        return await self._record(job.id, notify, video_message_id=sent.message_id)

    async def _send(
        self,
        job: Job,
        notify: Mapping[str, Any],
        chat_id: int,
        video: bytes,
        thumbnail: bytes | None,
    ) -> Message:
        result = job.result
        reply = ReplyParameters(
            message_id=int(notify["message_id"]), allow_sending_without_reply=True
        )
        name = f"i2v-{job.id}.mp4"
        caption = video_caption(job)[:1024]
        thumb = BufferedInputFile(thumbnail, "thumb.jpg") if thumbnail else None
        try:
            return await self.bot.send_video(
                chat_id,
                BufferedInputFile(video, name),
                duration=_int_or_none(result.get("duration_seconds"), round_up=True),
                width=_int_or_none(result.get("width")),
                height=_int_or_none(result.get("height")),
                thumbnail=thumb,
                supports_streaming=True,
                caption=caption,
                reply_parameters=reply,
                request_timeout=self.options.upload_timeout_seconds,
            )
        except (TelegramBadRequest, TelegramEntityTooLarge) as exc:
            # Some files Telegram will not take as a video (codec, size); as a file they still go.
            log.info("job %s: sendVideo refused (%s); sending as a document", job.id, exc.message)
            return await self.bot.send_document(
                chat_id,
                BufferedInputFile(video, name),
                thumbnail=thumb,
                caption=caption,
                reply_parameters=reply,
                request_timeout=self.options.upload_timeout_seconds,
            )

    def _thumbnail(self, job_id: str) -> bytes | None:
        try:
            return self.store.read_media(job_id, THUMBNAIL)
        except MediaNotFound:
            return None

    async def _keep_uploading_action(self, chat_id: int) -> None:
        """Show "sending video…" until the upload ends (Telegram clears it after 5 s)."""
        while True:
            try:
                await self.bot.send_chat_action(chat_id, ChatAction.UPLOAD_VIDEO)
            except Exception as exc:  # a failed hint must never stop the upload
                log.debug("chat action for chat %s failed: %s", chat_id, exc)
            await asyncio.sleep(4.5)

    async def _record(self, job_id: str, notify: dict[str, Any], **values: Any) -> dict[str, Any]:
        notify.update(values)
        await asyncio.to_thread(self.store.set_notify, job_id, notify)
        return values


def _int_or_none(value: Any, *, round_up: bool = False) -> int | None:
    if not isinstance(value, (int, float)) or value <= 0:
        return None
    return max(1, -int(-value // 1)) if round_up else int(value)
