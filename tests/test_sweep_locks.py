"""The deadline sweep and staff actions on one case at once, on PostgreSQL: they lock the case's
row before its clock's, so neither waits for the other in a circle (PostgreSQL would abort one:
a staff member's action refused, or the clock left for the next sweep)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

import bot.services.sweep as sweep_module
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.sweep import sweep_deadlines
from models.calendar import WorkCalendar
from models.clock import ClockKind, ClockStage
from tests.casework import clock_of, make_staff, report, sh
from tests.conftest import DEFAULT_NOW

pytestmark = pytest.mark.both_databases

ACCEPT_WARNING = sh(2026, 11, 27, 9)  # 签收 due Friday 27 Nov 18:00: warned that morning


async def _someone_waits(sessions: SessionFactory) -> None:
    """Until a statement waits for a row lock another transaction holds."""
    for _ in range(200):
        async with sessions() as session:
            waiting = (
                await (await session.connection()).execute(
                    text("SELECT count(*) FROM pg_locks WHERE NOT granted")
                )
            ).scalar_one()
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the sweep never waited for the staff action's lock")


async def test_a_staff_action_holding_the_case_while_the_sweep_acts_on_its_clock_both_finish(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks are PostgreSQL's (SQLite writes one transaction at a time)")
    async with sessions() as session:
        await make_staff(session, DEFAULT_NOW)
    case = await report(sessions, catalog, calendar, DEFAULT_NOW)
    assert case.id is not None
    clock = await clock_of(sessions, case.id, ClockKind.ACCEPT)
    assert clock.id is not None
    sweep_module._failing.add(clock.id)  # acted on alone: the per-clock path
    try:
        async with sessions() as staff:  # a staff action: the case first, then its clock
            connection = await staff.connection()
            await connection.execute(
                text("SELECT id FROM cases WHERE id = :id FOR UPDATE"), {"id": case.id}
            )
            sweeping = asyncio.create_task(
                sweep_deadlines(sessions, catalog, calendar, ACCEPT_WARNING)
            )
            await _someone_waits(sessions)
            async with asyncio.timeout(10):
                await connection.execute(
                    text("SELECT id FROM case_clocks WHERE id = :id FOR UPDATE"), {"id": clock.id}
                )
            await staff.commit()
        async with asyncio.timeout(30):
            swept = await sweeping
    finally:
        sweep_module._failing.ids.clear()

    assert [plan.case_number for plan in swept.plans] == [case.number]
    warned = await clock_of(sessions, case.id, ClockKind.ACCEPT)
    assert (warned.stage, warned.claimed_by) == (ClockStage.WARNED, None)
