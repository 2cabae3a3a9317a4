"""Image preparation shared by every engine: photo bytes in, an upright RGB array out.

The front ends already ran :func:`i2v.intake.check_photo` (readable, within the
limits); the worker runs it again here because a job may have been submitted by
an older front end, and because the same clear message should come from both places.
"""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
import numpy.typing as npt
from PIL import ExifTags, Image, ImageCms, ImageOps

from i2v.config import VideoConfig
from i2v.intake import check_photo
from i2v.messages import refusal

#: Transparent pixels are laid on mid grey: it biases neither exposure nor a model's
#: guess of the background, unlike black (reads as night) or white (reads as sky).
NEUTRAL_BACKGROUND = (128, 128, 128)
#: Panoramas and tall screenshots are cropped to at most this aspect ratio; video
#: models are trained near 16:9 and a 4:1 clip would be mostly black bars on a phone.
MAX_ASPECT = 16 / 9

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})


def load_photo(data: bytes, limits: VideoConfig | None = None) -> Image.Image:
    """Decode photo bytes to an upright 8-bit RGB image; raise InputError if unusable."""
    check_photo(data, limits or VideoConfig())
    try:
        with warnings.catch_warnings():
            # check_photo already enforced our pixel limit, which is the real bomb guard.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            # Animated GIF/WebP/APNG: the first frame is the photo the user chose.
            image.seek(0)
            image.load()
            upright = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError, EOFError):
        raise refusal("photo_damaged") from None
    return to_rgb(upright)


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode (CMYK, palette, 16-bit, grey, alpha) to 8-bit RGB."""
    if image.mode in _SIXTEEN_BIT_MODES:
        # Pillow's own I;16 -> L conversion clips at 255 instead of scaling, which
        # turns a 16-bit greyscale PNG almost white; scale by the format's range.
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max(initial=0) > 255 or image.mode != "I" else 255.0
        grey = np.clip(values * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if image.mode == "F":
        grey = np.clip(np.asarray(image, dtype=np.float64), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if image.mode == "CMYK":
        return _cmyk_to_rgb(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        image.mode in ("P", "L", "RGB") and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*NEUTRAL_BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB") if image.mode != "RGB" else image


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    """Use the embedded ICC profile when there is one: print CMYK is far from naive 255-x."""
    profile = image.info.get("icc_profile")
    if profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            converted = ImageCms.profileToProfile(
                image, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
            )
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # A broken profile is common in the wild; the plain conversion is close enough.
    return image.convert("RGB")


def output_size(photo_size: tuple[int, int], short_side: int, grid: int = 2) -> tuple[int, int]:
    """Return the video (width, height): ``short_side`` on the short side, photo orientation kept.

    Both sides are snapped to multiples of ``grid`` (a model's latent grid; at
    least 2, since H.264 yuv420p needs even sides), and the aspect ratio is
    limited to :data:`MAX_ASPECT` either way.
    """
    width, height = photo_size
    if width <= 0 or height <= 0:
        raise refusal("photo_has_no_pixels", width=width, height=height)
    step = max(2, grid + grid % 2)
    aspect = min(max(width, height) / min(width, height), MAX_ASPECT)
    # Both sides come from the requested short side, so rounding one does not skew the other.
    short = snap(short_side, step)
    long = max(short, snap(short_side * aspect, step))
    return (long, short) if width >= height else (short, long)


def fit_to(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale ``image`` to cover ``size`` (w, h) and crop the centre; never distorts."""
    target_w, target_h = size
    scale = max(target_w / image.width, target_h / image.height)
    # The crop box is computed in source pixels, so resize() resamples once (Lanczos)
    # straight from the photo to the target: no second pass, no half-pixel drift.
    return image.resize(
        (target_w, target_h),
        Image.Resampling.LANCZOS,
        box=cover_box(image.size, size),
        reducing_gap=3.0 if scale < 1 / 3 else None,
    )


def cover_box(
    source: tuple[int, int], target: tuple[int, int]
) -> tuple[float, float, float, float]:
    """Return the centred crop box of ``source`` with ``target``'s aspect, inside the source."""
    (src_w, src_h), (target_w, target_h) = source, target
    scale = max(target_w / src_w, target_h / src_h)
    # target / (target / src) can come back a hair above src (1033 / (1033 / 1000) is
    # 1000.0000000000001), which Pillow rejects as a negative offset: clamp to the picture.
    box_w, box_h = min(src_w, target_w / scale), min(src_h, target_h / scale)
    left, top = max(0.0, (src_w - box_w) / 2), max(0.0, (src_h - box_h) / 2)
    return (left, top, min(src_w, left + box_w), min(src_h, top + box_h))


def prepare_photo(
    data: bytes, size: tuple[int, int], limits: VideoConfig | None = None
) -> npt.NDArray[np.uint8]:
    """Decode, orient, convert and fit a photo to ``size`` (w, h); uint8 array (h, w, 3)."""
    return np.asarray(fit_to(load_photo(data, limits), size), dtype=np.uint8)


def photo_size(data: bytes, limits: VideoConfig | None = None) -> tuple[int, int]:
    """Return the upright (width, height) of a photo, EXIF rotation applied."""
    info = check_photo(data, limits or VideoConfig())
    with Image.open(io.BytesIO(data)) as image:
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    # Orientations 5-8 swap width and height (rotated by 90 or 270 degrees).
    if orientation in (5, 6, 7, 8):
        return info.height, info.width
    return info.width, info.height


def snap(value: float, multiple: int) -> int:
    """Round ``value`` to the nearest positive multiple of ``multiple``, ties going down.

    Ties go down so "720p" on a 32-pixel grid is 704 (what LTX-Video and Wan use), not 736.
    """
    return max(multiple, math.ceil(value / multiple - 0.5) * multiple)
