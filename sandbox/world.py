"""The emulated Telegram: bots, users, private chats with every message both ways, files, updates.

Nothing here speaks HTTP. :class:`SandboxUser` acts as a person in a Telegram client: it types,
shares a contact, sends a photo or a file, opens a deep link, taps buttons, and reads the chat.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import re
import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.faults import FloodControl, RateLimits
from sandbox.telegram_html import command_entities

# Telegram's default when a bot never said which updates it wants.
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
START_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
CHAT_ACTION_SHOWN_SECONDS = 5.0


class SandboxError(ValueError):
    """Something a Telegram client would not let a person do; the message says what."""


@dataclass
class StoredFile:
    """A file Telegram holds: uploaded by a bot or sent by a user."""

    file_id: str
    file_unique_id: str
    kind: str  # photo, document, voice, video, audio, animation
    file_path: str
    data: bytes
    mime_type: str | None = None
    file_name: str | None = None
    width: int = 0
    height: int = 0
    duration: int = 0

    def as_file(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }

    def as_media(self) -> Any:
        """The object a Message carries for this file (a list of sizes for a photo)."""
        base: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
        }
        if self.kind == "photo":
            return [base | {"width": self.width, "height": self.height}]
        if self.kind in ("video", "animation"):
            base |= {"width": self.width, "height": self.height, "duration": self.duration}
        if self.kind in ("voice", "audio"):
            base["duration"] = self.duration
        if self.file_name and self.kind != "voice":
            base["file_name"] = self.file_name
        if self.mime_type:
            base["mime_type"] = self.mime_type
        return base


@dataclass
class UserAccount:
    """A person with a Telegram account."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    phone_number: str | None = None
    language_code: str = "zh-hans"

    def as_user(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        user["language_code"] = self.language_code
        return user

    def as_chat(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat

    def as_json(self) -> dict[str, Any]:
        return self.as_user() | {"phone_number": self.phone_number}


@dataclass
class StoredMessage:
    """One message in a private chat, as the Bot API describes it, plus the keyboard it carried."""

    message_id: int
    chat_id: int
    date: int
    from_bot: bool
    sender: dict[str, Any]
    chat: dict[str, Any]
    content: dict[str, Any]
    reply_markup: dict[str, Any] | None = None
    edit_date: int | None = None
    deleted: bool = False

    def as_api(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": self.chat,
            "date": self.date,
            **self.content,
        }
        if self.edit_date is not None:
            message["edit_date"] = self.edit_date
        if self.inline_keyboard:
            message["reply_markup"] = self.reply_markup
        return message

    @property
    def text(self) -> str:
        """The text or the caption ('' for a message without either)."""
        return str(self.content.get("text") or self.content.get("caption") or "")

    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]]:
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            rows: list[list[dict[str, Any]]] = self.reply_markup["inline_keyboard"]
            return rows
        return []

    def inline_buttons(self) -> list[dict[str, Any]]:
        return [button for row in self.inline_keyboard for button in row]

    def quoted(self) -> dict[str, Any]:
        """The message as another message's ``reply_to_message`` (replies do not nest)."""
        quoted = self.as_api()
        quoted.pop("reply_to_message", None)
        return quoted

    def as_json(self) -> dict[str, Any]:
        """A transcript entry: the Bot API message plus what a reader of the chat wants at hand."""
        return {
            "message_id": self.message_id,
            "from_bot": self.from_bot,
            "text": self.text,
            "edited": self.edit_date is not None,
            "message": self.as_api(),
            "reply_markup": self.reply_markup,
        }


@dataclass
class CallbackRecord:
    """A press of an inline button and the bot's answer to it."""

    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    answered: bool = False
    answer: dict[str, Any] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def as_json(self) -> dict[str, Any]:
        return {
            "callback_query_id": self.id,
            "message_id": self.message_id,
            "data": self.data,
            "answered": self.answered,
            "answer": self.answer,
        }


@dataclass
class Chat:
    """A private chat between one bot and one user."""

    bot: BotAccount
    user: UserAccount
    messages: list[StoredMessage] = field(default_factory=list)
    next_message_id: int = 1
    reply_keyboard: dict[str, Any] | None = None
    force_reply_to: int | None = None
    started: bool = False
    blocked: bool = False
    alerts: list[dict[str, Any]] = field(default_factory=list)
    version: int = 0
    action: tuple[str, float] | None = None

    def message(self, message_id: int) -> StoredMessage | None:
        for message in reversed(self.messages):
            if message.message_id == message_id and not message.deleted:
                return message
        return None

    def visible(self) -> list[StoredMessage]:
        return [message for message in self.messages if not message.deleted]


