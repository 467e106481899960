"""A person with a console account and no Telegram is a full member of their team: cases are
assigned to them, they lead teams, and what the bot would have told them waits in the console."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from models.calendar import WorkCalendar
from models.notification import Channel, Notification
from notifications.sender import claim_notifications
from tests.casework import report
from tests.console_support import make_account

pytestmark = pytest.mark.both_databases


async def test_a_case_is_assigned_to_an_inspector_who_has_only_the_console(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    _, inspector, _ = await make_account(sessions, clock, role="inspector")
    _, leader, _ = await make_account(sessions, clock, role="team_leader")
    case = await report(sessions, catalog, calendar, clock.now())
    assert case.assignee_id == inspector.id
    async with sessions() as session:
        rows = (await session.exec(select(Notification).order_by(col(Notification.id)))).all()
    mine = [row for row in rows if row.recipient_id == inspector.id]
    assert mine and all(row.channel is Channel.CONSOLE and row.chat_id is None for row in mine)
    assert not [row for row in rows if row.channel is Channel.TELEGRAM and row.chat_id is None]
    assert leader.id is not None


async def test_notices_for_the_console_are_never_handed_to_the_sender(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    await make_account(sessions, clock, role="inspector")
    await report(sessions, catalog, calendar, clock.now())
    async with sessions() as session:
        claimed = await claim_notifications(
            session, clock.now(), "test", 100, timedelta(seconds=30)
        )
        waiting = (
            await session.exec(select(Notification).where(Notification.channel == Channel.CONSOLE))
        ).all()
    assert waiting, "the assignment notice waits for the console"
    assert {row.id for row in waiting}.isdisjoint({row.id for row in claimed})
