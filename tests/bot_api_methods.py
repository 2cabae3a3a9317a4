"""The Bot API methods the fake server answers, each as Telegram would (see fake_bot_api.py).

A mixin of :class:`fake_bot_api.FakeBotApi`: each ``_api_<method>`` runs under the
server's lock and returns the ``result`` of a successful answer.
"""

from __future__ import annotations

from typing import Any

from bot_api_records import BOT_ID, Upload, _attached, _error, _reply_to


class BotApiMethods:
    """Handlers of the Bot API methods, one per method name."""

    def _api_getMe(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        return {"id": BOT_ID, "is_bot": True, "first_name": "i2v", "username": "i2v_test_bot"}

    def _api_setWebhook(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        self.webhook = {"url": params["url"], "secret_token": params.get("secret_token")}
        return True

    def _api_deleteWebhook(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        self.webhook = None
        return True

    def _api_setMyCommands(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        commands = params["commands"]
        if not isinstance(commands, list) or not all(
            isinstance(c, dict) and c.get("command") and c.get("description") for c in commands
        ):
            return _error(400, "Bad Request: can't parse BotCommand")
        self.commands[str(params.get("language_code") or "")] = commands  # type: ignore[attr-defined]
        return True

    def _api_sendChatAction(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        return True

    def _api_answerCallbackQuery(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        return True

    def _api_getFile(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        file_id = params["file_id"]
        if file_id not in self._files:
            return _error(400, "Bad Request: invalid file_id")
        path, data = self._files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(data),
            "file_path": path,
        }

    def _api_sendMessage(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        chat_id = int(params["chat_id"])
        message = self._new_message(chat_id, from_bot=True)
        message.text = params["text"]
        message.reply_markup = params.get("reply_markup")
        message.reply_to = _reply_to(params)
        return self._message_json(message)

    def _api_editMessageText(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        message = self._messages.get(chat_id, {}).get(message_id)
        if message is None or message.deleted:
            return _error(400, "Bad Request: message to edit not found")
        markup = params.get("reply_markup")
        if message.text == params["text"] and message.reply_markup == markup:
            return _error(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message",
            )
        message.text = params["text"]
        message.reply_markup = markup
        message.edits += 1
        return self._message_json(message)

    def _api_deleteMessage(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        message = self._messages.get(int(params["chat_id"]), {}).get(int(params["message_id"]))
        if message is None or message.deleted:
            return _error(400, "Bad Request: message to delete not found")
        message.deleted = True
        return True

    def _api_sendVideo(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        return self._upload("sendVideo", "video", params, files)

    def _api_sendDocument(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        return self._upload("sendDocument", "document", params, files)

    def _upload(
        self, method: str, kind: str, params: dict[str, Any], files: dict[str, bytes]
    ) -> Any:
        chat_id = int(params["chat_id"])
        data = _attached(params.get(kind), files)
        if data is None:
            return _error(400, f"Bad Request: there is no {kind} in the request")
        message = self._new_message(chat_id, from_bot=True)
        message.kind = kind
        message.text = params.get("caption")
        message.reply_to = _reply_to(params)
        thumbnail = _attached(params.get("thumbnail"), files)
        self._uploads.append(Upload(chat_id, method, data, thumbnail, params, message.message_id))
        body = self._message_json(message)
        body[kind] = {
            "file_id": f"sent{message.message_id}",
            "file_unique_id": f"usent{message.message_id}",
            "file_size": len(data),
        }
        if kind == "video":
            body[kind].update(
                width=int(params.get("width") or 0),
                height=int(params.get("height") or 0),
                duration=int(params.get("duration") or 0),
            )
        return body
