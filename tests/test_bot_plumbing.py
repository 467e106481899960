"""The production dispatcher's plumbing: a session per update, errors answered in Chinese,
conversation state that survives a restart, and messages queued exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.dispatcher import create_dispatcher
from bot.settings import Settings
from bot.storage import SqlStorage
from handlers.errors import UNEXPECTED
from models.calendar import WorkCalendar
from models.errors import PermissionDenied
from models.notification import Notice, Notification, NotificationStatus, Recipient, RecipientKind
from notifications.outbox import enqueue, notification_key
from notifications.render import local_date, local_time, render, yuan_to_wan
from tests.harness import Telegram

pytestmark = pytest.mark.both_databases


class Draft(StatesGroup):
    text = State()


def probe_router() -> Router:
    """A stand-in journey: /note asks for text and keeps it in the FSM draft."""
    router = Router(name="probe")

    @router.message(Command("note"))
    async def cmd_note(message: Message, state: FSMContext) -> None:
        await state.set_state(Draft.text)
        await message.answer(
            "请输入内容",
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="禁止", callback_data="deny")]]
            ),
        )

    @router.message(Draft.text, F.text)
    async def on_note_text(message: Message, state: FSMContext, session: AsyncSession) -> None:
        assert isinstance(session, AsyncSession)
        await state.update_data(note=message.text)
        await message.answer(f"已记录：{message.text}")

    @router.callback_query(F.data == "deny")
    async def on_deny(query: CallbackQuery) -> None:
        raise PermissionDenied

    @router.message(Command("boom"))
    async def cmd_boom(message: Message) -> None:
        raise RuntimeError("bug")

    return router


def build(sessions: SessionFactory, config: LiankaConfig, clock: FrozenClock) -> Telegram:
    dispatcher = create_dispatcher(
        settings=Settings(),
        config=config,
        sessions=sessions,
        calendar=WorkCalendar(),
        storage=SqlStorage(sessions),
        clock=clock,
    )
    dispatcher.include_router(probe_router())
    return Telegram.create(dispatcher)


async def test_a_draft_survives_a_restart_of_the_bot(
    sessions: SessionFactory, config: LiankaConfig, clock: FrozenClock
) -> None:
    first = build(sessions, config, clock)
    user = first.user()
    await user.send("/note")
    assert user.last == "请输入内容"

    restarted = build(sessions, config, clock)  # a new dispatcher over the same database
    again = restarted.user(first_name=user.first_name, user_id=user.id)
    await again.send("厂房租金减免未落实")
    assert again.last == "已记录：厂房租金减免未落实"


async def test_a_refused_button_gets_a_chinese_alert(
    sessions: SessionFactory, config: LiankaConfig, clock: FrozenClock
) -> None:
    telegram = build(sessions, config, clock)
    user = telegram.user()
    await user.send("/note")
    await user.click("禁止")
    assert user.alerts[-1] == "您无权进行此操作。"


async def test_an_unexpected_error_is_answered_politely_and_logged(
    sessions: SessionFactory,
    config: LiankaConfig,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    telegram = build(sessions, config, clock)
    user = telegram.user()
    await user.send("/boom")
    assert user.last == UNEXPECTED
    assert any("unhandled error" in r.message and r.exc_info for r in caplog.records)


async def test_a_notification_is_queued_once_however_often_it_is_asked_for(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    key = notification_key("accept_warning", case_id=None, stage=1, recipient="i7")
    async with sessions() as session:
        for _ in range(3):
            await enqueue(
                session,
                key=key,
                kind="accept_warning",
                to=Recipient(RecipientKind.INSPECTOR, 0, 7),
                notice=Notice.of("_plain", text="请于今日18:00前签收"),
                now=clock.now(),
            )
        await session.commit()
    async with sessions() as session:
        rows = (await session.exec(select(Notification))).all()
    assert [(r.key, r.status) for r in rows] == [(key, NotificationStatus.PENDING)]


async def test_a_notification_is_not_queued_when_its_transaction_rolls_back(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    async with sessions() as session:
        await enqueue(
            session,
            key="x:y:0:",
            kind="y",
            to=Recipient(RecipientKind.REPORTER, 0, 1),
            notice=Notice.of("_plain", text="已受理"),
            now=clock.now(),
        )
        await session.rollback()
    async with sessions() as session:
        assert (await session.exec(select(col(Notification.id)))).all() == []


def test_templates_escape_what_people_typed() -> None:
    from datetime import UTC, datetime

    text = render(
        "_selftest",
        name="<b>某公司</b> & 子公司",
        at=datetime(2026, 11, 26, 10, 0, tzinfo=UTC),
        amount=17_000_000,
    )
    assert "&lt;b&gt;某公司&lt;/b&gt; &amp; 子公司" in text
    assert "2026-11-26 18:00" in text  # Asia/Shanghai
    assert "1700万元" in text


def test_amounts_in_yuan_show_as_wan() -> None:
    assert yuan_to_wan(125_000) == "12.5"
    assert yuan_to_wan(27_960_000) == "2796"
    assert yuan_to_wan(1) == "0.0001"
    assert yuan_to_wan(None) == "—"


def test_times_are_shown_in_shanghai() -> None:
    from datetime import UTC, datetime

    at = datetime(2026, 12, 31, 17, 30, tzinfo=UTC)
    assert local_time(at) == "2027-01-01 01:30"
    assert local_date(at) == "2027年01月01日（周五）"
    assert local_time(at + timedelta(hours=0), "%H:%M") == "01:30"
