"""The Bot API methods Lianka uses, with Telegram's checks and Telegram's error wording."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.faults import SENDING_METHODS
from sandbox.telegram_html import EntityParseError, check_entities, parse_html
from sandbox.world import (
    DEFAULT_UPDATE_TYPES,
    MAX_CALLBACK_DATA,
    MAX_CAPTION,
    MAX_TEXT,
    BotAccount,
    Chat,
    StoredFile,
    StoredMessage,
    WebhookConfig,
    World,
    commands_key,
)

MAX_UPLOAD = 50 * 1024 * 1024
MAX_DOWNLOAD = 20 * 1024 * 1024
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_MEDIA_KINDS = ("photo", "document", "voice", "video", "audio", "animation")


class ApiError(Exception):
    """An unsuccessful Bot API answer."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


class Params:
    """A method's parameters as they arrive: strings from a query or a form, or JSON values."""

    def __init__(
        self, values: Mapping[str, Any], uploads: Mapping[str, Upload] | None = None
    ) -> None:
        self.values = dict(values)
        self.uploads = dict(uploads or {})

    def raw(self, name: str) -> Any:
        value = self.values.get(name)
        return None if value == "" else value

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.raw(name)
        if value is None:
            if required:
                raise bad_request(f"{name} is empty")
            return None
        if isinstance(value, (dict, list)):
            raise bad_request(f'field "{name}" must be of type String')
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str, *, required: bool = False) -> int | None:
        value = self.raw(name)
        if value is None:
            if required:
                raise bad_request(f"{name} is empty")
            return None
        if isinstance(value, bool):
            raise bad_request(f'field "{name}" must be of type Integer')
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f'field "{name}" must be of type Integer') from None

    def flag(self, name: str) -> bool:
        value = self.raw(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def json(self, name: str, error: str) -> Any:
        value = self.raw(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(error) from None
        return value


class BotApi:
    """Runs one method for one bot against the world; raises :class:`ApiError` like Telegram."""

    def __init__(
        self,
        world: World,
        *,
        on_webhook_change: Callable[[BotAccount], None],
    ) -> None:
        self.world = world
        self._on_webhook_change = on_webhook_change
        self._methods: dict[str, Callable[[BotAccount, Params], Awaitable[Any]]] = {}
        for name in dir(self):
            if name.startswith("m_"):
                method = name[2:]
                self._methods[method.lower()] = getattr(self, name)

    def canonical(self, method: str) -> str | None:
        """The method's Bot API spelling, or None for a method the sandbox does not speak."""
        handler = self._methods.get(method.lower())
        return handler.__name__[2:] if handler else None

    async def call(self, bot: BotAccount, method: str, params: Params) -> Any:
        handler = self._methods.get(method.lower())
        if handler is None:
            raise ApiError(404, "Not Found: method not found")
        name = handler.__name__[2:]
        if name in SENDING_METHODS:
            chat_ids = [self._chat_id(params)]
            retry_after = bot.flood.retry_after(chat_ids)
            if retry_after is not None:
                raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
            result = await handler(bot, params)
            bot.flood.record(chat_ids)
            return result
        return await handler(bot, params)

    @staticmethod
    def _chat_id(params: Params) -> int:
        value = params.raw("chat_id")
        try:
            return int(value)
        except (TypeError, ValueError):
            return 0

    # --- helpers ----------------------------------------------------------------------------

    def target(self, bot: BotAccount, params: Params, name: str = "chat_id") -> Chat:
        """The private chat a method writes to, refused the way Telegram refuses it."""
        value = params.raw(name)
        if value is None:
            raise bad_request(f"{name} is empty")
        user = None
        if isinstance(value, str) and value.startswith("@"):
            user = next((u for u in self.world.users.values() if u.username == value[1:]), None)
        else:
            try:
                user = self.world.users.get(int(value))
            except (TypeError, ValueError):
                user = None
        if user is None:
            raise bad_request("chat not found")
        chat = bot.chats.get(user.id)
        if chat is None or not chat.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    @staticmethod
    def formatted(
        params: Params, text_field: str, entities_field: str, limit: int, *, required: bool
    ) -> tuple[str, list[dict[str, Any]]] | None:
        """Text (or caption) after parse mode, and its entities; Telegram's length limits."""
        text = params.text(text_field)
        if text is None:
            if required:
                raise bad_request("message text is empty")
            return None
        parse_mode = params.text("parse_mode")
        entities: list[dict[str, Any]] = []
        if parse_mode:
            if parse_mode.lower() == "html":
                try:
                    text, entities = parse_html(text)
                except EntityParseError as error:
                    raise bad_request(f"can't parse entities: {error}") from None
            elif parse_mode.lower() in ("markdown", "markdownv2"):
                raise bad_request("the sandbox speaks parse_mode HTML only")
            else:
                raise bad_request("unsupported parse_mode")
        else:
            given = params.json(entities_field, f"can't parse {entities_field} JSON object")
            if given is not None:
                try:
                    entities = check_entities(text, given)
                except EntityParseError as error:
                    raise bad_request(f"can't parse entities: {error}") from None
            text = text.strip()
        if not text:
            if required:
                raise bad_request("message text is empty")
            return None
        if len(text) > limit:
            raise bad_request(
                "message is too long" if text_field == "text" else "message caption is too long"
            )
        return text, entities

    @staticmethod
    def markup(params: Params) -> dict[str, Any] | None:
        """The reply_markup, checked as Telegram checks buttons."""
        markup = params.json("reply_markup", "can't parse reply keyboard markup JSON object")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise bad_request("can't parse inline keyboard markup JSON object")
            for row in rows:
                for button in row:
                    _check_inline_button(button)
            return {"inline_keyboard": rows}
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise bad_request("can't parse keyboard markup JSON object")
            for row in rows:
                for button in row:
                    text = button if isinstance(button, str) else (button or {}).get("text")
                    if not isinstance(text, str) or not text:
                        raise bad_request("keyboard button text must be non-empty")
            return markup
        if markup.get("remove_keyboard") or markup.get("force_reply"):
            return markup
        raise bad_request("can't parse reply keyboard markup JSON object")

    def input_file(self, params: Params, name: str, kind: str) -> StoredFile:
        """A file given as an upload (``attach://`` or the field itself) or by file_id."""
        upload = params.uploads.get(name)
        value = params.raw(name)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = params.uploads.get(value.removeprefix("attach://"))
            if upload is None:
                raise bad_request(f"file {value} was not found in the request")
        if upload is not None:
            if len(upload.data) > MAX_UPLOAD:
                raise ApiError(413, "Request Entity Too Large")
            if not upload.data:
                raise bad_request("file must be non-empty")
            return self.world.store_file(
                upload.data,
                kind,
                file_name=upload.filename,
                mime_type=upload.content_type
                if upload.content_type not in (None, "application/octet-stream")
                else None,
            )
        if not isinstance(value, str):
            raise bad_request(f"there is no {name} in the request")
        if value.startswith(("http://", "https://")):
            raise bad_request("wrong file identifier/HTTP URL specified")
        stored = self.world.files.get(value)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if stored.kind != kind and not (kind == "document" and stored.kind != "photo"):
            raise bad_request(
                f"can't use file of type {stored.kind.capitalize()} as {kind.capitalize()}"
            )
        return stored

    def own_message(self, bot: BotAccount, params: Params, verb: str) -> tuple[Chat, StoredMessage]:
        if params.raw("inline_message_id") is not None:
            raise bad_request("the sandbox has no inline messages")
        chat = self.target(bot, params)
        message_id = params.integer("message_id", required=True)
        assert message_id is not None
        message = chat.message(message_id)
        if message is None:
            raise bad_request(f"message to {verb} not found")
        if not message.from_bot:
            raise bad_request(f"message can't be {verb}ed")
        return chat, message

    def _send(
        self,
        bot: BotAccount,
        chat: Chat,
        content: dict[str, Any],
        params: Params,
    ) -> dict[str, Any]:
        markup = self.markup(params)
        if params.raw("protect_content") is not None and params.flag("protect_content"):
            content["has_protected_content"] = True
        content |= self._reply_to(chat, params)
        message = self.world.add_message(chat, from_bot=True, content=content, reply_markup=markup)
        return message.as_api()

    @staticmethod
    def _reply_to(chat: Chat, params: Params) -> dict[str, Any]:
        """``reply_parameters`` (or the older ``reply_to_message_id``) quote a message of the chat."""
        reply = params.json("reply_parameters", "can't parse reply parameters JSON object")
        if reply is None and params.raw("reply_to_message_id") is not None:
            reply = {"message_id": params.integer("reply_to_message_id")}
        if reply is None:
            return {}
        if not isinstance(reply, dict) or not isinstance(reply.get("message_id"), int):
            raise bad_request("can't parse reply parameters JSON object")
        target = chat.message(reply["message_id"])
        if target is None:
            if reply.get("allow_sending_without_reply"):
                return {}
            raise bad_request("message to be replied not found")
        return {"reply_to_message": target.quoted()}

    # --- identity and updates ---------------------------------------------------------------

    async def m_getMe(self, bot: BotAccount, params: Params) -> Any:
        return bot.as_user() | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def m_logOut(self, bot: BotAccount, params: Params) -> Any:
        return True

    async def m_close(self, bot: BotAccount, params: Params) -> Any:
        return True

    async def m_getUpdates(self, bot: BotAccount, params: Params) -> Any:
        if bot.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.integer("offset") or 0
        limit = min(max(params.integer("limit") or 100, 1), 100)
        timeout = max(params.integer("timeout") or 0, 0)
        allowed = params.json("allowed_updates", "can't parse allowed_updates JSON object")
        if allowed is not None:
            self._allow(bot, allowed)
        if offset > 0:
            bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
        elif offset < 0:
            bot.updates = bot.updates[offset:]
        self._terminate_poller(bot)
        poller: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        bot.poller = poller
        if not bot.updates and timeout > 0:
            self.world.touch()
            await self.world.wait(lambda: bool(bot.updates) or poller.done(), timeout)
        if poller.done():
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        poller.set_result(None)
        return bot.updates[:limit]

    @staticmethod
    def _allow(bot: BotAccount, allowed: Any) -> None:
        """New allowed_updates apply to what is already queued too."""
        if not isinstance(allowed, list) or not all(isinstance(kind, str) for kind in allowed):
            raise bad_request("can't parse allowed_updates JSON object")
        bot.allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES
        bot.updates = [u for u in bot.updates if _allowed(u, bot.allowed_updates)]

    def _terminate_poller(self, bot: BotAccount) -> None:
        """A waiting getUpdates is answered 409, as when a second instance polls the same bot."""
        if bot.poller is not None and not bot.poller.done():
            bot.poller.set_result(None)
            self.world.touch()

    async def m_setWebhook(self, bot: BotAccount, params: Params) -> Any:
        url = params.text("url")
        if not url:
            return await self.m_deleteWebhook(bot, params)
        if not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.text("secret_token")
        if secret is not None and (
            not 1 <= len(secret) <= 256
            or any(not (c.isascii() and (c.isalnum() or c in "_-")) for c in secret)
        ):
            raise bad_request("secret token contains unallowed characters")
        max_connections = params.integer("max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        allowed = params.json("allowed_updates", "can't parse allowed_updates JSON object")
        if allowed is not None:
            self._allow(bot, allowed)
        if params.flag("drop_pending_updates"):
            bot.updates.clear()
        bot.webhook = WebhookConfig(url=url, secret_token=secret, max_connections=max_connections)
        self._terminate_poller(bot)
        self._on_webhook_change(bot)
        return True

    async def m_deleteWebhook(self, bot: BotAccount, params: Params) -> Any:
        if params.flag("drop_pending_updates"):
            bot.updates.clear()
        bot.webhook = None
        self._on_webhook_change(bot)
        return True

    async def m_getWebhookInfo(self, bot: BotAccount, params: Params) -> Any:
        webhook = bot.webhook
        info: dict[str, Any] = {
            "url": webhook.url if webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(bot.updates),
        }
        if webhook is not None:
            info["max_connections"] = webhook.max_connections
            info["allowed_updates"] = sorted(bot.allowed_updates)
            if webhook.last_error_date is not None:
                info["last_error_date"] = webhook.last_error_date
                info["last_error_message"] = webhook.last_error_message
        return info

    # --- sending ----------------------------------------------------------------------------

    async def m_sendMessage(self, bot: BotAccount, params: Params) -> Any:
        chat = self.target(bot, params)
        formatted = self.formatted(params, "text", "entities", MAX_TEXT, required=True)
        assert formatted is not None
        text, entities = formatted
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._send(bot, chat, content, params)

    async def _send_media(self, bot: BotAccount, params: Params, kind: str) -> Any:
        chat = self.target(bot, params)
        stored = self.input_file(params, kind, kind)
        content: dict[str, Any] = {kind: stored.as_media()}
        content |= self._caption(params)
        duration = params.integer("duration")
        if duration and kind in ("voice", "audio", "video"):
            stored.duration = duration
            content[kind] = stored.as_media()
        return self._send(bot, chat, content, params)

    def _caption(self, params: Params) -> dict[str, Any]:
        formatted = self.formatted(
            params, "caption", "caption_entities", MAX_CAPTION, required=False
        )
        if formatted is None:
            return {}
        caption, entities = formatted
        content: dict[str, Any] = {"caption": caption}
        if entities:
            content["caption_entities"] = entities
        return content

    async def m_sendPhoto(self, bot: BotAccount, params: Params) -> Any:
        return await self._send_media(bot, params, "photo")

    async def m_sendDocument(self, bot: BotAccount, params: Params) -> Any:
        return await self._send_media(bot, params, "document")

    async def m_sendVoice(self, bot: BotAccount, params: Params) -> Any:
        return await self._send_media(bot, params, "voice")

    async def m_sendVideo(self, bot: BotAccount, params: Params) -> Any:
        return await self._send_media(bot, params, "video")

    async def m_sendAudio(self, bot: BotAccount, params: Params) -> Any:
        return await self._send_media(bot, params, "audio")

    async def m_sendAnimation(self, bot: BotAccount, params: Params) -> Any:
        return await self._send_media(bot, params, "animation")

    async def m_sendContact(self, bot: BotAccount, params: Params) -> Any:
        chat = self.target(bot, params)
        contact: dict[str, Any] = {
            "phone_number": params.text("phone_number", required=True),
            "first_name": params.text("first_name", required=True),
        }
        if params.text("last_name"):
            contact["last_name"] = params.text("last_name")
        return self._send(bot, chat, {"contact": contact}, params)

    async def m_sendMediaGroup(self, bot: BotAccount, params: Params) -> Any:
        chat = self.target(bot, params)
        media = params.json("media", "can't parse media JSON object")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise bad_request("wrong number of messages in the album: must be between 2 and 10")
        group_id = str(time.time_ns())
        stored_items: list[tuple[str, StoredFile, dict[str, Any]]] = []
        for item in media:
            if not isinstance(item, dict) or item.get("type") not in (
                "photo",
                "document",
                "video",
                "audio",
            ):
                raise bad_request("can't parse InputMedia JSON object")
            kind = str(item["type"])
            item_params = Params(item, params.uploads)
            stored = self.input_file(item_params, "media", kind)
            caption = self._caption(Params({k: v for k, v in item.items() if k != "media"}))
            stored_items.append((kind, stored, caption))
        messages = []
        for kind, stored, caption in stored_items:
            content = {kind: stored.as_media(), "media_group_id": group_id, **caption}
            messages.append(self.world.add_message(chat, from_bot=True, content=content).as_api())
        return messages

    async def m_copyMessage(self, bot: BotAccount, params: Params) -> Any:
        source = self._source(bot, params)
        chat = self.target(bot, params)
        content = {
            k: v for k, v in source.content.items() if k not in ("caption", "caption_entities")
        }
        if params.raw("caption") is not None:
            content |= self._caption(params)
        else:
            content |= {
                k: v for k, v in source.content.items() if k in ("caption", "caption_entities")
            }
        markup = self.markup(params)
        message = self.world.add_message(chat, from_bot=True, content=content, reply_markup=markup)
        return {"message_id": message.message_id}

    async def m_forwardMessage(self, bot: BotAccount, params: Params) -> Any:
        source = self._source(bot, params)
        chat = self.target(bot, params)
        origin: dict[str, Any] = {"type": "user", "date": source.date, "sender_user": source.sender}
        content = dict(source.content) | {"forward_origin": origin}
        return self.world.add_message(chat, from_bot=True, content=content).as_api()

    def _source(self, bot: BotAccount, params: Params) -> StoredMessage:
        source_chat = self.target(bot, params, "from_chat_id")
        message_id = params.integer("message_id", required=True)
        assert message_id is not None
        source = source_chat.message(message_id)
        if source is None:
            raise bad_request("message to copy not found")
        return source

    async def m_sendChatAction(self, bot: BotAccount, params: Params) -> Any:
        chat = self.target(bot, params)
        action = params.text("action", required=True)
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        chat.action = (action, self.world.monotonic())
        self.world.touch(chat)
        return True

    # --- editing ----------------------------------------------------------------------------

    async def m_editMessageText(self, bot: BotAccount, params: Params) -> Any:
        chat, message = self.own_message(bot, params, "edit")
        if "text" not in message.content:
            raise bad_request("there is no text in the message to edit")
        formatted = self.formatted(params, "text", "entities", MAX_TEXT, required=True)
        assert formatted is not None
        text, entities = formatted
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._edit(chat, message, content, self.markup(params))

    async def m_editMessageCaption(self, bot: BotAccount, params: Params) -> Any:
        chat, message = self.own_message(bot, params, "edit")
        if not any(kind in message.content for kind in _MEDIA_KINDS):
            raise bad_request("there is no caption in the message to edit")
        content = {
            k: v for k, v in message.content.items() if k not in ("caption", "caption_entities")
        }
        content |= self._caption(params)
        return self._edit(chat, message, content, self.markup(params))

    async def m_editMessageReplyMarkup(self, bot: BotAccount, params: Params) -> Any:
        chat, message = self.own_message(bot, params, "edit")
        return self._edit(chat, message, dict(message.content), self.markup(params))

    def _edit(
        self,
        chat: Chat,
        message: StoredMessage,
        content: dict[str, Any],
        markup: dict[str, Any] | None,
    ) -> Any:
        if markup is not None and "inline_keyboard" not in markup:
            raise bad_request("inline keyboard expected")
        if not message.inline_keyboard and markup is not None and not markup["inline_keyboard"]:
            markup = None
        old_markup = message.reply_markup if message.inline_keyboard else None
        if content == message.content and markup == old_markup:
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        message.content = content
        message.reply_markup = markup
        message.edit_date = int(time.time())
        self.world.touch(chat)
        return message.as_api()

    async def m_deleteMessage(self, bot: BotAccount, params: Params) -> Any:
        chat = self.target(bot, params)
        message_id = params.integer("message_id", required=True)
        assert message_id is not None
        message = chat.message(message_id)
        if message is None:
            raise bad_request("message to delete not found")
        message.deleted = True
        self.world.touch(chat)
        return True

    async def m_deleteMessages(self, bot: BotAccount, params: Params) -> Any:
        chat = self.target(bot, params)
        ids = params.json("message_ids", "can't parse message_ids JSON object")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message_ids must be a list of 1 to 100 identifiers")
        for message_id in ids:
            message = chat.message(int(message_id))
            if message is not None:
                message.deleted = True
        self.world.touch(chat)
        return True

    async def m_answerCallbackQuery(self, bot: BotAccount, params: Params) -> Any:
        query_id = params.text("callback_query_id", required=True)
        assert query_id is not None
        record = bot.callbacks.get(query_id)
        if record is None or record.answered:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = params.text("text") or ""
        if len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        record.answered = True
        record.answer = {
            "text": text,
            "show_alert": params.flag("show_alert"),
            "url": params.text("url"),
        }
        record.done.set()
        chat = bot.chats.get(record.user_id)
        if chat is not None:
            if text:
                chat.alerts.append(
                    {
                        "id": len(chat.alerts) + 1,
                        "callback_query_id": record.id,
                        "message_id": record.message_id,
                        "text": text,
                        "show_alert": record.answer["show_alert"],
                    }
                )
            self.world.touch(chat)
        return True

    # --- files ------------------------------------------------------------------------------

    async def m_getFile(self, bot: BotAccount, params: Params) -> Any:
        file_id = params.text("file_id", required=True)
        stored = self.world.files.get(file_id or "")
        if stored is None:
            raise bad_request("invalid file_id")
        if len(stored.data) > MAX_DOWNLOAD:
            raise bad_request("file is too big")
        return stored.as_file()

    # --- chat and bot settings --------------------------------------------------------------

    async def m_getChat(self, bot: BotAccount, params: Params) -> Any:
        value = params.raw("chat_id")
        try:
            user = self.world.users.get(int(value))
        except (TypeError, ValueError):
            user = None
        if user is None or user.id not in bot.chats:
            raise bad_request("chat not found")
        return user.as_chat() | {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }

    async def m_setMyCommands(self, bot: BotAccount, params: Params) -> Any:
        commands = params.json("commands", "can't parse commands JSON object")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands must be a list of at most 100 commands")
        for command in commands:
            name = command.get("command") if isinstance(command, dict) else None
            description = command.get("description") if isinstance(command, dict) else None
            if (
                not isinstance(name, str)
                or not 1 <= len(name) <= 32
                or any(
                    not (c.islower() or c.isdigit() or c == "_") or not c.isascii() for c in name
                )
            ):
                raise bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise bad_request("command description must be 1-256 characters")
        key = self._commands_key(params)
        bot.commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def m_getMyCommands(self, bot: BotAccount, params: Params) -> Any:
        return bot.commands.get(self._commands_key(params), [])

    async def m_deleteMyCommands(self, bot: BotAccount, params: Params) -> Any:
        bot.commands.pop(self._commands_key(params), None)
        return True

    def _commands_key(self, params: Params) -> str:
        scope = params.json("scope", "can't parse BotCommandScope JSON object") or {
            "type": "default"
        }
        return commands_key(scope, params.text("language_code") or "")

    async def _setting(self, bot: BotAccount, params: Params, name: str) -> Any:
        bot.settings[name] = params.text(name) or ""
        return True

    async def m_setMyDescription(self, bot: BotAccount, params: Params) -> Any:
        return await self._setting(bot, params, "description")

    async def m_setMyShortDescription(self, bot: BotAccount, params: Params) -> Any:
        return await self._setting(bot, params, "short_description")

    async def m_setMyName(self, bot: BotAccount, params: Params) -> Any:
        return await self._setting(bot, params, "name")

    async def m_getMyDescription(self, bot: BotAccount, params: Params) -> Any:
        return {"description": bot.settings.get("description", "")}

    async def m_getMyShortDescription(self, bot: BotAccount, params: Params) -> Any:
        return {"short_description": bot.settings.get("short_description", "")}

    async def m_setChatMenuButton(self, bot: BotAccount, params: Params) -> Any:
        bot.settings["menu_button"] = params.json("menu_button", "can't parse menu_button")
        return True


def _allowed(update: dict[str, Any], allowed: frozenset[str]) -> bool:
    return any(kind in allowed for kind in update if kind != "update_id")


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    if not button["text"]:
        raise bad_request("BUTTON_TEXT_INVALID")
    actions = [name for name in _BUTTON_ACTIONS if name in button]
    if len(actions) != 1:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://")):
            raise bad_request("BUTTON_URL_INVALID")
