"""Play Telegram against the production dispatcher: a recording Bot session and fake users.

``RecordingSession`` answers every Bot API method with a plausible result and keeps what was sent,
per chat, so a test can read the conversation as the user saw it. ``TgUser`` sends messages,
contacts and files and presses buttons by their text.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.types import (
    CallbackQuery,
    Chat,
    Contact,
    Document,
    File,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    MessageId,
    PhotoSize,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Sticker,
    Update,
    User,
    Voice,
)

BOT_ID = 42
UPDATE_IDS = itertools.count(900_000_001)
"""Shared by every harness in the process: like Telegram's, a bot's update ids never repeat (a
dispatcher built again over the same database skips ids it has handled). Large, as Telegram's
are, so that no update id equals a test person's id (501, 802 …) in a log a test reads for
identities."""
BOT_USERNAME = "LiankaTestBot"


@dataclass
class Sent:
    """A message the bot put in a chat, as it stands now (edits applied)."""

    chat_id: int
    message_id: int
    text: str
    reply_markup: Any = None
    method: str = "sendMessage"
    document: Any = None
    deleted: bool = False

    @property
    def inline_buttons(self) -> list[Any]:
        if isinstance(self.reply_markup, InlineKeyboardMarkup):
            return [b for row in self.reply_markup.inline_keyboard for b in row]
        return []

    @property
    def reply_buttons(self) -> list[Any]:
        if isinstance(self.reply_markup, ReplyKeyboardMarkup):
            return [b for row in self.reply_markup.keyboard for b in row]
        return []

    @property
    def button_texts(self) -> list[str]:
        return [b.text for b in self.inline_buttons + self.reply_buttons]


class RecordingSession(BaseSession):
    """A Bot session that talks to nobody: it records calls and returns plausible results."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[TelegramMethod[Any]] = []
        self.sent: list[Sent] = []
        self.callback_answers: list[Any] = []
        self._message_ids = itertools.count(1000)

    async def close(self) -> None:
        """Nothing to close."""

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        yield b""

    def method_names(self) -> list[str]:
        return [type(call).__name__ for call in self.calls]

    def _chat(self, chat_id: Any) -> Chat:
        return Chat(id=int(chat_id), type="private")

    def _find(self, chat_id: Any, message_id: Any) -> Sent | None:
        for sent in self.sent:
            if sent.chat_id == int(chat_id) and sent.message_id == message_id:
                return sent
        return None

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        self.calls.append(method)
        name = type(method).__name__
        now = datetime.now(UTC)
        values = method.model_dump()
        if name == "GetMe":
            return User(id=BOT_ID, is_bot=True, first_name="廉卡", username=BOT_USERNAME)
        if name == "AnswerCallbackQuery":
            self.callback_answers.append(method)
            return True
        if name in ("EditMessageText", "EditMessageReplyMarkup", "EditMessageCaption"):
            sent = self._find(values.get("chat_id"), values.get("message_id"))
            if sent is not None:
                if name == "EditMessageText":
                    sent.text = values["text"]
                if name == "EditMessageCaption":
                    sent.text = values.get("caption") or ""
                sent.reply_markup = getattr(method, "reply_markup", None)
                return Message(
                    message_id=sent.message_id,
                    date=now,
                    chat=self._chat(sent.chat_id),
                    text=sent.text,
                    reply_markup=sent.reply_markup
                    if isinstance(sent.reply_markup, InlineKeyboardMarkup)
                    else None,
                )
            return True
        if name == "DeleteMessage":
            sent = self._find(values.get("chat_id"), values.get("message_id"))
            if sent is not None:
                sent.deleted = True
            return True
        if name == "GetFile":
            return File(
                file_id=values["file_id"],
                file_unique_id=f"u-{values['file_id']}",
                file_path=f"files/{values['file_id']}",
            )
        if name == "CopyMessage":
            return MessageId(message_id=next(self._message_ids))
        returning = getattr(method, "__returning__", None)
        if returning is Message or name.startswith("Send"):
            chat_id: Any = values.get("chat_id")
            message_id = next(self._message_ids)
            text = values.get("text") or values.get("caption") or ""
            markup = getattr(method, "reply_markup", None)
            document = None
            if name in ("SendDocument", "SendPhoto", "SendVoice", "SendAudio", "SendVideo"):
                document = getattr(method, name.removeprefix("Send").lower(), None)
            self.sent.append(
                Sent(
                    chat_id=int(chat_id),
                    message_id=message_id,
                    text=text,
                    reply_markup=None if isinstance(markup, ReplyKeyboardRemove) else markup,
                    method=name[0].lower() + name[1:],
                    document=document,
                )
            )
            message_kwargs: dict[str, Any] = {}
            if name == "SendDocument":
                message_kwargs["document"] = Document(
                    file_id=f"doc-{message_id}", file_unique_id=f"udoc-{message_id}"
                )
            if name == "SendPhoto":
                message_kwargs["photo"] = [
                    PhotoSize(
                        file_id=f"ph-{message_id}",
                        file_unique_id=f"uph-{message_id}",
                        width=1,
                        height=1,
                    )
                ]
            return Message(
                message_id=message_id,
                date=now,
                chat=self._chat(chat_id),
                from_user=User(id=BOT_ID, is_bot=True, first_name="廉卡"),
                text=values.get("text"),
                caption=values.get("caption"),
                reply_markup=markup if isinstance(markup, InlineKeyboardMarkup) else None,
                **message_kwargs,
            )
        if returning is bool or returning is None:
            return True
        if getattr(returning, "__origin__", None) is list:
            return []
        return True


