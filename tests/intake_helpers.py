"""Shared by the reporter-journey tests: the production dispatcher over a database, cards, and a
transcript of what the bot sent."""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable
from datetime import datetime
from pathlib import Path
from typing import Any

from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.types import InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.dispatcher import create_dispatcher
from bot.middlewares import ThrottlingMiddleware
from bot.settings import Settings
from bot.storage import SqlStorage
from models.calendar import WorkCalendar
from models.card import Card, CardStatus
from models.enterprise import Enterprise
from models.org import Zone
from tests.harness import Telegram, TgUser

TOKEN = "c_Kq7TzW3mXc9PvR2hLs8d"
ENTERPRISE = "四川坤天新能源科技有限公司"
REFUND = "经开区管委会承诺的土地出让金返还和建筑物配套费至今未到位，企业资金链断裂，请帮助协调。"


def build(
    sessions: SessionFactory,
    config: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    throttling: ThrottlingMiddleware | None = None,
) -> Telegram:
    """The production dispatcher with the database's FSM storage, as ``lianka run`` builds it
    (the clock stands still here, so the flood limit is added only by the tests about it)."""
    dispatcher = create_dispatcher(
        settings=Settings(),
        config=config,
        sessions=sessions,
        calendar=calendar,
        storage=SqlStorage(sessions),
        events_isolation=SimpleEventIsolation(),
        clock=clock,
        throttling=throttling,
    )
    return Telegram.create(dispatcher)


async def make_card(
    session: AsyncSession,
    now: datetime,
    *,
    token: str = TOKEN,
    zone_code: str = "jkq",
    enterprise_name: str = ENTERPRISE,
    status: CardStatus = CardStatus.ACTIVE,
) -> Card:
    """A printed card for a new enterprise in ``zone_code``."""
    zone = (await session.exec(select(Zone).where(Zone.code == zone_code))).one()
    enterprise = Enterprise(name=enterprise_name, zone_id=zone.id, created_at=now)
    session.add(enterprise)
    await session.flush()
    assert enterprise.id is not None
    card = Card(
        token=token,
        enterprise_id=enterprise.id,
        zone_id=zone.id,
        issuing_unit=zone.issuing_unit,
        status=status,
        created_at=now,
        revoked_at=now if status is CardStatus.REVOKED else None,
    )
    session.add(card)
    await session.commit()
    return card


async def state_of(telegram: Telegram, user: TgUser) -> tuple[str | None, dict[str, Any]]:
    """The conversation state and draft the storage holds for ``user``."""
    context = telegram.dispatcher.fsm.get_context(telegram.bot, chat_id=user.id, user_id=user.id)
    return await context.get_state(), await context.get_data()


def _buttons(markup: Any) -> str:
    rows: list[list[Any]]
    if isinstance(markup, InlineKeyboardMarkup):
        rows = markup.inline_keyboard
    elif isinstance(markup, ReplyKeyboardMarkup):
        rows = markup.keyboard
    elif isinstance(markup, ReplyKeyboardRemove):
        return "    (收起键盘)"
    else:
        return ""
    kind = "按钮" if isinstance(markup, InlineKeyboardMarkup) else "键盘"
    return "\n".join(f"    {kind}: " + " · ".join(f"[{b.text}]" for b in row) for row in rows)


class Transcript:
    """The conversation as the person saw it: what they did, and every Bot API call it caused."""

    def __init__(self, telegram: Telegram) -> None:
        self.telegram = telegram
        self.lines: list[str] = []
        self._seen = 0

    async def user(self, what: str, action: Awaitable[Any]) -> None:
        self.lines.append(f"» 用户：{what}")
        await action
        for call in self.telegram.session.calls[self._seen :]:
            name = type(call).__name__
            values = call.model_dump()
            if name == "SendMessage":
                self.lines.append("« 机器人：" + values["text"].replace("\n", "\n  "))
                markup = _buttons(call.reply_markup)  # type: ignore[attr-defined]
                if markup:
                    self.lines.append(markup)
            elif name == "EditMessageText":
                self.lines.append("« （改写上条消息为）" + values["text"].replace("\n", "\n  "))
            elif name == "EditMessageReplyMarkup":
                markup = _buttons(call.reply_markup)  # type: ignore[attr-defined]
                self.lines.append("« （更换按钮）\n" + markup if markup else "« （收起按钮）")
            elif name == "AnswerCallbackQuery" and values.get("text"):
                self.lines.append(f"« （提示）{values['text']}")
        self._seen = len(self.telegram.session.calls)

    def text(self) -> str:
        return "\n".join(self.lines)

    def save(self) -> None:
        """Written where ``LIANKA_TRANSCRIPT`` says, for the closing note of the issue."""
        path = os.environ.get("LIANKA_TRANSCRIPT")
        if path:
            Path(path).write_text(self.text() + "\n", encoding="utf-8")


async def report(
    user: TgUser, *, category: str = "营商环境", description: str = REFUND, named: bool = False
) -> str:
    """Scan the card and send a report the quickest way; the bot's last answer is returned."""
    await user.start(TOKEN)
    await user.click("反映问题")
    await user.click(category)
    await user.send(description)
    await user.click("完成")
    await user.click("跳过")
    if named:
        await user.click("实名")
        await user.click("发送手机号")
    else:
        await user.click("匿名")
    await user.click("确认提交")
    return user.last


_TAGS = re.compile(r"</?(b|i|u|s|code|pre)>")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+);")


def assert_telegram_html(telegram: Telegram) -> None:
    """Every text the bot sent or edited parses as Telegram HTML: only known tags, balanced, and
    every other ``<``, ``>`` and ``&`` escaped (the real Bot API rejects anything else)."""
    for call in telegram.session.calls:
        if type(call).__name__ not in ("SendMessage", "EditMessageText"):
            continue
        text = call.model_dump()["text"]
        opened = [m.group(0) for m in _TAGS.finditer(text) if not m.group(0).startswith("</")]
        closed = [m.group(0) for m in _TAGS.finditer(text) if m.group(0).startswith("</")]
        assert len(opened) == len(closed), text
        bare = _ENTITY.sub("", _TAGS.sub("", text))
        assert not set("<>&") & set(bare), text