@dataclass
class WebhookConfig:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class BotAccount:
    """A bot: its token, its pending updates, its chats and its settings."""

    token: str
    username: str
    first_name: str
    monotonic: Callable[[], float] = time.monotonic
    updates: list[dict[str, Any]] = field(default_factory=list)
    next_update_id: int = 1
    allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
    chats: dict[int, Chat] = field(default_factory=dict)
    commands: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    callbacks: dict[str, CallbackRecord] = field(default_factory=dict)
    webhook: WebhookConfig | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    flood: FloodControl = field(init=False)
    poller: asyncio.Future[None] | None = None

    def __post_init__(self) -> None:
        self.flood = FloodControl(RateLimits(), self.monotonic)

    @property
    def id(self) -> int:
        return int(self.token.split(":", 1)[0])

    def as_user(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "first_name": self.first_name,
            "webhook_url": self.webhook.url if self.webhook else None,
            "pending_updates": len(self.updates),
        }


def update_chat_id(update: dict[str, Any]) -> int | None:
    """The chat an update belongs to (updates of one chat are delivered in order)."""
    for kind, payload in update.items():
        if kind == "update_id" or not isinstance(payload, dict):
            continue
        chat = payload.get("chat") or (payload.get("message") or {}).get("chat")
        if chat:
            return int(chat["id"])
        sender = payload.get("from")
        if sender:
            return int(sender["id"])
    return None


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, GIF or JPEG image, or (0, 0)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            length = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + length
    return 0, 0


