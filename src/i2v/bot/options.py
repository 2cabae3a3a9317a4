"""Knobs of the bot process that are not user-facing settings (timings, budgets)."""

from __future__ import annotations

from dataclasses import dataclass

#: Telegram's Bot API refuses to hand bots files larger than this.
BOT_API_DOWNLOAD_LIMIT = 20 * 1024 * 1024


@dataclass(frozen=True)
class BotOptions:
    """How often the notifier looks, how fast it may talk, how long uploads may take."""

    #: Seconds between two reads of the store by the notifier.
    poll_seconds: float = 1.0
    #: Least seconds between two edits of one status message (Telegram's advice).
    edit_interval_seconds: float = 3.0
    #: Message-sending calls per second, all chats together; Telegram's ceiling is about 30.
    messages_per_second: float = 25.0
    #: Seconds a video upload may take before it counts as failed (default API: 50 MB).
    upload_timeout_seconds: int = 300
    #: Videos uploaded at the same time.
    parallel_uploads: int = 4
    #: Largest file the bot will download (the Bot API's own limit).
    max_download_bytes: int = BOT_API_DOWNLOAD_LIMIT
    #: Models offered in /settings (empty: I2V_TELEGRAM_MODELS); a choice only when several.
    models: tuple[str, ...] = ()
    #: Seconds of 409 Conflict answers to getUpdates (another bot polls the token) before stopping.
    conflict_patience_seconds: float = 20.0
