"""A case that went past its deadline while waiting for the reporter's answer still climbs the
ladder once the answer comes: the team leader, then the leader, are told."""

from __future__ import annotations

import pytest

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.clocks import pause_clock, resume_clock
from bot.services.sweep import sweep_deadlines
from models.calendar import WorkCalendar
from models.clock import ClockKind, ClockStage
from tests.casework import accept, clock_of, make_staff, outbox, report, sh

pytestmark = pytest.mark.both_databases


async def test_an_answer_after_the_deadline_lets_the_sweep_escalate(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    start = sh(2026, 11, 2, 10)
    async with sessions() as session:
        await make_staff(session, start)
    case = await report(sessions, catalog, calendar, start)
    assert case.id is not None
    await accept(sessions, catalog, calendar, case.id, start)
    resolve = await clock_of(sessions, case.id, ClockKind.RESOLVE)  # due 23 Nov, 18:00
    await sweep_deadlines(sessions, catalog, calendar, resolve.due_at)  # overdue
    assert (await clock_of(sessions, case.id, ClockKind.RESOLVE)).stage == ClockStage.OVERDUE

    asked = sh(2026, 11, 24, 9)
    async with sessions() as session:
        await pause_clock(session, case.id, ClockKind.RESOLVE, asked)
        await session.commit()
    answered = sh(2026, 11, 24, 15)  # same working day: the deadline does not move
    async with sessions() as session:
        await resume_clock(session, case.id, ClockKind.RESOLVE, calendar, answered, warn_before=1)
        await session.commit()
    rearmed = await clock_of(sessions, case.id, ClockKind.RESOLVE)
    assert rearmed.next_action_at is not None and rearmed.stage == ClockStage.OVERDUE

    await sweep_deadlines(sessions, catalog, calendar, sh(2026, 11, 26, 18, 5))
    assert [n.kind for n in await outbox(sessions, "resolve_escalated")] == ["resolve_escalated"]
