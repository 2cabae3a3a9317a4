"""Encoding: the MP4 plays inline on Telegram, lasts exactly as long as asked, and fits the cap."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from i2v.encoding import encode_mp4, make_thumbnail, probe_mp4
from i2v.errors import Canceled, EngineError, ErrorCode


def moving_frames(count: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """Frames of a textured picture sliding one pixel per frame, like a slow pan."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 256, (height, width + count, 3), dtype=np.uint8)
    return np.stack([texture[:, i : i + width] for i in range(count)])


@pytest.mark.parametrize(("fps", "count"), [(24, 25), (7, 25), (8, 49)])
def test_mp4_is_h264_yuv420p_with_exact_duration_and_faststart(
    tmp_path: Path, fps: int, count: int
) -> None:
    frames = moving_frames(count, 96, 64)
    info = encode_mp4(frames, fps, tmp_path / "clip.mp4")
    probe = probe_mp4(tmp_path / "clip.mp4")

    assert (probe.codec, probe.pix_fmt) == ("h264", "yuv420p")
    assert (probe.width, probe.height) == (96, 64) == (info.width, info.height)
    assert probe.frames == count == info.frames
    assert abs(probe.duration_seconds - count / fps) < 1 / fps
    assert probe.fps == pytest.approx(fps)
    assert probe.moov_before_mdat
    assert probe.bytes == info.bytes == (tmp_path / "clip.mp4").stat().st_size


def test_mp4_has_a_silent_audio_track_so_telegram_shows_a_video_not_a_gif(tmp_path: Path) -> None:
    encode_mp4(moving_frames(12, 64, 64), 24, tmp_path / "a.mp4")
    encode_mp4(moving_frames(12, 64, 64), 24, tmp_path / "b.mp4", audio=False)
    assert probe_mp4(tmp_path / "a.mp4").audio_codec == "aac"
    assert probe_mp4(tmp_path / "b.mp4").audio_codec is None


def test_odd_frame_sides_are_trimmed_to_even(tmp_path: Path) -> None:
    info = encode_mp4(moving_frames(6, 65, 47), 12, tmp_path / "odd.mp4")
    probe = probe_mp4(tmp_path / "odd.mp4")
    assert (probe.width, probe.height) == (64, 46) == (info.width, info.height)


def test_too_big_video_is_reencoded_at_a_higher_crf_until_it_fits(tmp_path: Path) -> None:
    frames = moving_frames(24, 160, 120, seed=3)
    first = encode_mp4(frames, 24, tmp_path / "big.mp4")
    cap = first.bytes // 2
    smaller = encode_mp4(frames, 24, tmp_path / "small.mp4", max_bytes=cap)
    assert smaller.bytes <= cap
    assert smaller.crf > first.crf
    assert probe_mp4(tmp_path / "small.mp4").frames == 24


def test_impossible_size_cap_fails_clearly_and_leaves_no_partial_file(tmp_path: Path) -> None:
    with pytest.raises(EngineError) as caught:
        encode_mp4(moving_frames(12, 128, 96), 24, tmp_path / "x.mp4", max_bytes=200)
    assert caught.value.code is ErrorCode.ENCODE_FAILED
    assert "I2V_MAX_VIDEO_MB" in caught.value.message
    assert list(tmp_path.iterdir()) == []


def test_the_encoder_reports_every_frame_as_it_goes_so_a_long_encode_is_not_silence(
    tmp_path: Path,
) -> None:
    heard: list[tuple[int, int]] = []
    encode_mp4(moving_frames(30, 96, 64), 24, tmp_path / "clip.mp4", progress=_record(heard))
    assert heard == [(done, 30) for done in range(1, 31)]
    assert probe_mp4(tmp_path / "clip.mp4").frames == 30


def test_a_reencode_to_fit_the_cap_reports_its_frames_again(tmp_path: Path) -> None:
    frames = moving_frames(24, 160, 120, seed=3)
    cap = encode_mp4(frames, 24, tmp_path / "big.mp4").bytes // 2
    heard: list[tuple[int, int]] = []
    encode_mp4(frames, 24, tmp_path / "small.mp4", max_bytes=cap, progress=_record(heard))
    assert heard.count((24, 24)) >= 2
    assert heard[-1] == (24, 24)


def test_a_cancel_heard_while_encoding_stops_it_and_leaves_no_file(tmp_path: Path) -> None:
    heard: list[tuple[int, int]] = []

    def stop_at_ten(done: int, total: int) -> bool:
        heard.append((done, total))
        return done >= 10

    with pytest.raises(Canceled):
        encode_mp4(moving_frames(40, 96, 64), 24, tmp_path / "clip.mp4", progress=stop_at_ten)
    assert heard[-1] == (10, 40)
    assert list(tmp_path.iterdir()) == []


def _record(heard: list[tuple[int, int]]) -> Callable[[int, int], None]:
    def progress(done: int, total: int) -> None:
        heard.append((done, total))

    return progress


def test_no_frames_is_an_encode_error(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="no frames"):
        encode_mp4(np.zeros((0, 64, 64, 3), np.uint8), 24, tmp_path / "x.mp4")


def test_decoded_frames_match_the_input_closely(tmp_path: Path) -> None:
    import av

    gradient = np.linspace(0, 255, 128, dtype=np.uint8)
    picture = np.stack([np.tile(gradient, (96, 1))] * 3, axis=-1)
    picture[..., 0] = 200  # a strong red channel shows a wrong colour matrix at once
    frames = np.stack([picture] * 4)
    encode_mp4(frames, 24, tmp_path / "g.mp4")
    with av.open(str(tmp_path / "g.mp4")) as box:
        decoded = next(box.decode(video=0)).to_ndarray(format="rgb24")
    assert np.abs(decoded.astype(int) - picture.astype(int)).mean() < 4


def test_thumbnail_is_a_small_jpeg_within_telegram_limits() -> None:
    frame = moving_frames(1, 1280, 720)[0]
    data = make_thumbnail(frame)
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert max(image.size) == 320
    assert image.size == (320, 180)
    assert len(data) <= 200 * 1024


def test_thumbnail_lowers_quality_to_fit_a_byte_limit() -> None:
    noise = moving_frames(1, 640, 640, seed=5)[0]
    generous = make_thumbnail(noise)
    tight = make_thumbnail(noise, max_bytes=len(generous) // 2)
    assert len(tight) <= len(generous) // 2
