"""反馈整改 and 核验 as use cases: who may, within which bounds, what 办结 waits for, and what a
case leaving its step does to an open 整改."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import FrozenClock
from bot.config import LiankaConfig, RectificationConfig, ReviewConfig
from bot.db import SessionFactory
from bot.services.acceptance import accept_case
from bot.services.assignment import reassign_case
from bot.services.decisions import decide_request
from bot.services.inspectors import get_actor
from bot.services.my_cases import reporter_view
from bot.services.policy import Policy
from bot.services.rectification import (
    set_rectification,
    verify_rectification,
    withdraw_rectification,
)
from bot.services.repeats import merge_repeat
from bot.services.requests import transfer_case
from bot.services.resolution import resolve_case
from bot.services.schedule import load_year_schedule, read_schedule
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus, Outcome
from models.clock import ClockState
from models.errors import DomainError, PermissionDenied
from models.event import CaseEvent, EventKind
from models.rectification import Rectification, RectificationState
from models.request import ApprovalRequest
from models.team import Role, Team
from notifications.render import render_notice
from reports.figures import Scope, rectification_figures
from reports.periods import custom
from tests.casework import outbox, sh
from tests.inspector_support import (
    BUSINESS_LEADER,
    INSPECTOR,
    PROJECTS_INSPECTOR,
    SECOND_INSPECTOR,
    SOE,
    SOE_INSPECTOR,
    SOE_LEADER,
    clocks,
    events,
    load,
    make_people,
    submit,
)

pytestmark = pytest.mark.both_databases

UNIT = "安居区住建局"
WHAT = "限期办理配套费返还手续。"


async def _accepted(
    sessions: SessionFactory,
    policy: Policy,
    clock: FrozenClock,
    case: Case,
    person: int = INSPECTOR,
) -> None:
    async with sessions() as session:
        actor = await get_actor(session, person)
        await accept_case(session, actor, case.id or 0, policy=policy, now=clock.now())


async def _set(
    sessions: SessionFactory, policy: Policy, now: datetime, case: Case, *, who: int = INSPECTOR,
    days: int | None = 5,
) -> Rectification:  # fmt: skip
    async with sessions() as session:
        actor = await get_actor(session, who)
        done = await set_rectification(
            session, actor, case.id or 0, requirement=WHAT, unit=UNIT, days=days, policy=policy,
            now=now,
        )  # fmt: skip
    return done.rectification


async def _verify(
    sessions: SessionFactory, now: datetime, case: Case, *, passed: bool, who: int = INSPECTOR
) -> Rectification:
    async with sessions() as session:
        actor = await get_actor(session, who)
        done = await verify_rectification(
            session, actor, case.id or 0, passed=passed, note="已现场核实。", now=now
        )
    return done.rectification


@contextmanager
def refused(text: str) -> Iterator[None]:
    """A domain error whose message (what the person reads) says ``text``."""
    with pytest.raises(DomainError) as caught:
        yield
    assert text in caught.value.message


async def _rows(sessions: SessionFactory) -> list[Rectification]:
    async with sessions() as session:
        return list((await session.exec(select(Rectification))).all())


async def _count_events(sessions: SessionFactory) -> int:
    async with sessions() as session:
        return (await session.exec(select(func.count()).select_from(CaseEvent))).one()


async def test_the_unit_gets_the_configured_days_by_default_and_no_more_than_the_most(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    people = await make_people(sessions, clock)
    policy = Policy(catalog, calendar)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    await _accepted(sessions, policy, clock, case)
    with refused("整改期限应为1至60个工作日"):
        await _set(sessions, policy, clock.now(), case, days=61)
    row = await _set(sessions, policy, clock.now(), case, days=None)
    assert row.working_days == 15 and row.due_at == sh(2026, 12, 17, 18)  # Thu 26 Nov + 15
    with refused("已有整改要求尚未核验"):
        await _set(sessions, policy, clock.now(), case)
    assert len(await _rows(sessions)) == 1
    with pytest.raises(ValidationError):
        RectificationConfig(days=70, max_days=60)


async def test_only_the_assignee_of_an_appeal_at_work_sets_and_verifies_a_rectification(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    people = await make_people(sessions, clock)
    policy = Policy(catalog, calendar)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    with refused("不能反馈整改"):  # not yet 签收
        await _set(sessions, policy, clock.now(), case)
    await _accepted(sessions, policy, clock, case)
    before = await _count_events(sessions)
    for other in (BUSINESS_LEADER, PROJECTS_INSPECTOR):
        with pytest.raises(PermissionDenied):
            await _set(sessions, policy, clock.now(), case, who=other)
    await _set(sessions, policy, clock.now(), case)
    with pytest.raises(PermissionDenied):
        await _verify(sessions, clock.now(), case, passed=True, who=BUSINESS_LEADER)
    assert await _count_events(sessions) == before + 1  # the one 反馈整改

    clue = await submit(
        sessions, catalog, calendar, clock, people.reporter, category="soe_corruption",
        description=SOE,
    )  # fmt: skip
    async with sessions() as session:
        leader = await get_actor(session, 802)
        soe = await get_actor(session, SOE_INSPECTOR)
        if (await session.get(Case, clue.id)).assignee_id is None:  # type: ignore[union-attr]
            await reassign_case(
                session, leader, clue.id or 0, inspector_id=soe.id or 0, policy=policy,
                now=clock.now(),
            )  # fmt: skip
    await _accepted(sessions, policy, clock, clue, SOE_INSPECTOR)
    with refused("问题线索不适用整改"):
        await _set(sessions, policy, clock.now(), clue, who=SOE_INSPECTOR)


async def test_resolving_waits_for_the_verification_and_rectified_needs_one_verified(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    people = await make_people(sessions, clock)
    policy = Policy(catalog, calendar)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    await _accepted(sessions, policy, clock, case)

    async def resolve(outcome: Outcome) -> Case:
        async with sessions() as session:
            actor = await get_actor(session, INSPECTOR)
            return await resolve_case(
                session, actor, case.id or 0, outcome=outcome, summary="已协调解决。",
                amount_yuan=None, policy=policy, now=clock.now(),
            )  # fmt: skip

    with refused("请先反馈整改并核验"):
        await resolve(Outcome.RECTIFIED)
    await _set(sessions, policy, clock.now(), case)
    for outcome in (Outcome.RECTIFIED, Outcome.SOLVED):
        with refused("请先核验整改情况"):
            await resolve(outcome)
    rejected = await _verify(sessions, sh(2026, 11, 27, 10), case, passed=False)
    assert rejected.state is RectificationState.OPEN and rejected.late is None
    assert (await clocks(sessions, case.id or 0))["rectify"].state is ClockState.RUNNING
    verified = await _verify(sessions, sh(2026, 11, 30, 10), case, passed=True)
    assert verified.state is RectificationState.VERIFIED and verified.late is False
    assert (await clocks(sessions, case.id or 0))["rectify"].met_at == sh(2026, 11, 30, 10)
    with refused("没有待核验的整改要求"):
        await _verify(sessions, clock.now(), case, passed=True)
    async with sessions() as session:
        timeline = (await reporter_view(session, await load(sessions, case.number))).timeline
    assert [(t.label, t.note) for t in timeline if "整改" in t.label] == [("要求整改", WHAT)]
    assert "已现场核实" not in str(timeline)  # the 核验 note is the staff's
    assert (await resolve(Outcome.RECTIFIED)).status is CaseStatus.RESOLVED
    verified_events = [
        e
        for e in await events(sessions, case.id or 0)
        if e.kind is EventKind.RECTIFICATION_VERIFIED
    ]
    assert verified_events[0].data["late"] is False and not verified_events[0].public


async def test_the_team_leaders_sign_off_waits_for_the_verification_too(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    people = await make_people(sessions, clock)
    reviewed = catalog.model_copy(update={"review": ReviewConfig(appeal=True)})
    policy = Policy(reviewed, calendar)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    await _accepted(sessions, policy, clock, case)
    async with sessions() as session:
        actor = await get_actor(session, INSPECTOR)
        await resolve_case(
            session, actor, case.id or 0, outcome=Outcome.SOLVED, summary="已协调解决。",
            amount_yuan=None, policy=policy, now=clock.now(),
        )  # fmt: skip
    await _set(sessions, policy, clock.now(), case)  # after the 办结 was submitted for review
    async with sessions() as session:
        request = (await session.exec(select(ApprovalRequest))).one()
        leader = await get_actor(session, BUSINESS_LEADER)
        with refused("请先核验整改情况"):
            await decide_request(
                session, leader, request.id or 0, approve=True, policy=policy, now=clock.now()
            )
    assert (await load(sessions, case.number)).status is CaseStatus.ACCEPTED


async def test_a_transfer_or_a_merge_lapses_the_open_rectification_and_stops_its_clock(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    people = await make_people(sessions, clock)
    policy = Policy(catalog, calendar)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    await _accepted(sessions, policy, clock, case)
    await _set(sessions, policy, clock.now(), case)
    async with sessions() as session:
        actor = await get_actor(session, INSPECTOR)
        team = await _team_id(session, "key_projects")
        request = await transfer_case(
            session, actor, case.id or 0, team_id=team, reason="属重点项目建设问题。",
            now=clock.now(),
        )  # fmt: skip
        leader = await get_actor(session, BUSINESS_LEADER)
        await decide_request(
            session, leader, request.id or 0, approve=True, policy=policy, now=clock.now()
        )
    (row,) = await _rows(sessions)
    assert row.state is RectificationState.LAPSED and row.lapsed_at == clock.now()
    assert (await clocks(sessions, case.id or 0))["rectify"].state is ClockState.CANCELLED
    lapsed = [
        e for e in await events(sessions, case.id or 0) if e.kind is EventKind.RECTIFICATION_LAPSED
    ]
    assert [e.note for e in lapsed] == ["问题已离开本组"]

    # 合并办理: a repeat with an open 整改 is closed into the earlier case
    first = await submit(sessions, catalog, calendar, clock, people.reporter)
    repeat = await submit(sessions, catalog, calendar, clock, people.reporter)
    assert repeat.repeat_of_id == first.id
    holder = (await load(sessions, repeat.number)).assignee_id
    telegram = {people.id(t): t for t in (INSPECTOR, SECOND_INSPECTOR) if t in people.ids}
    await _accepted(sessions, policy, clock, repeat, telegram.get(holder or 0, INSPECTOR))
    who = telegram.get(holder or 0, INSPECTOR)
    await _set(sessions, policy, clock.now(), repeat, who=who)
    async with sessions() as session:
        await merge_repeat(session, await get_actor(session, who), repeat.id or 0, now=clock.now())
    states = {r.case_id: r.state for r in await _rows(sessions)}
    assert states[repeat.id or 0] is RectificationState.LAPSED
    assert (await clocks(sessions, repeat.id or 0))["rectify"].state is ClockState.CANCELLED


async def test_a_reassignment_within_the_team_keeps_the_rectification_for_the_new_assignee(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    people = await make_people(
        sessions, clock, extra=((SECOND_INSPECTOR, "business_env", Role.INSPECTOR, "赵监督"),)
    )
    policy = Policy(catalog, calendar)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    holder = (await load(sessions, case.number)).assignee_id
    first = INSPECTOR if holder == people.id(INSPECTOR) else SECOND_INSPECTOR
    second = SECOND_INSPECTOR if first == INSPECTOR else INSPECTOR
    await _accepted(sessions, policy, clock, case, first)
    await _set(sessions, policy, clock.now(), case, who=first)
    async with sessions() as session:
        leader = await get_actor(session, BUSINESS_LEADER)
        await reassign_case(
            session, leader, case.id or 0, inspector_id=people.id(second), policy=policy,
            now=clock.now(),
        )  # fmt: skip
    with pytest.raises(PermissionDenied):
        await _verify(sessions, clock.now(), case, passed=True, who=first)
    row = await _verify(sessions, clock.now(), case, passed=True, who=second)
    assert row.state is RectificationState.VERIFIED and row.verified_by_id == people.id(second)


async def _team_id(session: AsyncSession, code: str) -> int:
    found = (await session.exec(select(Team).where(Team.code == code))).one()
    assert found.id is not None
    return found.id


async def test_the_rectification_rate_counts_what_fell_due_by_now_and_leaves_out_lapsed_ones(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    people = await make_people(sessions, clock)
    policy = Policy(catalog, calendar)
    by_id = {v: k for k, v in people.ids.items()}
    made = []
    for text in (
        "返还土地出让金至今未到位，请协调。",
        "建筑物配套费迟迟不退，请帮助协调。",
        "审批窗口多次刁难企业办事人员。",
    ):
        case = await submit(sessions, catalog, calendar, clock, people.reporter, description=text)
        holder = by_id[(await load(sessions, case.number)).assignee_id or 0]
        await _accepted(sessions, policy, clock, case, holder)
        made.append((case, holder))
    (on_time, on_time_by), (lapsing, lapsing_by), (later, later_by) = made
    await _set(sessions, policy, clock.now(), on_time, who=on_time_by, days=2)  # due 30 Nov
    await _verify(sessions, sh(2026, 11, 27, 10), on_time, passed=True, who=on_time_by)
    await _set(sessions, policy, clock.now(), lapsing, who=lapsing_by, days=2)
    async with sessions() as session:
        actor = await get_actor(session, lapsing_by)
        team = await _team_id(session, "key_projects")
        request = await transfer_case(
            session, actor, lapsing.id or 0, team_id=team, reason="属重点项目。", now=clock.now()
        )
        leader = await get_actor(session, BUSINESS_LEADER)
        await decide_request(
            session, leader, request.id or 0, approve=True, policy=policy, now=clock.now()
        )
    await _set(sessions, policy, clock.now(), later, who=later_by, days=10)  # due 10 Dec
    async with sessions() as session:
        figures = await rectification_figures(
            session, custom(date(2026, 11, 23), date(2026, 12, 20)), Scope(), sh(2026, 12, 1, 10)
        )
    assert (figures.set, figures.verified, figures.verified_on_time, figures.verified_late) == (
        3, 1, 1, 0,
    )  # fmt: skip
    assert (figures.open, figures.overdue, figures.due, figures.due_on_time) == (1, 0, 1, 1)
    assert figures.rate == 1.0


async def test_the_database_keeps_a_second_open_rectification_out_when_two_race(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    people = await make_people(sessions, clock)
    policy = Policy(catalog, calendar)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    await _accepted(sessions, policy, clock, case)
    await _set(sessions, policy, clock.now(), case)
    before = await _count_events(sessions)

    async def unseen(session: AsyncSession, case_id: int) -> None:
        return None  # the other 反馈整改 has not committed when this one checks

    monkeypatch.setattr("bot.services.rectification.open_rectification", unseen)
    with refused("已有整改要求尚未核验"):
        await _set(sessions, policy, clock.now(), case)
    assert len(await _rows(sessions)) == 1 and await _count_events(sessions) == before


async def test_loading_the_official_2027_schedule_moves_an_open_rectifications_deadline(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    """The panel's 已逾期, the 核验 prompt and the report read the 整改's own deadline: it moves
    with its clock when the year's schedule replaces the computed (暂定) holidays."""
    people = await make_people(sessions, clock)
    policy = Policy(catalog, calendar)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    await _accepted(sessions, policy, clock, case)
    before = await _set(sessions, policy, clock.now(), case, days=55)  # across 春节 2027
    assert before.provisional
    async with sessions() as session:
        await load_year_schedule(
            session, read_schedule(Path(__file__).parent / "data" / "calendar-2027.toml"),
            catalog, clock.now(),
        )  # fmt: skip
    (row,) = await _rows(sessions)
    moved = (await clocks(sessions, case.id or 0))["rectify"]
    assert moved.due_at > before.due_at  # it rests 11–12 Feb too, works Sunday 31 Jan: a day later
    assert (row.due_at, row.provisional) == (moved.due_at, False)


