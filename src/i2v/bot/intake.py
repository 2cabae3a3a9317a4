"""Turning a Telegram message into a job: which file to fetch, which refusals apply.

Every check that needs no download runs before the download, so a refused
file costs nothing; the bytes are then checked by :func:`i2v.intake.check_photo`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiogram.types import Message

from i2v.bot.preferences import Preferences
from i2v.config import VideoConfig
from i2v.jobs import JobSpec

SOURCE = "telegram"
DAY_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class IncomingImage:
    """The file a message carries that may become a job's photo."""

    file_id: str
    file_size: int | None
    content_type: str
    file_name: str
    is_document: bool


def image_of(message: Message) -> IncomingImage | None:
    """The largest photo size, or the document, a message carries; None if neither."""
    if message.photo:
        largest = max(
            message.photo, key=lambda size: (size.width * size.height, size.file_size or 0)
        )
        return IncomingImage(largest.file_id, largest.file_size, "image/jpeg", "photo.jpg", False)
    document = message.document
    if document is not None:
        return IncomingImage(
            document.file_id,
            document.file_size,
            document.mime_type or "application/octet-stream",
            document.file_name or "image",
            True,
        )
    return None


def is_image_type(content_type: str) -> bool:
    """True for image/* MIME types."""
    return content_type.lower().startswith("image/")


def dedupe_key(message: Message) -> str:
    """The key that stops one Telegram message from ever making two jobs."""
    return f"tg:{message.chat.id}:{message.message_id}"


def build_spec(
    message: Message, image: IncomingImage, prefs: Preferences, video: VideoConfig, language: str
) -> JobSpec:
    """The job spec for this message, with the user's preferences; raises InputError if unusable."""
    user_id = message.from_user.id if message.from_user else message.chat.id
    spec = JobSpec(
        prompt=message.caption or "",
        resolution=prefs.resolution,
        duration_seconds=prefs.duration_seconds,
        model=prefs.model,
        source=SOURCE,
        owner=str(user_id),
        notify={
            "chat_id": message.chat.id,
            "message_id": message.message_id,
            "lang": language,
        },
        dedupe_key=dedupe_key(message),
        image_name=image.file_name,
    )
    return video.complete(spec)


class PendingIntake:
    """Messages whose handler is still creating the job and its status message.

    The notifier leaves these alone, so it never races the handler to send a
    second status message. After a restart the set is empty and the notifier
    takes over any job left without one.
    """

    def __init__(self) -> None:
        self._keys: dict[str, float] = {}

    def add(self, key: str) -> None:
        """Mark a message as being handled."""
        self._keys[key] = time.monotonic()

    def discard(self, key: str) -> None:
        """The handler is done with the message."""
        self._keys.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._keys
