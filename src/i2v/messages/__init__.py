"""User-facing sentences about failures, in the user's language, keyed by stable codes.

One catalogue (:mod:`i2v.messages.catalogue`) serves the bot, the HTTP API, the
web page (through the API) and the CLI. Code raises
``refusal("photo_too_small", width=8, ...)``: an :class:`~i2v.errors.InputError`
whose English text is ready for logs and the CLI, and whose code and values let
every front end say it again in its reader's language with :func:`explain`.
"""

from __future__ import annotations

import string
from typing import Any

from i2v.errors import InputError
from i2v.jobs import Job
from i2v.messages import formats
from i2v.messages.catalogue import SENTENCES

LANGUAGES = ("en", "ru")
DEFAULT_LANGUAGE = "en"
#: Languages whose speakers are answered in Russian.
RUSSIAN_READERS = frozenset({"ru", "be", "uk", "kk", "ky", "uz", "tg"})


class _Formatter(string.Formatter):
    """``str.format`` that writes ``:mb``, ``:mp``, ``:num`` and ``:dec`` the language's way."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "mb":
            return formats.megabytes(float(value), self.lang)
        if format_spec == "mp":
            return formats.megapixels(float(value), self.lang)
        if format_spec == "num":
            return formats.number(float(value), self.lang)
        if format_spec == "dec":
            value = float(value)
            return formats.number(value, self.lang, 0 if value.is_integer() else 1)
        return str(super().format_field(value, format_spec))


def language(code: str | None) -> str:
    """The language i2v answers a reader of ``code`` in ("ru-RU" -> "ru", "de" -> "en")."""
    base = (code or "").strip().split("-")[0].split("_")[0].lower()
    return "ru" if base in RUSSIAN_READERS else DEFAULT_LANGUAGE


def from_accept_language(header: str | None) -> str:
    """The language for an HTTP ``Accept-Language`` header: its most wanted one i2v speaks."""
    best: tuple[float, int, str] | None = None
    for position, item in enumerate((header or "").split(",")):
        tag, _, params = item.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        base = tag.strip().split("-")[0].lower()
        if weight <= 0 or not base:
            continue
        spoken = "ru" if base in RUSSIAN_READERS else "en" if base == "en" else None
        if spoken and (best is None or (weight, -position) > (best[0], best[1])):
            best = (weight, -position, spoken)
    return best[2] if best else DEFAULT_LANGUAGE


def has(code: str) -> bool:
    """True when the catalogue has a sentence for ``code``."""
    return code in SENTENCES


def text(code: str, lang: str, /, **params: Any) -> str:
    """The sentence for ``code`` in ``lang`` (English if i2v does not speak it), filled in."""
    sentences = SENTENCES[code]
    template = sentences.get(lang) or sentences[DEFAULT_LANGUAGE]
    return _Formatter(lang if lang in sentences else DEFAULT_LANGUAGE).format(template, **params)


def refusal(code: str, /, **params: Any) -> InputError:
    """An InputError for catalogue ``code``: English text, plus the code and values to retell it."""
    return InputError(text(code, DEFAULT_LANGUAGE, **params), code=code, params=params)


def explain(exc: InputError, lang: str) -> str:
    """Say why input was refused in ``lang``; never a library's own words."""
    if exc.code and has(exc.code):
        try:
            return text(exc.code, lang, **exc.params)
        except (KeyError, IndexError, ValueError):
            pass  # a refusal raised without all its values: say the general sentence
    if lang == DEFAULT_LANGUAGE and str(exc):
        return str(exc)
    return text("invalid_input", lang)


def job_failure(code: str | None, lang: str, *, job_id: str, attempts: int = 1) -> str:
    """Why a job failed, as one or two sentences ending with its code and id."""
    code = code or "internal"
    key = f"job.{code}" if has(f"job.{code}") else "job.internal"
    sentence = text(key, lang, attempts=max(1, attempts))
    return f"{sentence} {text('job.reference', lang, code=code, job=job_id)}"


def job_failure_of(job: Job, lang: str) -> str:
    """:func:`job_failure` for an :class:`i2v.jobs.Job`."""
    code = job.error_code.value if job.error_code is not None else None
    return job_failure(code, lang, job_id=job.id, attempts=job.attempts)
