"""Inline keyboards and the callback data their buttons carry."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from i2v.bot.locale import LANGUAGES
from i2v.bot.preferences import DURATIONS, RESOLUTIONS, Preferences

LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}


class CancelJob(CallbackData, prefix="cancel"):
    """The Cancel button under a status message."""

    job_id: str


class ChangeSetting(CallbackData, prefix="set"):
    """One choice in /settings: ``key`` is res, dur, lang or model."""

    key: str
    value: str


def cancel_keyboard(job_id: str) -> InlineKeyboardMarkup:
    """A single Cancel button for a job's status message."""
    button = InlineKeyboardButton(text=_("Cancel"), callback_data=CancelJob(job_id=job_id).pack())
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


def settings_keyboard(
    prefs: Preferences, defaults: Preferences, models: Sequence[str] = ()
) -> InlineKeyboardMarkup:
    """Rows of choices for resolution, duration, language and (when several) model."""
    builder = InlineKeyboardBuilder()
    resolution = prefs.resolution or defaults.resolution
    duration = prefs.duration_seconds or defaults.duration_seconds
    language = prefs.language or defaults.language
    model = prefs.model or defaults.model

    def add_row(key: str, values: Sequence[tuple[str, str]], current: str | None) -> None:
        builder.row(
            *(
                InlineKeyboardButton(
                    text=("✓ " if value == current else "") + label,
                    callback_data=ChangeSetting(key=key, value=value).pack(),
                )
                for value, label in values
            )
        )

    add_row(
        "res", [(r.value, r.value) for r in RESOLUTIONS], resolution.value if resolution else None
    )
    add_row(
        "dur",
        [(f"{d:g}", _("{s:g} s").format(s=d)) for d in DURATIONS],
        f"{duration:g}" if duration else None,
    )
    add_row("lang", [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES], language)
    if len(models) > 1:
        # Buttons carry the model's index: names may hold ":" or be too long for callback data.
        current = str(models.index(model)) if model in models else None
        add_row("model", [(str(i), name) for i, name in enumerate(models)], current)
    return builder.as_markup()