@dataclass
class Telegram:
    """The production dispatcher and a recording bot, and the users who talk to it."""

    dispatcher: Dispatcher
    bot: Bot
    session: RecordingSession
    _update_ids: itertools.count[int] = field(default_factory=lambda: UPDATE_IDS)
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _user_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(7_000_001))

    @classmethod
    def create(cls, dispatcher: Dispatcher) -> Telegram:
        session = RecordingSession()
        bot = Bot(f"{BOT_ID}:TEST", session=session)
        return cls(dispatcher=dispatcher, bot=bot, session=session)

    def user(self, first_name: str = "宋利剑", user_id: int | None = None) -> TgUser:
        return TgUser(self, user_id or next(self._user_ids), first_name)

    async def feed(self, **update: Any) -> Any:
        return await self.dispatcher.feed_update(
            self.bot, Update(update_id=next(self._update_ids), **update)
        )

    def in_chat(self, chat_id: int) -> list[Sent]:
        return [s for s in self.session.sent if s.chat_id == chat_id and not s.deleted]


@dataclass
class TgUser:
    """One person in a private chat with the bot."""

    telegram: Telegram
    id: int
    first_name: str
    _seen: int = 0

    @property
    def tg_user(self) -> User:
        return User(id=self.id, is_bot=False, first_name=self.first_name, language_code="zh-hans")

    @property
    def chat(self) -> Chat:
        return Chat(id=self.id, type="private", first_name=self.first_name)

    def _message(self, **fields: Any) -> Message:
        return Message(
            message_id=next(self.telegram._message_ids),
            date=datetime.now(UTC),
            chat=self.chat,
            from_user=self.tg_user,
            **fields,
        )

    async def _send(self, **fields: Any) -> Any:
        self._seen = len(self.telegram.in_chat(self.id))
        return await self.telegram.feed(message=self._message(**fields))

    async def send(self, text: str) -> Any:
        """Type ``text``; a leading ``/command`` is marked as a command, as Telegram does."""
        entities = None
        if text.startswith("/"):
            length = len(text.split(maxsplit=1)[0])
            entities = [MessageEntity(type="bot_command", offset=0, length=length)]
        return await self._send(text=text, entities=entities)

    async def start(self, payload: str | None = None) -> Any:
        """Open the bot, from a deep link ``t.me/bot?start=<payload>`` if given."""
        return await self.send(f"/start {payload}" if payload else "/start")

    async def send_contact(
        self,
        phone: str,
        first_name: str | None = None,
        own: bool = True,
        last_name: str | None = None,
    ) -> Any:
        """Share a contact; ``own`` means the contact button (the contact is this user)."""
        contact = Contact(
            phone_number=phone,
            first_name=first_name or self.first_name,
            last_name=last_name,
            user_id=self.id if own else self.id + 1,
        )
        return await self._send(contact=contact)

    async def send_message(self, **fields: Any) -> Any:
        """Send a message with any content Telegram allows (a video, a location, a caption…)."""
        return await self._send(**fields)

    async def send_photo(self, file_size: int = 200_000, caption: str | None = None) -> Any:
        n = next(self.telegram._message_ids)
        sizes = [
            PhotoSize(file_id=f"photo-{n}-s", file_unique_id=f"up-{n}-s", width=90, height=90),
            PhotoSize(
                file_id=f"photo-{n}",
                file_unique_id=f"up-{n}",
                width=1280,
                height=960,
                file_size=file_size,
            ),
        ]
        return await self._send(photo=sizes, caption=caption)

    async def send_document(
        self,
        file_name: str = "合同.pdf",
        mime_type: str = "application/pdf",
        file_size: int = 500_000,
    ) -> Any:
        n = next(self.telegram._message_ids)
        document = Document(
            file_id=f"doc-{n}",
            file_unique_id=f"ud-{n}",
            file_name=file_name,
            mime_type=mime_type,
            file_size=file_size,
        )
        return await self._send(document=document)

    async def send_voice(self, duration: int = 12, file_size: int = 40_000) -> Any:
        n = next(self.telegram._message_ids)
        voice = Voice(
            file_id=f"voice-{n}",
            file_unique_id=f"uv-{n}",
            duration=duration,
            mime_type="audio/ogg",
            file_size=file_size,
        )
        return await self._send(voice=voice)

    async def send_sticker(self) -> Any:
        n = next(self.telegram._message_ids)
        sticker = Sticker(
            file_id=f"st-{n}",
            file_unique_id=f"us-{n}",
            type="regular",
            width=512,
            height=512,
            is_animated=False,
            is_video=False,
        )
        return await self._send(sticker=sticker)

    def _button_message(self, text: str) -> tuple[Sent, Any]:
        for sent in reversed(self.messages):
            for button in sent.inline_buttons + sent.reply_buttons:
                if button.text == text:
                    return sent, button
        shown = [s.button_texts for s in self.messages[-3:]]
        raise AssertionError(f"no button {text!r} in the chat; last buttons: {shown}")

    async def click(self, text: str, *, message: Sent | None = None) -> Any:
        """Press the newest button labelled ``text`` (inline or reply keyboard)."""
        if message is not None:
            sent = message
            button = next(b for b in sent.inline_buttons + sent.reply_buttons if b.text == text)
        else:
            sent, button = self._button_message(text)
        if getattr(button, "callback_data", None) is not None:
            return await self.press(button.callback_data, message=sent)
        if getattr(button, "request_contact", None):
            return await self.send_contact("+8613800000000")
        return await self.send(button.text)

    async def press(self, data: str, *, message: Sent | None = None) -> Any:
        """Send raw callback data, as a (possibly forged or stale) button press would."""
        target = message or (self.messages[-1] if self.messages else None)
        self._seen = len(self.telegram.in_chat(self.id))
        query = CallbackQuery(
            id=str(next(self.telegram._update_ids) + 10_000),
            from_user=self.tg_user,
            chat_instance=f"ci-{self.id}",
            data=data,
            message=Message(
                message_id=target.message_id if target else 1,
                date=datetime.now(UTC),
                chat=self.chat,
                from_user=User(id=BOT_ID, is_bot=True, first_name="廉卡"),
                text=target.text if target else "",
                reply_markup=target.reply_markup
                if target and isinstance(target.reply_markup, InlineKeyboardMarkup)
                else None,
            ),
        )
        return await self.telegram.feed(callback_query=query)

    @property
    def messages(self) -> list[Sent]:
        """Everything the bot shows in this chat now."""
        return self.telegram.in_chat(self.id)

    @property
    def replies(self) -> list[str]:
        """Texts the bot sent since this user's last action."""
        return [s.text for s in self.telegram.in_chat(self.id)[self._seen :]]

    @property
    def last(self) -> str:
        """The newest text the bot sent to this chat."""
        messages = self.messages
        return messages[-1].text if messages else ""

    @property
    def alerts(self) -> list[str]:
        """Answers to this user's button presses (toasts and alerts)."""
        return [
            a.text or ""
            for a in self.telegram.session.callback_answers
            if a.text and a.callback_query_id
        ]
