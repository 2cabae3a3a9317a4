"""The message catalogue: every failure has a stable code and a sentence in English and Russian."""

from __future__ import annotations

import io
import re
import string
from datetime import datetime, timedelta

import pytest
from PIL import Image

from i2v import messages
from i2v.config import VideoConfig
from i2v.errors import ErrorCode, InputError
from i2v.intake import check_photo
from i2v.jobs import JobSpec
from i2v.messages import formats
from i2v.messages.catalogue import SENTENCES

#: Two or more Latin-script words in a row: an English phrase inside a Russian sentence.
LATIN_PHRASE = re.compile(r"[A-Za-z]{2,}(?:[ \t]+[A-Za-z]{2,})+")


def latin_phrases(text: str) -> list[str]:
    """English phrases in ``text``, ignoring codes and ids (single words, snake_case)."""
    return LATIN_PHRASE.findall(text)


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(buffer, "PNG")
    return buffer.getvalue()


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_sentence_exists_in_both_languages_with_the_same_placeholders() -> None:
    for code, sentences in SENTENCES.items():
        assert set(sentences) == {"en", "ru"}, code
        assert _fields(sentences["en"]) == _fields(sentences["ru"]), code
        assert latin_phrases(sentences["ru"]) == [], code


def test_every_job_error_code_has_a_sentence() -> None:
    for code in ErrorCode:
        assert messages.has(f"job.{code.value}"), code


def test_an_internal_failure_is_a_plain_sentence_with_its_code_and_job_id() -> None:
    english = messages.job_failure("internal", "en", job_id="abc")
    russian = messages.job_failure("internal", "ru", job_id="abc")
    assert english == (
        "Something went wrong while making this video; it was reported. (code internal, job abc)"
    )
    assert russian.endswith("(код internal, задача abc)")
    assert latin_phrases(russian) == []


def test_a_code_the_catalogue_does_not_know_reads_as_internal_but_keeps_its_code() -> None:
    text = messages.job_failure("something_new", "ru", job_id="abc")
    assert text.startswith("Что-то пошло не так") and "something_new" in text


def test_russian_writes_numbers_with_a_comma_and_its_own_units() -> None:
    assert formats.megabytes(25 * 1024 * 1024, "ru") == "25,0 МБ"
    assert formats.megabytes(25 * 1024 * 1024, "en") == "25.0 MB"
    assert formats.number(12345, "en") == "12,345"


def test_durations_never_show_a_zero_part_and_estimates_are_rounded() -> None:
    assert formats.duration(120, "en") == "2 min"
    assert formats.duration(192, "ru") == "3 мин 12 с"
    assert formats.duration(3700, "en") == "1 h 1 min"
    assert formats.duration(0, "en") == "0 s"
    assert formats.about(192, "en") == "3 min"
    assert formats.about(120, "ru") == "2 мин"
    assert formats.about(3.2, "en") == "5 s"
    assert formats.about(3900, "en") == "1 h 5 min"


def test_a_moment_today_is_its_time_and_another_day_adds_the_date() -> None:
    now = datetime(2026, 3, 5, 14, 5).astimezone()
    assert formats.clock_time(now, "ru", now=now) == "14:05"
    assert formats.clock_time(now - timedelta(days=2), "en", now=now) == "3 Mar, 14:05"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("ru-RU,ru;q=0.9,en-US;q=0.8", "ru"),
        ("en-US,en;q=0.9,ru;q=0.8", "en"),
        ("de-DE,de;q=0.9,ru;q=0.5", "ru"),
        ("uk", "ru"),
        ("fr", "en"),
        ("", "en"),
        (None, "en"),
        ("ru;q=0", "en"),
        ("ru;q=abc, en", "en"),
    ],
)
def test_accept_language_picks_the_most_wanted_language_i2v_speaks(
    header: str | None, language: str
) -> None:
    assert messages.from_accept_language(header) == language


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (b"%PDF-1.4 not a photo", "not_an_image"),
        (_png(8, 8), "photo_too_small"),
        (_png(40, 30)[:60], "photo_damaged"),
    ],
)
def test_intake_refusals_carry_a_code_and_read_in_russian_without_english(
    data: bytes, code: str
) -> None:
    with pytest.raises(InputError) as caught:
        check_photo(data, VideoConfig())
    assert caught.value.code == code
    russian = messages.explain(caught.value, "ru")
    assert russian and latin_phrases(russian) == []
    assert messages.explain(caught.value, "en") == str(caught.value)


def test_a_damaged_image_is_never_described_in_pillows_own_words() -> None:
    with pytest.raises(InputError) as caught:
        check_photo(_png(40, 30)[:60], VideoConfig())
    assert str(caught.value) == "The image file is damaged or incomplete. Try sending it again."


def test_a_small_photo_is_refused_with_its_size_and_the_limit_in_both_languages() -> None:
    with pytest.raises(InputError) as caught:
        check_photo(_png(8, 8), VideoConfig(min_image_side=64))
    assert str(caught.value) == "The photo is 8×8; each side must be at least 64 pixels."
    assert messages.explain(caught.value, "ru") == (
        "Фото размером 8×8, а каждая сторона должна быть не меньше 64 пикс."
    )


def test_a_large_file_is_refused_with_russian_numbers() -> None:
    with pytest.raises(InputError) as caught:
        check_photo(b"x" * (3 * 1024 * 1024), VideoConfig(max_image_bytes=2 * 1024 * 1024))
    assert messages.explain(caught.value, "ru") == "Фото весит 3,0 МБ, а можно не больше 2,0 МБ."


def test_unusable_options_are_refused_with_a_code_in_both_languages() -> None:
    with pytest.raises(InputError) as caught:
        VideoConfig().complete(JobSpec(duration_seconds=30.5))
    assert caught.value.code == "duration_out_of_range"
    assert str(caught.value) == "The video length must be between 1 and 10 seconds (got 30.5)."
    assert messages.explain(caught.value, "ru") == (
        "Длина видео должна быть от 1 до 10 с (указано 30,5)."
    )


def test_an_input_error_without_a_code_is_said_generally_in_russian_and_as_is_in_english() -> None:
    plain = InputError("the tripod is missing")
    assert messages.explain(plain, "en") == "the tripod is missing"
    assert messages.explain(plain, "ru") == messages.text("invalid_input", "ru")
