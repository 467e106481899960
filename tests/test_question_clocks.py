"""提问 and the 办结 clock: the clock waits while a question is open and runs again once it is
answered, whatever team asked it and whenever the answer comes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.acceptance import accept_case
from bot.services.case_lists import case_detail, count_stats
from bot.services.case_search import CaseFilters, search_cases
from bot.services.decisions import decide_request
from bot.services.policy import Policy
from bot.services.relay import answer_question, ask_reporter
from bot.services.requests import transfer_case
from bot.services.supervision import overdue_notice
from bot.services.sweep import sweep_deadlines
from models.calendar import WorkCalendar
from models.case import Case
from models.clock import ClockKind, ClockState
from models.relay import RelayMessage, RelayStatus
from models.reporter import Reporter
from models.team import Inspector, Role, Team
from tests.casework import accept, clock_of, make_staff, outbox, report, sh
from tests.factories import make_inspector

pytestmark = pytest.mark.both_databases

REPORTER = 7_000_001


async def _reporter(sessions: SessionFactory) -> Reporter:
    async with sessions() as session:
        return (
            await session.exec(select(Reporter).where(Reporter.telegram_user_id == REPORTER))
        ).one()


async def test_a_question_left_by_the_team_before_does_not_stop_the_new_teams_clock(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    """营商环境组 asks, then the case is 转办 to 重点项目组, which accepts, asks its own question
    and has it answered: its 办结 clock runs again (it stayed paused for good, waiting for the
    first team's question, and no reminder or escalation ever came)."""
    policy = Policy(catalog, calendar)
    start = sh(2026, 11, 26, 10)
    async with sessions() as session:
        staff = await make_staff(session, start)
        projects = await make_inspector(
            session, start, team_code="key_projects", name="周监督", telegram_user_id=502
        )
        await make_inspector(
            session, start, team_code="key_projects", name="钱组长", role=Role.TEAM_LEADER,
            telegram_user_id=602,
        )  # fmt: skip
        team = (await session.exec(select(Team).where(Team.code == "key_projects"))).one()
    case = await report(sessions, catalog, calendar, start, telegram_user_id=REPORTER)
    assert case.id is not None and team.id is not None
    await accept(sessions, catalog, calendar, case.id, start)
    asked = sh(2026, 11, 27, 10)
    async with sessions() as session:
        first = await ask_reporter(
            session, staff.inspector, case.id, question="合同编号是多少？", now=asked
        )
        request = await transfer_case(
            session, staff.inspector, case.id, team_id=team.id, reason="属重点项目组职责",
            now=asked + timedelta(hours=1),
        )  # fmt: skip
    async with sessions() as session:
        leader = await session.get(Inspector, staff.team_leader.id)
        assert leader is not None and request.id is not None
        await decide_request(
            session, leader, request.id, approve=True, policy=policy,
            now=asked + timedelta(hours=2),
        )  # fmt: skip
    async with sessions() as session:
        member = await session.get(Inspector, projects.id)
        assert member is not None
        await accept_case(session, member, case.id, policy=policy, now=sh(2026, 11, 30, 10))
        second = await ask_reporter(
            session, member, case.id, question="项目名称是什么？", now=sh(2026, 11, 30, 11)
        )
    assert second.id is not None
    async with sessions() as session:
        await answer_question(
            session, await _reporter(sessions), second.id, answer="经开区厂房项目",
            policy=policy, now=sh(2026, 11, 30, 15),
        )  # fmt: skip
        gone = await session.get(RelayMessage, first.id)
        assert gone is not None and gone.status is RelayStatus.CANCELLED

    clock = await clock_of(sessions, case.id, ClockKind.RESOLVE)
    assert clock.state is ClockState.RUNNING and clock.next_action_at is not None
    await sweep_deadlines(sessions, catalog, calendar, clock.due_at + timedelta(minutes=1))
    assert [row.kind for row in await outbox(sessions, "resolve_overdue")]  # it is chased


@pytest.mark.parametrize("answered_after_due", [timedelta(hours=2), timedelta(days=1, hours=2)])
async def test_a_question_asked_on_the_due_day_and_answered_after_hours_leaves_a_working_day(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    answered_after_due: timedelta,
) -> None:
    """Asked at 10:00 on the due day (eight office hours left), answered at 20:00 that evening or
    the next: the case is not overdue the moment the reporter answers (it was, at once, with the
    overdue notice sent to the assignee and the team leader at 20:01); it is due at the end of
    the next working day, and chased from there as usual."""
    policy = Policy(catalog, calendar)
    start = sh(2026, 11, 26, 10)
    async with sessions() as session:
        staff = await make_staff(session, start)
    case = await report(sessions, catalog, calendar, start, telegram_user_id=REPORTER)
    assert case.id is not None
    await accept(sessions, catalog, calendar, case.id, start)
    due = (await clock_of(sessions, case.id, ClockKind.RESOLVE)).due_at
    async with sessions() as session:
        question = await ask_reporter(
            session,
            staff.inspector,
            case.id,
            question="合同编号是多少？",
            now=due - timedelta(hours=8),
        )
    assert question.id is not None
    answered = due + answered_after_due
    async with sessions() as session:
        await answer_question(
            session, await _reporter(sessions), question.id, answer="AJ-017", policy=policy,
            now=answered,
        )  # fmt: skip

    clock = await clock_of(sessions, case.id, ClockKind.RESOLVE)
    next_day = calendar.add_workdays(answered.astimezone(calendar.tz).date(), 1)
    assert clock.due_at == datetime.combine(next_day, calendar.office_day_end, calendar.tz)
    assert clock.state is ClockState.RUNNING
    await sweep_deadlines(sessions, catalog, calendar, answered + timedelta(minutes=1))
    assert await outbox(sessions, "resolve_overdue") == []
    await sweep_deadlines(sessions, catalog, calendar, clock.due_at + timedelta(minutes=1))
    assert await outbox(sessions, "resolve_overdue")  # and overdue once that day has passed


async def test_a_case_overdue_when_its_reporter_is_asked_stays_overdue_on_every_console_count(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    """The 办结 deadline passed, then the inspector asked the reporter something: waiting for the
    answer gives no time back, and the report counts the case overdue; /stats, the case's line
    and page, the 超期 filter and the weekly 超期通报 say the same (they counted running clocks
    only, so the case vanished from them while the question was open)."""
    start = sh(2026, 11, 26, 10)
    async with sessions() as session:
        staff = await make_staff(session, start)
    case = await report(sessions, catalog, calendar, start, telegram_user_id=REPORTER)
    assert case.id is not None
    await accept(sessions, catalog, calendar, case.id, start)
    due = (await clock_of(sessions, case.id, ClockKind.RESOLVE)).due_at
    asked = due + timedelta(days=3)
    async with sessions() as session:
        await ask_reporter(
            session, staff.inspector, case.id, question="合同编号是多少？", now=asked
        )
    assert (await clock_of(sessions, case.id, ClockKind.RESOLVE)).state is ClockState.PAUSED
    now = asked + timedelta(days=1)

    async with sessions() as session:
        stats = await count_stats(session, staff.leader, now)
        loaded = await session.get(Case, case.id)
        assert loaded is not None
        detail = await case_detail(session, loaded, now)
        found = await search_cases(
            session, staff.leader, filters=CaseFilters(overdue=True), page=1, now=now,
            calendar=calendar,
        )  # fmt: skip
        notice = await overdue_notice(session, now)
    assert [overdue for _, _, _, overdue in stats.by_team] == [1]
    assert detail.line.overdue
    assert [(item.line.number, item.line.overdue) for item in found.items] == [(case.number, True)]
    assert notice.total == 1


async def test_a_case_asked_about_with_time_left_is_not_overdue_while_it_waits(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    start = sh(2026, 11, 26, 10)
    async with sessions() as session:
        staff = await make_staff(session, start)
    case = await report(sessions, catalog, calendar, start, telegram_user_id=REPORTER)
    assert case.id is not None
    await accept(sessions, catalog, calendar, case.id, start)
    due = (await clock_of(sessions, case.id, ClockKind.RESOLVE)).due_at
    async with sessions() as session:
        await ask_reporter(
            session,
            staff.inspector,
            case.id,
            question="合同编号是多少？",
            now=due - timedelta(days=1),
        )
    now = due + timedelta(days=5)  # the answer still awaited, past the old deadline
    async with sessions() as session:
        stats = await count_stats(session, staff.leader, now)
        notice = await overdue_notice(session, now)
    assert [overdue for _, _, _, overdue in stats.by_team] == [0]
    assert notice.total == 0