async def test_the_team_leader_withdraws_a_rectification_that_no_longer_stands_and_the_case_can_close(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    """An inspector stuck with a 整改 the unit cannot be made to do (or a finding that changed)
    need not claim a false 核验: the team leader withdraws it with a reason, on the record."""
    people = await make_people(sessions, clock)
    policy = Policy(catalog, calendar)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    await _accepted(sessions, policy, clock, case)
    await _set(sessions, policy, clock.now(), case)

    async def withdraw(who: int) -> Rectification:
        async with sessions() as session:
            done = await withdraw_rectification(
                session, await get_actor(session, who), case.id or 0,
                reason="经核查，配套费减免不属于住建局职责，整改要求有误。", now=clock.now(),
            )  # fmt: skip
        assert done.told_assignee
        return done.rectification

    with pytest.raises(PermissionDenied):
        await withdraw(INSPECTOR)  # the assignee may not drop their own 整改
    with pytest.raises(PermissionDenied):
        await withdraw(SOE_LEADER)  # nor another team's leader
    row = await withdraw(BUSINESS_LEADER)
    assert row.state is RectificationState.LAPSED
    assert (await clocks(sessions, case.id or 0))["rectify"].state is ClockState.CANCELLED
    (event,) = [
        e for e in await events(sessions, case.id or 0) if e.kind is EventKind.RECTIFICATION_LAPSED
    ]
    async with sessions() as session:
        leader = await get_actor(session, BUSINESS_LEADER)
    assert event.actor_id == leader.id and event.data["withdrawn"] is True
    assert "整改要求有误" in (event.note or "") and not event.public
    (told,) = await outbox(sessions, "inspector_rectification_withdrawn")
    assert told.notice is not None
    text = render_notice(told.notice)
    assert f"组长已撤销问题 {case.number} 对{UNIT}的整改要求" in text and "整改要求有误" in text
    with refused("没有待核验的整改要求，无需撤销"):
        await withdraw(BUSINESS_LEADER)
    async with sessions() as session:
        done = await resolve_case(
            session, await get_actor(session, INSPECTOR), case.id or 0, outcome=Outcome.SOLVED,
            summary="经核查已协调解决。", amount_yuan=None, policy=policy, now=clock.now(),
        )  # fmt: skip
    assert done.status is CaseStatus.RESOLVED
