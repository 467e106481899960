"""The leaders' counts of the whole queue (/stats and the 工作台's 案件总览) over a demo history:
what the database counts is what counting the cases one by one gives, by status, by team (open,
done, overdue), 督办 and the amount coordinated."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlmodel import col, select

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.case_lists import WORK_CLOCKS, count_stats
from demo import generate_demo
from models.calendar import SHANGHAI, WorkCalendar
from models.case import FINISHED_STATUSES, OPEN_STATUSES, Case
from models.clock import CaseClock, ClockState
from models.team import Inspector, Role, Team

pytestmark = pytest.mark.both_databases

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)
LATER = NOW + timedelta(days=30)  # the history's open cases are past their deadlines by then


async def test_the_queue_counts_agree_with_the_cases_counted_one_by_one(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    await generate_demo(sessions, catalog, calendar, NOW, cases=150, seed=11, months=3)
    async with sessions() as session:
        leader = (
            await session.exec(select(Inspector).where(Inspector.role == Role.LEADER))
        ).first()
        assert leader is not None
        stats = await count_stats(session, leader, LATER)
        cases = list((await session.exec(select(Case))).all())
        late_ids = {
            clock.case_id
            for clock in (
                await session.exec(
                    select(CaseClock).where(
                        CaseClock.state == ClockState.RUNNING,
                        col(CaseClock.due_at) <= LATER,
                        col(CaseClock.kind).in_(WORK_CLOCKS),
                    )
                )
            ).all()
        }
        teams = list((await session.exec(select(Team).order_by(col(Team.id)))).all())
    by_status = Counter(case.status for case in cases)
    assert dict(stats.by_status) == dict(by_status)
    expected_teams = []
    for team in teams:
        mine = [case for case in cases if case.team_id == team.id]
        if not mine:
            continue
        open_cases = [case for case in mine if case.status in OPEN_STATUSES]
        expected_teams.append(
            (
                team.name,
                len(open_cases),
                sum(case.status in FINISHED_STATUSES for case in mine),
                sum(case.id in late_ids for case in open_cases),
            )
        )
    assert stats.by_team == expected_teams
    assert any(row[3] for row in stats.by_team)  # the history has overdue open cases
    assert stats.total == len(cases) == 150
    assert stats.supervised == sum(c.supervised and c.status in OPEN_STATUSES for c in cases)
    assert stats.amount_yuan == sum(case.amount_coordinated_yuan or 0 for case in cases)
    assert stats.amount_yuan > 0
