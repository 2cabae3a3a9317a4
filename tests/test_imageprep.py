"""Image preparation: every kind of photo a user may send is used correctly or refused clearly."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from i2v.config import VideoConfig
from i2v.engine.imageprep import (
    NEUTRAL_BACKGROUND,
    fit_to,
    load_photo,
    output_size,
    photo_size,
    prepare_photo,
)
from i2v.errors import InputError

DATA = Path(__file__).parent / "data"

#: Quadrant colours of the upright reference picture: TL, TR, BL, BR.
QUADRANTS = ((220, 30, 30), (30, 200, 30), (30, 30, 220), (230, 230, 40))


def reference_picture(width: int = 96, height: int = 64) -> Image.Image:
    """An upright picture whose four quadrants have distinct colours."""
    pixels = np.zeros((height, width, 3), np.uint8)
    hh, hw = height // 2, width // 2
    pixels[:hh, :hw], pixels[:hh, hw:] = QUADRANTS[0], QUADRANTS[1]
    pixels[hh:, :hw], pixels[hh:, hw:] = QUADRANTS[2], QUADRANTS[3]
    return Image.fromarray(pixels)


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def quadrant_means(pixels: np.ndarray) -> list[tuple[int, ...]]:
    h, w = pixels.shape[:2]
    cells = [
        pixels[: h // 2, : w // 2],
        pixels[: h // 2, w // 2 :],
        pixels[h // 2 :, : w // 2],
        pixels[h // 2 :, w // 2 :],
    ]
    return [tuple(int(v) for v in cell.reshape(-1, 3).mean(axis=0)) for cell in cells]


def assert_colour(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 25) -> None:
    worst = max(abs(a - e) for a, e in zip(actual, expected, strict=True))
    assert worst <= tolerance, (actual, expected)


# How a camera stores a picture for each EXIF orientation: the inverse of the
# transform a viewer applies to show it upright.
STORED_AS = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@pytest.mark.parametrize("orientation", sorted(STORED_AS))
def test_exif_rotated_jpeg_comes_out_upright(orientation: int) -> None:
    upright = reference_picture()
    op = STORED_AS[orientation]
    stored = upright if op is None else upright.transpose(op)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(stored, "JPEG", quality=95, exif=exif.tobytes())

    image = load_photo(data)

    assert image.size == upright.size
    assert photo_size(data) == upright.size
    for actual, expected in zip(quadrant_means(np.asarray(image)), QUADRANTS, strict=True):
        assert_colour(actual, expected)


def test_cmyk_jpeg_is_converted_to_the_right_colours() -> None:
    cmyk = Image.new("CMYK", (64, 48), (0, 255, 255, 0))  # pure red ink
    image = load_photo(encode(cmyk, "JPEG", quality=95))
    assert image.mode == "RGB"
    assert_colour(tuple(np.asarray(image).reshape(-1, 3).mean(axis=0).astype(int)), (255, 0, 0))


def test_sixteen_bit_greyscale_png_keeps_its_brightness() -> None:
    mid_grey = np.full((40, 40), 32768, np.uint16)
    data = encode(Image.fromarray(mid_grey), "PNG")
    pixels = np.asarray(load_photo(data))
    # Pillow's plain conversion would clip this to white (255).
    assert 120 <= pixels.mean() <= 136


def test_palette_png_with_transparency_lies_on_a_neutral_background() -> None:
    palette_image = Image.new("P", (40, 40), 0)
    palette_image.putpalette([255, 0, 0] + [0, 255, 0] * 255)
    palette_image.paste(1, (20, 0, 40, 40))
    data = encode(palette_image, "PNG", transparency=0)
    pixels = np.asarray(load_photo(data))
    transparent_half = tuple(pixels[:, :20].reshape(-1, 3).mean(axis=0).astype(int))
    opaque_half = tuple(pixels[:, 20:].reshape(-1, 3).mean(axis=0).astype(int))
    assert_colour(transparent_half, NEUTRAL_BACKGROUND, 2)
    assert_colour(opaque_half, (0, 255, 0), 2)


def test_semi_transparent_rgba_is_blended_not_blackened() -> None:
    data = encode(Image.new("RGBA", (32, 32), (255, 255, 255, 128)), "PNG")
    pixel = np.asarray(load_photo(data))[0, 0]
    assert 185 <= int(pixel[0]) <= 195


def test_greyscale_jpeg_becomes_three_channel_rgb() -> None:
    data = encode(Image.new("L", (32, 32), 90), "JPEG")
    pixels = np.asarray(load_photo(data))
    assert pixels.shape == (32, 32, 3)
    assert abs(int(pixels.mean()) - 90) <= 2


def test_animated_gif_uses_its_first_frame() -> None:
    frames = [Image.new("RGB", (32, 32), colour) for colour in ((250, 0, 0), (0, 0, 250))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    pixels = np.asarray(load_photo(buffer.getvalue()))
    assert pixels[..., 0].mean() > 200
    assert pixels[..., 2].mean() < 50


def test_webp_photo_is_read() -> None:
    source = Image.open(DATA / "chelsea.png").convert("RGB")
    image = load_photo(encode(source, "WEBP", quality=80))
    assert image.size == source.size


def test_one_pixel_image_is_refused_with_its_size() -> None:
    with pytest.raises(InputError, match="1×1"):
        load_photo(encode(Image.new("RGB", (1, 1)), "PNG"))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a huge size yet is a few hundred bytes (no pixels are allocated)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width // 8 + 1) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_before_decoding() -> None:
    data = png_header_only(20000, 20000)
    assert len(data) < 10_000
    with pytest.raises(InputError, match="too large"):
        load_photo(data)


def test_photo_over_the_configured_pixel_limit_is_refused() -> None:
    data = encode(Image.new("RGB", (300, 300)), "PNG")
    with pytest.raises(InputError, match=r"the limit is 0\.05 MP"):
        load_photo(data, VideoConfig(max_image_pixels=50_000))


def test_truncated_jpeg_is_refused_as_damaged() -> None:
    data = (DATA / "rocket.jpg").read_bytes()
    with pytest.raises(InputError, match="damaged or incomplete"):
        load_photo(data[: len(data) // 2])


def test_empty_file_is_refused() -> None:
    with pytest.raises(InputError, match="empty"):
        load_photo(b"")


def test_text_file_named_jpg_is_refused() -> None:
    with pytest.raises(InputError, match="not an image"):
        load_photo(b"this is a shopping list, not a photo\n" * 10)


@pytest.mark.parametrize(
    ("photo", "short", "grid", "expected"),
    [
        ((4000, 3000), 720, 32, (960, 704)),
        ((3000, 4000), 720, 32, (704, 960)),
        ((1920, 1080), 720, 2, (1280, 720)),
        ((1080, 1920), 480, 16, (480, 848)),
        ((512, 512), 720, 8, (720, 720)),
        ((8000, 1000), 720, 2, (1280, 720)),  # panorama capped at 16:9
        ((1000, 1000), 481, 2, (480, 480)),  # always even
    ],
)
def test_output_size_keeps_orientation_and_snaps_to_the_grid(
    photo: tuple[int, int], short: int, grid: int, expected: tuple[int, int]
) -> None:
    size = output_size(photo, short, grid)
    assert size == expected
    assert size[0] % 2 == 0 and size[1] % 2 == 0


def test_fit_crops_the_centre_without_distortion() -> None:
    # A wide picture with a centred square: after fitting to a square, it fills the frame.
    wide = Image.new("RGB", (300, 100), (0, 0, 0))
    wide.paste((255, 255, 255), (100, 0, 200, 100))
    fitted = np.asarray(fit_to(wide, (50, 50)))
    assert fitted.shape == (50, 50, 3)
    assert fitted[5:-5, 5:-5].min() > 240


def test_prepare_photo_returns_the_exact_target_shape_for_a_real_photo() -> None:
    data = (DATA / "coffee.png").read_bytes()
    size = output_size(photo_size(data), 480, 32)
    pixels = prepare_photo(data, size)
    assert pixels.shape == (size[1], size[0], 3)
    assert pixels.dtype == np.uint8
    assert size == (704, 480)
