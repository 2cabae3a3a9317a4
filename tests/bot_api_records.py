"""What the fake Bot API server records and the shapes it answers with (see fake_bot_api.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456789:AAH-fake-token-for-tests-only_0123456"
BOT_ID = 123456789


@dataclass(frozen=True)
class FakeUser:
    """A Telegram user; their private chat has the same id."""

    id: int
    language_code: str = "en"
    first_name: str = "Tester"

    def as_json(self) -> dict[str, Any]:
        """The ``User`` object Telegram would send."""
        return {
            "id": self.id,
            "is_bot": False,
            "first_name": self.first_name,
            "language_code": self.language_code,
        }


@dataclass
class Call:
    """One request the bot made."""

    at: float
    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    #: The HTTP status the fake answered with (429 and 400 when scripted or refused).
    status: int = 200
    retry_after: int | None = None

    @property
    def chat_id(self) -> int | None:
        """The chat the call addressed, if any."""
        value = self.params.get("chat_id")
        return None if value is None else int(value)


@dataclass
class ChatMessage:
    """A message in a chat, as the fake server keeps it."""

    message_id: int
    chat_id: int
    from_bot: bool
    text: str | None = None
    reply_markup: dict[str, Any] | None = None
    reply_to: int | None = None
    kind: str = "text"
    deleted: bool = False
    edits: int = 0

    def button_data(self) -> list[str]:
        """The callback data of every inline button on the message."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button.get("callback_data", "") for row in rows for button in row]


@dataclass
class Upload:
    """A video or document the bot uploaded."""

    chat_id: int
    method: str
    data: bytes
    thumbnail: bytes | None
    params: dict[str, Any]
    message_id: int


@dataclass
class _Failure:
    method: str
    chat_id: int | None
    status: int
    description: str
    retry_after: int | None
    times: int


def _attached(value: Any, files: dict[str, bytes]) -> bytes | None:
    if isinstance(value, str) and value.startswith("attach://"):
        return files.get(value.removeprefix("attach://"))
    return None


def _reply_to(params: dict[str, Any]) -> int | None:
    reply = params.get("reply_parameters")
    if isinstance(reply, dict):
        return int(reply["message_id"])
    if params.get("reply_to_message_id"):
        return int(params["reply_to_message_id"])
    return None


def _caption(caption: str | None) -> dict[str, Any]:
    return {} if caption is None else {"caption": caption}


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)
