"""A local HTTP server that speaks enough of the Telegram Bot API to run the real bot against.

It runs aiohttp in its own thread, so the bot under test (in-process or a
subprocess) talks real HTTP to it: aiogram's session, multipart uploads and
error mapping all run. Tests act as users (send a photo, press a button,
delete a message), script failures (429 with retry_after, "message is not
modified", "message to edit not found"), and read back every call it got.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from PIL import Image

from bot_api_methods import BotApiMethods
from bot_api_records import (
    BOT_ID,
    TOKEN,
    Call,
    ChatMessage,
    FakeUser,
    Upload,
    _caption,
    _error,
    _Failure,
)

__all__ = ["BOT_ID", "TOKEN", "Call", "ChatMessage", "FakeBotApi", "FakeUser", "Upload"]


class FakeBotApi(BotApiMethods):
    """The server. Use as a context manager, or call :meth:`start` and :meth:`stop`."""

    def __init__(self, token: str = TOKEN, host: str = "127.0.0.1") -> None:
        self.token = token
        #: The address it listens on (a test network may need one other than loopback).
        self.host = host
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._files: dict[str, tuple[str, bytes]] = {}
        self._messages: dict[int, dict[int, ChatMessage]] = {}
        self._next_message_id: dict[int, int] = {}
        self._uploads: list[Upload] = []
        self._failures: list[_Failure] = []
        self._photo_sizes: dict[int, list[dict[str, Any]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        #: What the bot registered with setWebhook (url, secret_token), None while it polls.
        self.webhook: dict[str, Any] | None = None
        #: The command menus set with setMyCommands, by language code ("" for the default).
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.url = ""

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> FakeBotApi:
        """Serve on a free port of ``host`` in a background thread."""
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application(client_max_size=200 * 1024 * 1024)
            app.router.add_post("/bot{token}/{method}", self._handle_method)
            app.router.add_get("/bot{token}/{method}", self._handle_method)
            app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
            self._runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, 0)
            loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.url = f"http://{self.host}:{port}"
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-bot-api", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        """Stop serving."""
        # A long poll still open would hold the shutdown until its timeout.
        self._stopping = True
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- acting as users --------------------------------------------------------------

    def send_photo(self, user: FakeUser, image: bytes, *, caption: str | None = None) -> int:
        """The user sends a photo; Telegram offers it in three sizes, the largest being ``image``."""
        key = hash(image)
        if key not in self._photo_sizes:
            # Telegram stores a photo once and hands every sender the same sizes; so do we,
            # which keeps a burst of senders as fast as real clients.
            self._photo_sizes[key] = self._make_sizes(image)
        return self._user_message(user, {"photo": self._photo_sizes[key], **_caption(caption)})

    def _make_sizes(self, image: bytes) -> list[dict[str, Any]]:
        sizes = []
        with Image.open(io.BytesIO(image)) as full:
            width, height = full.size
            for side in (90, 320):
                small = full.convert("RGB")
                small.thumbnail((side, side))
                buffer = io.BytesIO()
                small.save(buffer, "JPEG")
                sizes.append(self._photo_size(buffer.getvalue(), *small.size))
        sizes.append(self._photo_size(image, width, height))
        return sizes

    def send_document(
        self,
        user: FakeUser,
        data: bytes,
        *,
        file_name: str,
        mime_type: str,
        caption: str | None = None,
        file_size: int | None = None,
    ) -> int:
        """The user sends a file; ``file_size`` may claim a size other than the real one."""
        file_id = self.add_file(data, file_name)
        document = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(data) if file_size is None else file_size,
        }
        return self._user_message(user, {"document": document, **_caption(caption)})

    def send_text(self, user: FakeUser, text: str) -> int:
        """The user sends a text message (a /command when it starts with a slash)."""
        extra: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            extra["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self._user_message(user, extra)

    def send_sticker(self, user: FakeUser, emoji: str = "👍") -> int:
        """The user sends a sticker."""
        sticker = {
            "file_id": f"sticker{next(self._file_ids)}",
            "file_unique_id": "sticker",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._user_message(user, {"sticker": sticker})

    def press(self, user: FakeUser, message_id: int, data: str) -> str:
        """The user presses an inline button with ``data`` under the bot's message."""
        with self._lock:
            message = self._messages[user.id][message_id]
            query_id = f"q{next(self._update_ids)}"
            self._updates.append(
                {
                    "update_id": next(self._update_ids),
                    "callback_query": {
                        "id": query_id,
                        "from": user.as_json(),
                        "chat_instance": str(user.id),
                        "message": self._message_json(message),
                        "data": data,
                    },
                }
            )
        return query_id

    def delete_message(self, chat_id: int, message_id: int) -> None:
        """The user deletes a message in their chat."""
        with self._lock:
            self._messages[chat_id][message_id].deleted = True

    def take_updates(self) -> list[dict[str, Any]]:
        """Remove and return the updates waiting for the bot: what Telegram POSTs to a webhook."""
        with self._lock:
            updates, self._updates = self._updates, []
        return updates

    def add_file(self, data: bytes, name: str = "file") -> str:
        """Make ``data`` downloadable through getFile; return its file_id."""
        file_id = f"file{next(self._file_ids)}"
        with self._lock:
            self._files[file_id] = (f"documents/{file_id}_{name}", data)
        return file_id

    # --- scripting failures -------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        chat_id: int | None = None,
        status: int = 429,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (to ``chat_id``) with an error."""
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after}" if status == 429 else "Bad Request"
            )
        with self._lock:
            self._failures.append(
                _Failure(method, chat_id, status, description, retry_after, times)
            )

    # --- reading back ---------------------------------------------------------------------

    def calls(self, method: str | None = None, *, chat_id: int | None = None) -> list[Call]:
        """Every call the bot made, oldest first, filtered by method and chat."""
        with self._lock:
            return [
                call
                for call in self._calls
                if (method is None or call.method == method)
                and (chat_id is None or call.chat_id == chat_id)
            ]

    def messages(self, chat_id: int, *, from_bot: bool = True) -> list[ChatMessage]:
        """Messages in a chat (the bot's by default), oldest first."""
        with self._lock:
            return [
                message
                for message in self._messages.get(chat_id, {}).values()
                if message.from_bot == from_bot
            ]

    def message(self, chat_id: int, message_id: int) -> ChatMessage:
        """One message."""
        with self._lock:
            return self._messages[chat_id][message_id]

    def uploads(self, chat_id: int | None = None) -> list[Upload]:
        """Videos and documents the bot sent, oldest first."""
        with self._lock:
            return [u for u in self._uploads if chat_id is None or u.chat_id == chat_id]

    def text_of(self, chat_id: int, message_id: int) -> str:
        """The current text of one message."""
        return str(self.message(chat_id, message_id).text)

    def first_message_id(self, chat_id: int, *, timeout: float = 60.0) -> int:
        """Wait for the bot's first message in a chat (the status reply) and return its id."""
        messages = self.wait_for(
            lambda: self.messages(chat_id), timeout=timeout, what="a status message"
        )
        return int(messages[0].message_id)

    def wait_for(
        self, condition: Callable[[], Any], *, timeout: float = 30.0, what: str = "condition"
    ) -> Any:
        """Poll ``condition`` until it returns something truthy; fail the test after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")

    # --- the HTTP side ------------------------------------------------------------------

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        with self._lock:
            found = [data for stored, data in self._files.values() if stored == path]
        if not found:
            return web.Response(status=404)
        return web.Response(body=found[0])

    async def _handle_method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params, files = await _read_params(request)
        call = Call(time.monotonic(), method, params, files)
        with self._lock:
            self._calls.append(call)
            failure = self._take_failure(method, call.chat_id)
        if failure is not None:
            call.status, call.retry_after = failure.status, failure.retry_after
            extra = {"retry_after": failure.retry_after} if failure.retry_after else None
            return _error(failure.status, failure.description, extra)
        if method == "getUpdates":
            if self.webhook is not None:
                call.status = 409
                return _error(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            return await self._get_updates(params)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        with self._lock:
            result = handler(params, files)
        if isinstance(result, web.Response):
            call.status = result.status
            return result
        return web.json_response({"ok": True, "result": result})

    def _take_failure(self, method: str, chat_id: int | None) -> _Failure | None:
        for failure in self._failures:
            if failure.method == method and failure.chat_id in (None, chat_id):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 2.0)
        while True:
            with self._lock:
                # Telegram forgets updates below the offset the bot confirmed.
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                ready = list(self._updates)
            if ready or self._stopping or time.monotonic() >= deadline:
                return web.json_response({"ok": True, "result": ready})
            await asyncio.sleep(0.02)

    # --- building Telegram objects ------------------------------------------------------

    def _photo_size(self, data: bytes, width: int, height: int) -> dict[str, Any]:
        file_id = self.add_file(data, "photo.jpg")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "width": width,
            "height": height,
            "file_size": len(data),
        }

    def _user_message(self, user: FakeUser, content: dict[str, Any]) -> int:
        with self._lock:
            message = self._new_message(user.id, from_bot=False)
            message.text = content.get("text")
            body = {**self._message_json(message), "from": user.as_json(), **content}
            body["chat"]["first_name"] = user.first_name
            self._updates.append({"update_id": next(self._update_ids), "message": body})
        return message.message_id

    def _new_message(self, chat_id: int, *, from_bot: bool) -> ChatMessage:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        message = ChatMessage(message_id, chat_id, from_bot)
        self._messages.setdefault(chat_id, {})[message_id] = message
        return message

    def _message_json(self, message: ChatMessage) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": {"id": message.chat_id, "type": "private"},
        }
        if message.from_bot:
            body["from"] = {"id": BOT_ID, "is_bot": True, "first_name": "i2v"}
        if message.text is not None and message.kind == "text":
            body["text"] = message.text
        if message.reply_markup:
            body["reply_markup"] = message.reply_markup
        return body


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Read form fields (JSON-decoding objects) and uploaded files of a request."""
    params: dict[str, Any] = dict(request.query)
    files: dict[str, bytes] = {}
    if request.content_type.startswith("application/json"):
        params.update(await request.json())
        return params, files
    form = await request.post()
    for key, value in form.items():
        if isinstance(value, web.FileField):
            files[key] = value.file.read()
        elif isinstance(value, str) and value[:1] in "{[":
            params[key] = json.loads(value)
        else:
            params[key] = value
    return params, files
