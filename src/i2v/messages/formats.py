"""Numbers, sizes, durations and times written the way each language writes them.

Russian writes "25,0 МБ" and "2 мин"; English "25.0 MB" and "2 min". Durations
never show a zero part ("2 min", not "2 m 0 s"), and an estimate is rounded to
what a person would say ("about 3 min", not "about 3 m 12 s").
"""

from __future__ import annotations

import math
from datetime import datetime

from babel.dates import format_datetime
from babel.numbers import format_decimal

#: Short unit names per language: hours, minutes, seconds, megabytes, megapixels.
_UNITS = {
    "en": {"h": "h", "min": "min", "s": "s", "mb": "MB", "mp": "MP"},
    "ru": {"h": "ч", "min": "мин", "s": "с", "mb": "МБ", "mp": "Мп"},
}
MB = 1024 * 1024


def units(lang: str) -> dict[str, str]:
    """The unit names of ``lang`` (English for a language i2v does not speak)."""
    return _UNITS.get(lang, _UNITS["en"])


def number(value: float, lang: str, decimals: int = 0) -> str:
    """A number with the language's decimal and grouping signs: 25.0 / 25,0."""
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return str(format_decimal(value, format=pattern, locale=lang))


def megabytes(size_bytes: float, lang: str) -> str:
    """A file size in megabytes (MiB) with one decimal: "25,0 МБ"."""
    return f"{number(size_bytes / MB, lang, 1)} {units(lang)['mb']}"


def megapixels(pixels: float, lang: str) -> str:
    """A pixel count in megapixels: "50 Мп", "2.1 MP", "0.05 MP"."""
    value = pixels / 1e6
    decimals = 0 if value >= 10 else 1 if value >= 1 else 2
    return f"{number(value, lang, decimals)} {units(lang)['mp']}"


def duration(seconds: float, lang: str) -> str:
    """A measured duration, exact to the second, with no zero parts: "3 min 12 s", "2 min"."""
    total = max(0, math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return _join(hours, minutes, secs if not hours else 0, lang)


def about(seconds: float, lang: str) -> str:
    """An estimate, rounded as a person would say it: "45 s", "3 min", "1 h 5 min"."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return _join(0, 0, max(5, 5 * math.ceil(seconds / 5)), lang)
    if seconds < 3600:
        return _join(0, max(1, round(seconds / 60)), 0, lang)
    minutes = round(seconds / 60)
    return _join(minutes // 60, minutes % 60, 0, lang)


def clock_time(moment: datetime, lang: str, *, now: datetime | None = None) -> str:
    """A moment in the machine's local time: "14:05" today, "7 дек., 14:05" on another day."""
    local = moment.astimezone()
    today = (now or datetime.now(local.tzinfo)).astimezone().date()
    pattern = "HH:mm" if local.date() == today else "d MMM, HH:mm"
    return str(format_datetime(local, pattern, locale=lang))


def _join(hours: int, minutes: int, secs: int, lang: str) -> str:
    names = units(lang)
    parts = [
        f"{value} {names[unit]}"
        for value, unit in ((hours, "h"), (minutes, "min"), (secs, "s"))
        if value
    ]
    return " ".join(parts) or f"0 {names['s']}"
