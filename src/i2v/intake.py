"""Intake: the checks every front end runs on a photo before a job is submitted.

The engine's image preparation does the full conversion later, on the worker;
this only makes sure the bytes are a readable still image within the limits,
so a bad upload is refused at once with a clear reason instead of failing a job.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from i2v.config import VideoConfig
from i2v.messages import refusal

log = logging.getLogger(__name__)

#: Formats Pillow decodes that make sense as a photo.
ACCEPTED_FORMATS = frozenset(
    {"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF", "AVIF", "PPM", "TGA"}
)


#: Pillow format name to the MIME type stored with the photo.
_CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
    "HEIF": "image/heif",
    "AVIF": "image/avif",
}


@dataclass(frozen=True)
class PhotoInfo:
    """What intake learned about a photo."""

    width: int
    height: int
    format: str
    bytes: int

    @property
    def content_type(self) -> str:
        """The photo's MIME type, as stored beside it."""
        return _CONTENT_TYPES.get(self.format, "application/octet-stream")


def check_photo(data: bytes, video: VideoConfig) -> PhotoInfo:
    """Return the photo's size and format, or raise InputError saying why it cannot be used.

    Each refusal carries a catalogue code (:mod:`i2v.messages`), so every front end
    can say it in its reader's language; none repeats Pillow's own words.
    """
    if not data:
        raise refusal("empty_file")
    if len(data) > video.max_image_bytes:
        raise refusal("file_too_large", size=len(data), limit=video.max_image_bytes)
    try:
        with warnings.catch_warnings():
            # Pillow warns before it refuses; our own pixel limit below gives the message.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise refusal("too_many_pixels", limit=video.max_image_pixels) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise refusal("not_an_image") from None
    with image:
        fmt = image.format or "unknown"
        if fmt not in ACCEPTED_FORMATS:
            raise refusal("format_not_supported", format=fmt)
        width, height = image.size
        if width * height > video.max_image_pixels:
            raise refusal(
                "too_many_pixels_sized", width=width, height=height, limit=video.max_image_pixels
            )
        if min(width, height) < video.min_image_side:
            raise refusal(
                "photo_too_small", width=width, height=height, min_side=video.min_image_side
            )
        try:
            if fmt == "JPEG":
                # Decoding at 1/8 scale still reads every byte, so truncation shows, but fast.
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            image.load()
        except (OSError, ValueError, SyntaxError) as exc:
            # Pillow's words ("image file is truncated (3 bytes not processed)") are for the log.
            log.info("photo refused as damaged: %s", exc)
            raise refusal("photo_damaged") from None
    return PhotoInfo(width=width, height=height, format=fmt, bytes=len(data))
