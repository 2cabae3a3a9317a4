"""/settings: resolution, duration, language (and model), saved per user in the store."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from i2v.bot.keyboards import ChangeSetting, settings_keyboard
from i2v.bot.locale import language_for
from i2v.bot.options import BotOptions
from i2v.bot.preferences import Preferences, apply_choice
from i2v.config import Settings, VideoConfig
from i2v.store import JobStore


def _defaults(video: VideoConfig, language: str, settings: Settings) -> Preferences:
    return Preferences(video.resolution, video.duration_seconds, language, settings.model)


def settings_text(models: Sequence[str]) -> str:
    """The text above the settings keyboard."""
    if len(models) > 1:
        return _("Settings for your next videos: resolution, length, language and model.")
    return _("Settings for your next videos: resolution, length and language.")


async def on_settings(
    message: Message,
    settings: Settings,
    video: VideoConfig,
    options: BotOptions,
    i18n: I18n,
    user_prefs: dict[str, Any],
) -> None:
    """Show the settings keyboard with the current choices ticked."""
    prefs = Preferences.from_dict(user_prefs).offered(options.models)
    defaults = _defaults(video, i18n.current_locale, settings)
    keyboard = settings_keyboard(prefs, defaults, options.models)
    await message.answer(settings_text(options.models), reply_markup=keyboard)


async def on_change(
    query: CallbackQuery,
    callback_data: ChangeSetting,
    store: JobStore,
    settings: Settings,
    video: VideoConfig,
    options: BotOptions,
    i18n: I18n,
    user_prefs: dict[str, Any],
) -> None:
    """Save one choice, and redraw the keyboard (in the new language if that changed)."""
    value = callback_data.value
    if callback_data.key == "model":
        index = int(value) if value.isdigit() else -1
        value = options.models[index] if 0 <= index < len(options.models) else ""
    try:
        prefs = apply_choice(Preferences.from_dict(user_prefs), callback_data.key, value)
    except ValueError:
        await query.answer(_("That button is out of date; send /settings again."))
        return
    await asyncio.to_thread(store.put_user_settings, str(query.from_user.id), prefs.to_dict())
    language = language_for(query.from_user.language_code, prefs.language)
    with i18n.use_locale(language):
        defaults = _defaults(video, language, settings)
        keyboard = settings_keyboard(prefs.offered(options.models), defaults, options.models)
        await query.answer(_("Saved. Your next video will use it."))
        if isinstance(query.message, Message):
            try:
                await query.message.edit_text(settings_text(options.models), reply_markup=keyboard)
            except TelegramBadRequest as exc:
                if "message is not modified" not in exc.message:
                    raise


def build_router() -> Router:
    """A fresh router with this feature's handlers (a router can join only one dispatcher)."""
    router = Router(name="preferences")
    router.message.register(on_settings, Command("settings"))
    router.callback_query.register(on_change, ChangeSetting.filter())
    return router
