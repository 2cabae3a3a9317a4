"""Intake: the checks every front end runs on a photo before a job is submitted.

The engine's image preparation does the full conversion later, on the worker;
this only makes sure the bytes are a readable still image within the limits,
so a bad upload is refused at once with a clear reason instead of failing a job.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from i2v.config import VideoConfig
from i2v.errors import InputError

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
    """Return the photo's size and format, or raise InputError saying why it cannot be used."""
    if not data:
        raise InputError("the file is empty (0 bytes)")
    if len(data) > video.max_image_bytes:
        raise InputError(
            f"the photo is {len(data) / 1e6:.1f} MB; the limit is {video.max_image_bytes / 1e6:.1f} MB"
        )
    try:
        with warnings.catch_warnings():
            # Pillow warns before it refuses; our own pixel limit below gives the message.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise InputError(_too_many_pixels_message(None, video)) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise InputError("this file is not an image i2v can read (try a JPEG or PNG)") from None
    with image:
        fmt = image.format or "unknown"
        if fmt not in ACCEPTED_FORMATS:
            raise InputError(f"{fmt} images are not supported; send a JPEG, PNG or WebP")
        width, height = image.size
        if width * height > video.max_image_pixels:
            raise InputError(_too_many_pixels_message((width, height), video))
        if min(width, height) < video.min_image_side:
            raise InputError(
                f"the photo is {width}x{height}; each side must be at least "
                f"{video.min_image_side} pixels"
            )
        try:
            if fmt == "JPEG":
                # Decoding at 1/8 scale still reads every byte, so truncation shows, but fast.
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            image.load()
        except (OSError, ValueError, SyntaxError) as exc:
            raise InputError(f"the image file is damaged or incomplete ({exc})") from None
    return PhotoInfo(width=width, height=height, format=fmt, bytes=len(data))


def _too_many_pixels_message(size: tuple[int, int] | None, video: VideoConfig) -> str:
    shown = f"{size[0]}x{size[1]} " if size else ""
    return (
        f"the photo {shown}is too large; the limit is {video.max_image_pixels / 1e6:.0f} megapixels"
    )
