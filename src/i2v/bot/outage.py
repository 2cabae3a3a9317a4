"""What the bot says while its database is away, instead of staying silent.

A photo is kept and queued later (:mod:`i2v.bot.backlog`); every other request
that needs the store (/status, /cancel, /settings, buttons) gets one sentence
in the user's language asking them to try again in a minute. The bot itself
keeps polling Telegram all the while.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Dispatcher
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from i2v.bot.locale import language_for
from i2v.errors import StoreUnavailable

log = logging.getLogger(__name__)


def try_again_text() -> str:
    """The answer to a request the outage stopped, in the current locale."""
    return _(
        "The service is briefly unavailable: its database cannot be reached. "
        "Please try again in a minute."
    )


def photo_kept_text() -> str:
    """The answer to a photo kept for later, in the current locale."""
    return _(
        "The service is briefly unavailable, but your photo is saved: I will start on it "
        "as soon as I can and send the video here."
    )


def install_outage_replies(dispatcher: Dispatcher, i18n: I18n) -> None:
    """Answer any update whose handler hit a database outage with "try again in a minute"."""

    async def on_outage(event: ErrorEvent, **_data: Any) -> None:
        update = event.update
        log.warning("update %s: the database is unavailable: %s", update.update_id, event.exception)
        source = update.message or update.callback_query
        user = source.from_user if source is not None else None
        language = language_for(user.language_code if user else None)
        # The failed handler's locale ended with it; set the user's again for this answer.
        with i18n.context(), i18n.use_locale(language):
            text = try_again_text()
            if update.message is not None:
                await update.message.reply(text)
            elif update.callback_query is not None:
                await update.callback_query.answer(text, show_alert=True)

    dispatcher.errors.register(on_outage, ExceptionTypeFilter(StoreUnavailable))
