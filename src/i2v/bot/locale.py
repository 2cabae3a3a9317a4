"""Languages: the gettext catalogues and choosing one per user.

A user's choice in /settings wins; otherwise Telegram's ``language_code``
picks Russian for ``ru`` (and the languages whose speakers usually read it)
and English for everyone else.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware

from i2v import messages
from i2v.errors import StoreUnavailable
from i2v.store import JobStore

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "i2v"
DEFAULT_LANGUAGE = "en"
#: Language codes shown in /settings, in that order.
LANGUAGES = ("en", "ru")


def build_i18n() -> I18n:
    """Load the compiled catalogues shipped with the package."""
    return I18n(path=LOCALES_DIR, default_locale=DEFAULT_LANGUAGE, domain=DOMAIN)


def language_for(language_code: str | None, saved: str | None = None) -> str:
    """The language to answer in: the saved choice, else one derived from Telegram's code."""
    if saved in LANGUAGES:
        return str(saved)
    return messages.language(language_code)


class LocaleMiddleware(I18nMiddleware):
    """Sets the locale of each update from the user's saved choice or their Telegram client."""

    def __init__(self, i18n: I18n, store: JobStore) -> None:
        super().__init__(i18n)
        self.store = store

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        """The language for this update's user."""
        user: User | None = data.get("event_from_user")
        if user is None:
            return DEFAULT_LANGUAGE
        try:
            prefs = await asyncio.to_thread(self.store.get_user_settings, str(user.id))
        except StoreUnavailable:
            prefs = {}  # the database is away: Telegram's language and the defaults will do
        data["user_prefs"] = prefs
        return language_for(user.language_code, prefs.get("language"))