class World:
    """Everything the emulated Telegram knows, and the pulse that wakes whoever waits for a change."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.monotonic = monotonic
        self.bots: dict[str, BotAccount] = {}
        self.users: dict[int, UserAccount] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.version = 0
        self._pulse = asyncio.Event()
        self._file_counter = 0
        self.closing = False

    # --- accounts ---------------------------------------------------------------------------

    def add_bot(self, token: str, username: str, first_name: str | None = None) -> BotAccount:
        left, sep, right = token.partition(":")
        if not sep or not left.isdigit() or not right or any(c.isspace() for c in token):
            raise SandboxError(f"a bot token looks like 123456:ABC-def, not {token!r}")
        bot = BotAccount(
            token=token,
            username=username.removeprefix("@"),
            first_name=first_name or username,
            monotonic=self.monotonic,
        )
        self.bots[token] = bot
        return bot

    def bot(self, which: str | int | None = None) -> BotAccount:
        """A bot by id or username; the only (or first) bot when ``which`` is None."""
        if not self.bots:
            raise SandboxError("no bot is registered")
        if which is None or which == "":
            return next(iter(self.bots.values()))
        for bot in self.bots.values():
            if str(which).removeprefix("@") in (str(bot.id), bot.username):
                return bot
        raise SandboxError(f"no bot {which!r}")

    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        phone_number: str | None = None,
        language_code: str = "zh-hans",
    ) -> UserAccount:
        """Create the user, or update the name and phone of an existing one."""
        if user_id <= 0:
            raise SandboxError("a user id is a positive integer")
        user = self.users.get(user_id)
        if user is None:
            user = UserAccount(user_id, first_name)
            self.users[user_id] = user
        user.first_name = first_name
        user.last_name = last_name
        user.username = username
        user.phone_number = phone_number
        user.language_code = language_code
        return user

    def chat(self, bot: BotAccount, user_id: int) -> Chat:
        user = self.users.get(user_id)
        if user is None:
            raise SandboxError(f"no user {user_id}")
        chat = bot.chats.get(user_id)
        if chat is None:
            chat = Chat(bot=bot, user=user)
            bot.chats[user_id] = chat
        return chat

    # --- changes ----------------------------------------------------------------------------

    def touch(self, chat: Chat | None = None) -> None:
        """Record a change (in ``chat``) and wake everyone waiting for one."""
        self.version += 1
        if chat is not None:
            chat.version = self.version
        pulse, self._pulse = self._pulse, asyncio.Event()
        pulse.set()

    async def wait(self, condition: Callable[[], bool], within: float) -> bool:
        """Wait until ``condition()`` holds (True) or ``within`` seconds pass (False)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not condition():
            remaining = deadline - loop.time()
            if remaining <= 0 or self.closing:
                return False
            pulse = self._pulse
            try:
                await asyncio.wait_for(pulse.wait(), remaining)
            except TimeoutError:
                return condition()
        return True

    def push_update(
        self, bot: BotAccount, kind: str, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Queue an update for the bot, unless its allowed_updates leave this kind out."""
        if kind not in bot.allowed_updates:
            return None
        update = {"update_id": bot.next_update_id, kind: payload}
        bot.next_update_id += 1
        bot.updates.append(update)
        self.touch()
        return update

    # --- messages and files -----------------------------------------------------------------

    def add_message(
        self,
        chat: Chat,
        *,
        from_bot: bool,
        content: dict[str, Any],
        reply_markup: dict[str, Any] | None = None,
    ) -> StoredMessage:
        message = StoredMessage(
            message_id=chat.next_message_id,
            chat_id=chat.user.id,
            date=int(time.time()),
            from_bot=from_bot,
            sender=chat.bot.as_user() if from_bot else chat.user.as_user(),
            chat=chat.user.as_chat(),
            content=content,
            reply_markup=reply_markup,
        )
        chat.next_message_id += 1
        chat.messages.append(message)
        if from_bot:
            chat.action = None
            if reply_markup is not None:
                if "keyboard" in reply_markup:
                    chat.reply_keyboard = reply_markup
                elif reply_markup.get("remove_keyboard"):
                    chat.reply_keyboard = None
                elif reply_markup.get("force_reply"):
                    chat.force_reply_to = message.message_id
        self.touch(chat)
        return message

    def store_file(
        self,
        data: bytes,
        kind: str,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        duration: int = 0,
    ) -> StoredFile:
        self._file_counter += 1
        folder = {"photo": "photos", "voice": "voice", "video": "videos", "audio": "music"}.get(
            kind, "documents"
        )
        extension = ""
        if file_name and "." in file_name:
            extension = "." + file_name.rsplit(".", 1)[1][:8]
        elif mime_type:
            extension = mimetypes.guess_extension(mime_type) or ""
        if kind == "photo":
            extension = extension or ".jpg"
        if mime_type is None and file_name:
            mime_type = mimetypes.guess_type(file_name)[0]
        width, height = image_size(data) if kind in ("photo", "video", "animation") else (0, 0)
        stored = StoredFile(
            file_id=f"{kind[:2].upper()}sbx{secrets.token_urlsafe(24)}",
            file_unique_id=f"U{secrets.token_urlsafe(8)}",
            kind=kind,
            file_path=f"{folder}/file_{self._file_counter}{extension}",
            data=data,
            mime_type=mime_type if kind != "photo" else None,
            file_name=file_name,
            width=width,
            height=height,
            duration=duration,
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    def user_session(self, user_id: int, bot: str | int | None = None) -> SandboxUser:
        return SandboxUser(self, self.bot(bot), self.chat(self.bot(bot), user_id).user)


class SandboxUser:
    """A person in a Telegram client, chatting with one bot."""

    def __init__(self, world: World, bot: BotAccount, user: UserAccount) -> None:
        self.world = world
        self.bot = bot
        self.account = user

    @property
    def id(self) -> int:
        return self.account.id

    @property
    def chat(self) -> Chat:
        return self.world.chat(self.bot, self.account.id)

    # --- what the person does ---------------------------------------------------------------

    def _send(self, content: dict[str, Any], reply_to: int | None = None) -> StoredMessage:
        """Send as this person; a bot's ForceReply makes the client quote that message."""
        chat = self.chat
        chat.started = True
        chat.blocked = False
        target_id = reply_to if reply_to is not None else chat.force_reply_to
        chat.force_reply_to = None
        if target_id is not None:
            target = chat.message(target_id)
            if target is None:
                raise SandboxError(f"no message {target_id} to reply to")
            content["reply_to_message"] = target.quoted()
        message = self.world.add_message(chat, from_bot=False, content=content)
        self.world.push_update(self.bot, "message", message.as_api())
        return message

    def send(self, text: str, reply_to: int | None = None) -> StoredMessage:
        """Type and send ``text`` (quoting message ``reply_to``); commands get their entities."""
        if not text.strip():
            raise SandboxError("消息不能为空")
        if len(text) > MAX_TEXT:
            raise SandboxError(f"消息过长（最多 {MAX_TEXT} 字）")
        content: dict[str, Any] = {"text": text}
        entities = command_entities(text)
        if entities:
            content["entities"] = entities
        return self._send(content, reply_to)

    def start(self, payload: str | None = None) -> StoredMessage:
        """Open ``t.me/<bot>?start=<payload>`` (or press START): the client sends ``/start payload``."""
        if payload is None or payload == "":
            return self.send("/start")
        if not START_PAYLOAD.fullmatch(payload):
            raise SandboxError("start parameter must be 1–64 characters of A–Z, a–z, 0–9, _ and -")
        return self.send(f"/start {payload}")

    def send_contact(
        self,
        phone_number: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> StoredMessage:
        """Share a contact card; without a phone number it is the person's own (with ``user_id``)."""
        if phone_number is None:
            if not self.account.phone_number:
                raise SandboxError("这个用户没有设置手机号")
            contact: dict[str, Any] = {
                "phone_number": self.account.phone_number,
                "first_name": self.account.first_name,
                "user_id": self.account.id,
            }
            if self.account.last_name:
                contact["last_name"] = self.account.last_name
        else:
            contact = {"phone_number": phone_number, "first_name": first_name or phone_number}
            if last_name:
                contact["last_name"] = last_name
        return self._send({"contact": contact})

    def _caption(self, caption: str | None) -> dict[str, Any]:
        if not caption:
            return {}
        if len(caption) > MAX_CAPTION:
            raise SandboxError(f"说明文字过长（最多 {MAX_CAPTION} 字）")
        return {"caption": caption}

    def send_photo(
        self, data: bytes, caption: str | None = None, filename: str = "photo.jpg"
    ) -> StoredMessage:
        if not data:
            raise SandboxError("图片是空的")
        stored = self.world.store_file(data, "photo", file_name=filename)
        return self._send({"photo": stored.as_media(), **self._caption(caption)})

    def send_document(
        self,
        data: bytes,
        filename: str,
        mime_type: str | None = None,
        caption: str | None = None,
    ) -> StoredMessage:
        if not data:
            raise SandboxError("文件是空的")
        stored = self.world.store_file(data, "document", file_name=filename, mime_type=mime_type)
        return self._send({"document": stored.as_media(), **self._caption(caption)})

    def send_voice(
        self, data: bytes = b"OggS\x00sandbox-voice", duration: int = 3
    ) -> StoredMessage:
        stored = self.world.store_file(
            data, "voice", mime_type="audio/ogg", duration=duration, file_name="voice.ogg"
        )
        return self._send({"voice": stored.as_media()})

    def press(self, data: str, message_id: int | None = None) -> CallbackRecord:
        """Tap the inline button with callback ``data``.

        Without ``message_id`` the newest message holding such a button is used. With it, the data
        need not be on a button: that is a forged query, as a modified client could send.
        """
        chat = self.chat
        if message_id is None:
            message = self._newest_with(lambda b: b.get("callback_data") == data)
            if message is None:
                raise SandboxError(f"no inline button with callback data {data!r}")
        else:
            found = chat.message(message_id)
            if found is None:
                raise SandboxError(f"no message {message_id} in this chat")
            message = found
        return self._callback(message, data)

    def click(self, text: str, message_id: int | None = None) -> CallbackRecord | StoredMessage:
        """Tap a button by its label: an inline button (newest message first), else a reply button."""
        chat = self.chat
        candidates = (
            [chat.message(message_id)] if message_id is not None else reversed(chat.visible())
        )
        for message in candidates:
            if message is None or not message.from_bot:
                continue
            for button in message.inline_buttons():
                if button.get("text") != text:
                    continue
                if "callback_data" in button:
                    return self._callback(message, str(button["callback_data"]))
                raise SandboxError(
                    f"button {text!r} opens {button.get('url') or 'something'}, not a callback"
                )
        if message_id is None:
            for row in (chat.reply_keyboard or {}).get("keyboard", []):
                for button in row:
                    button = button if isinstance(button, dict) else {"text": button}
                    if button.get("text") == text:
                        return self._tap_reply(button)
        raise SandboxError(f"no button {text!r}")

    def _tap_reply(self, button: dict[str, Any]) -> StoredMessage:
        chat = self.chat
        keyboard = chat.reply_keyboard or {}
        if keyboard.get("one_time_keyboard"):
            chat.reply_keyboard = None
        if button.get("request_contact"):
            return self.send_contact()
        return self.send(str(button["text"]))

    def _newest_with(self, predicate: Callable[[dict[str, Any]], bool]) -> StoredMessage | None:
        for message in reversed(self.chat.visible()):
            if message.from_bot and any(predicate(b) for b in message.inline_buttons()):
                return message
        return None

    def _callback(self, message: StoredMessage, data: str) -> CallbackRecord:
        record = CallbackRecord(
            id=str(secrets.randbits(62)),
            user_id=self.account.id,
            chat_id=message.chat_id,
            message_id=message.message_id,
            data=data,
        )
        self.bot.callbacks[record.id] = record
        payload = {
            "id": record.id,
            "from": self.account.as_user(),
            "message": message.as_api(),
            "chat_instance": str(self.bot.id * 7919 + self.account.id),
            "data": data,
        }
        self.world.push_update(self.bot, "callback_query", payload)
        return record

    def block(self, blocked: bool = True) -> None:
        """Block (or unblock) the bot: its messages are then refused with 403."""
        chat = self.chat
        chat.blocked = blocked
        if blocked:
            self.world.push_update(self.bot, "my_chat_member", self._member_update("kicked"))
        self.world.touch(chat)

    def _member_update(self, status: str) -> dict[str, Any]:
        return {
            "chat": self.account.as_chat(),
            "from": self.account.as_user(),
            "date": int(time.time()),
            "old_chat_member": {"status": "member", "user": self.bot.as_user()},
            "new_chat_member": {"status": status, "user": self.bot.as_user(), "until_date": 0},
        }

    # --- what the person sees ---------------------------------------------------------------

    @property
    def messages(self) -> list[StoredMessage]:
        return self.chat.visible()

    @property
    def replies(self) -> list[StoredMessage]:
        return [m for m in self.chat.visible() if m.from_bot]

    @property
    def last(self) -> StoredMessage | None:
        replies = self.replies
        return replies[-1] if replies else None

    def transcript(self) -> dict[str, Any]:
        """The chat as the page shows it (see ``control`` for the shape)."""
        chat = self.chat
        action = None
        if chat.action and self.world.monotonic() - chat.action[1] < CHAT_ACTION_SHOWN_SECONDS:
            action = chat.action[0]
        return {
            "version": chat.version,
            "bot": self.bot.as_json(),
            "user": self.account.as_json(),
            "started": chat.started,
            "blocked": chat.blocked,
            "messages": [message.as_json() for message in chat.visible()],
            "reply_keyboard": chat.reply_keyboard,
            "alerts": chat.alerts,
            "chat_action": action,
            "commands": self.bot.commands.get(commands_key({"type": "default"}, ""), []),
        }

    async def wait_reply(
        self, contains: str | None = None, *, after: int | None = None, within: float = 10.0
    ) -> StoredMessage:
        """The first bot message after ``after`` (default: the person's last message) with ``contains``."""
        chat = self.chat
        if after is None:
            mine = [m.message_id for m in chat.messages if not m.from_bot]
            after = mine[-1] if mine else 0
        floor = after

        def found() -> StoredMessage | None:
            for message in chat.visible():
                if (
                    message.from_bot
                    and message.message_id > floor
                    and (contains is None or contains in message.text)
                ):
                    return message
            return None

        if not await self.world.wait(lambda: found() is not None, within):
            texts = [m.text for m in chat.visible() if m.from_bot and m.message_id > floor]
            raise TimeoutError(f"no reply containing {contains!r} within {within}s; got {texts!r}")
        result = found()
        assert result is not None
        return result

    async def wait_for(self, condition: Callable[[Chat], bool], within: float = 10.0) -> None:
        """Wait until ``condition(chat)`` holds, e.g. a message was edited."""
        if not await self.world.wait(lambda: condition(self.chat), within):
            raise TimeoutError(f"the chat did not change as expected within {within}s")


def commands_key(scope: dict[str, Any], language_code: str) -> str:
    return json.dumps([scope, language_code], sort_keys=True)
