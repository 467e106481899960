"""The deadline sweep, with ``now`` as a parameter: warnings, overdue notices, escalation, 督办,
extensions, pauses, a catch-up digest, dry runs, and every notice exactly once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.clocks import extend_clock, pause_clock, resume_clock
from bot.services.sweep import SweepReport, sweep_deadlines
from models.calendar import WorkCalendar
from models.case import Case
from models.clock import ClockKind, ClockStage, ClockState
from models.event import CaseEvent, EventKind
from models.notification import Notification, NotificationStatus
from notifications.render import telegram_html
from notifications.telegram import notice_keyboard
from tests.casework import (
    accept,
    case_of,
    clock_of,
    make_staff,
    outbox,
    report,
    sh,
)
from tests.conftest import DEFAULT_NOW

pytestmark = pytest.mark.both_databases

SUBMITTED = DEFAULT_NOW  # Thursday 26 Nov 2026, 10:00 in Shanghai
ACCEPT_WARNING = sh(2026, 11, 27, 9)  # 签收 due Friday 27 Nov 18:00: warned that morning
ACCEPT_DUE = sh(2026, 11, 27, 18)
ACCEPT_ESCALATION = sh(2026, 12, 1, 18)  # two working days later: Monday, Tuesday


async def sweep(
    sessions: SessionFactory,
    config: LiankaConfig,
    calendar: WorkCalendar,
    *moments: datetime,
    **options: Any,
) -> SweepReport:
    reports = []
    for now in moments:
        reports.append(await sweep_deadlines(sessions, config, calendar, now, **options))
    return reports[-1]


def chats(rows: list[Notification]) -> list[tuple[str, int]]:
    return sorted((row.kind, row.chat_id or 0) for row in rows)


async def test_the_assignee_is_warned_once_on_the_morning_the_accept_deadline_falls(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
    case = await report(sessions, catalog, calendar, SUBMITTED)
    assert case.id is not None

    await sweep(sessions, catalog, calendar, ACCEPT_WARNING - timedelta(minutes=1))
    assert await outbox(sessions, "accept_") == []

    await sweep(
        sessions,
        catalog,
        calendar,
        ACCEPT_WARNING,
        ACCEPT_WARNING + timedelta(minutes=1),
        ACCEPT_WARNING + timedelta(hours=3),
    )
    (warning,) = await outbox(sessions, "accept_")
    assert (warning.kind, warning.chat_id) == ("accept_warning", 501)
    assert telegram_html(warning).startswith(
        "【催办】问题 AJ-2026-00001 签收期限为今日18:00，请及时签收。"
    )
    assert notice_keyboard(warning) is not None  # the inspector's buttons, to act at once
    clock = await clock_of(sessions, case.id, ClockKind.ACCEPT)
    assert (clock.stage, clock.next_action_at, clock.claimed_by) == (
        ClockStage.WARNED,
        ACCEPT_DUE,
        None,
    )


async def test_overdue_goes_to_the_assignee_and_team_leader_then_the_leader_two_days_on(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
    case = await report(sessions, catalog, calendar, SUBMITTED)
    assert case.id is not None

    await sweep(sessions, catalog, calendar, ACCEPT_WARNING, ACCEPT_DUE, ACCEPT_DUE)
    assert chats(await outbox(sessions, "accept_")) == [
        ("accept_overdue", 501),
        ("accept_overdue", 601),
        ("accept_warning", 501),
    ]
    overdue = (await outbox(sessions, "accept_overdue"))[1]
    assert "签收已逾期（期限 今日18:00），承办人：李监督，请督促办理。" in telegram_html(overdue)
    clock = await clock_of(sessions, case.id, ClockKind.ACCEPT)
    assert (clock.stage, clock.next_action_at) == (ClockStage.OVERDUE, ACCEPT_ESCALATION)

    await sweep(sessions, catalog, calendar, ACCEPT_ESCALATION - timedelta(minutes=1))
    assert await outbox(sessions, "accept_escalated") == []
    await sweep(
        sessions, catalog, calendar, ACCEPT_ESCALATION, ACCEPT_ESCALATION + timedelta(days=3)
    )
    (escalated,) = await outbox(sessions, "accept_escalated")
    assert escalated.chat_id == 701
    assert "问题 AJ-2026-00001 签收已逾期超过2个工作日" in telegram_html(escalated)
    assert "请您督促办理" in telegram_html(escalated) and "【" not in telegram_html(escalated)
    assert "李监督" in telegram_html(escalated)
    clock = await clock_of(sessions, case.id, ClockKind.ACCEPT)
    assert (clock.stage, clock.next_action_at, clock.state) == (
        ClockStage.ESCALATED,
        None,
        ClockState.RUNNING,
    )
    async with sessions() as session:
        events = [e.kind for e in (await session.exec(select(CaseEvent))).all()]
    assert events.count(EventKind.REMINDED) >= 2 and EventKind.ESCALATED in events


async def test_a_supervised_case_tells_the_team_leader_at_the_warning_and_the_leader_at_the_deadline(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
    case = await report(sessions, catalog, calendar, SUBMITTED)
    assert case.id is not None
    async with sessions() as session:
        supervised = await session.get(Case, case.id)
        assert supervised is not None
        supervised.supervised = True
        session.add(supervised)
        await session.commit()

    await sweep(sessions, catalog, calendar, ACCEPT_WARNING)
    warnings = await outbox(sessions, "accept_warning")
    assert chats(warnings) == [("accept_warning", 501), ("accept_warning", 601)]
    assert all(telegram_html(w).startswith("【督办】【催办】") for w in warnings)

    await sweep(sessions, catalog, calendar, ACCEPT_DUE, ACCEPT_ESCALATION)
    assert chats(await outbox(sessions, "accept_")) == [
        ("accept_escalated", 701),
        ("accept_overdue", 501),
        ("accept_overdue", 601),
        ("accept_warning", 501),
        ("accept_warning", 601),
    ]
    clock = await clock_of(sessions, case.id, ClockKind.ACCEPT)
    assert (clock.stage, clock.next_action_at) == (ClockStage.ESCALATED, None)


async def test_an_extended_deadline_warns_afresh_and_is_not_overdue_at_the_old_one(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
    case = await report(sessions, catalog, calendar, SUBMITTED)
    assert case.id is not None
    await accept(sessions, catalog, calendar, case.id, SUBMITTED)
    clock = await clock_of(sessions, case.id, ClockKind.RESOLVE)
    assert clock.due_at == sh(2026, 12, 17, 18)  # 15 working days

    await sweep(sessions, catalog, calendar, sh(2026, 12, 16, 18))
    async with sessions() as session:
        await extend_clock(
            session,
            case.id,
            ClockKind.RESOLVE,
            5,
            calendar=calendar,
            now=sh(2026, 12, 16, 19),
            warn_before=catalog.deadlines.warn_before,
        )
        await session.commit()
    await sweep(sessions, catalog, calendar, sh(2026, 12, 17, 18), sh(2026, 12, 23, 18))
    warnings = await outbox(sessions, "resolve_")
    assert [w.kind for w in warnings] == ["resolve_warning", "resolve_warning"]
    assert "办结期限为12月17日 18:00" in telegram_html(warnings[0])
    assert "办结期限为12月24日 18:00" in telegram_html(warnings[1])
    assert warnings[0].key != warnings[1].key


async def test_a_paused_clock_is_silent_and_its_deadline_moves_by_the_pause(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
    case = await report(sessions, catalog, calendar, SUBMITTED)
    assert case.id is not None
    await accept(sessions, catalog, calendar, case.id, SUBMITTED)
    async with sessions() as session:
        await pause_clock(session, case.id, ClockKind.RESOLVE, sh(2026, 12, 10, 10))
        await session.commit()

    await sweep(sessions, catalog, calendar, sh(2026, 12, 16, 18), sh(2026, 12, 17, 18))
    assert await outbox(sessions, "resolve_") == []

    async with sessions() as session:
        resumed = await resume_clock(
            session,
            case.id,
            ClockKind.RESOLVE,
            calendar,
            sh(2026, 12, 21, 10),
            warn_before=catalog.deadlines.warn_before,
        )
        await session.commit()
    assert resumed is not None and resumed.due_at == sh(2026, 12, 28, 18)
    await sweep(sessions, catalog, calendar, sh(2026, 12, 25, 18), sh(2026, 12, 25, 19))
    (warning,) = await outbox(sessions, "resolve_")
    assert "办结期限为12月28日 18:00" in telegram_html(warning)


async def test_a_day_down_is_caught_up_with_one_digest_per_busy_person_and_no_stale_warnings(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
    for n in range(3):
        await report(sessions, catalog, calendar, SUBMITTED, telegram_user_id=7_100_000 + n)

    back_up = sh(2026, 12, 2, 10)  # Wednesday: 签收 and 受理告知 have both passed
    first = await sweep(sessions, catalog, calendar, back_up)
    assert not [n for n in first.notices if n.kind.endswith("_warning")]
    # the three identical reports are also 疑似重复件 of the first: not the sweep's notices
    rows = [r for r in await outbox(sessions) if r.kind not in ("assigned", "inspector_repeat")]
    sendable = [r for r in rows if r.status is NotificationStatus.PENDING]
    assert chats(sendable) == [
        ("accept_escalated", 701),
        ("accept_escalated", 701),
        ("accept_escalated", 701),
        ("deadline_digest", 501),
        ("deadline_digest", 601),
    ]
    digest = next(r for r in sendable if r.chat_id == 501)
    assert telegram_html(digest).startswith("【待办汇总】您有 6 项期限提醒")
    assert (
        telegram_html(digest).count("签收已逾期") == 3
        and telegram_html(digest).count("受理告知已逾期") == 3
    )
    folded = [r for r in rows if r.status is NotificationStatus.DIGESTED]
    assert len(folded) == 12 and {r.chat_id for r in folded} == {501, 601}

    await sweep(sessions, catalog, calendar, back_up + timedelta(minutes=1))
    assert len(await outbox(sessions)) == len(rows) + 3 + 2  # the assignments, the 疑似重复件


async def test_a_dry_run_lists_what_would_be_sent_and_changes_nothing(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
    case = await report(sessions, catalog, calendar, SUBMITTED)
    assert case.id is not None
    before = await clock_of(sessions, case.id, ClockKind.ACCEPT)

    dry = await sweep(sessions, catalog, calendar, ACCEPT_DUE, dry_run=True)
    assert sorted((n.kind, n.recipient.chat_id) for n in dry.notices) == [
        ("accept_overdue", 501),
        ("accept_overdue", 601),
    ]
    assert [r.kind for r in await outbox(sessions)] == ["assigned"]
    after = await clock_of(sessions, case.id, ClockKind.ACCEPT)
    assert (after.stage, after.next_action_at, after.claimed_by) == (
        before.stage,
        before.next_action_at,
        None,
    )
    assert (await case_of(sessions, case.id)).event_count == 3

    real = await sweep(sessions, catalog, calendar, ACCEPT_DUE)
    assert sorted(n.key for n in real.notices) == sorted(n.key for n in dry.notices)


async def test_admins_are_told_once_that_deadlines_in_2027_are_provisional(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    async with sessions() as session:
        staff = await make_staff(session, SUBMITTED)
    case = await report(sessions, catalog, calendar, sh(2026, 12, 30, 10))
    assert case.id is not None
    first_reply = await clock_of(sessions, case.id, ClockKind.FIRST_REPLY)
    assert first_reply.provisional and first_reply.due_at == sh(2027, 1, 5, 18)

    await sweep(sessions, catalog, calendar, sh(2026, 12, 30, 10, 1), sh(2026, 12, 30, 10, 2))
    (notice,) = await outbox(sessions, "admin_")
    assert notice.key == f"calendar:provisional:2027:i{staff.admin.id}"
    assert notice.chat_id == 801 and "2027年节假日安排尚未载入" in telegram_html(notice)


async def test_an_overdue_clue_in_a_team_without_a_leader_tells_no_admin_anything_of_it(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    """A clue is seen only by its team leader and assignee: with nobody on its team, the
    deadline notices do not fall back to the admins (routing told them the team needs a leader,
    and nothing of the clue); the escalation still reaches the commission's leader."""
    async with sessions() as session:
        staff = await make_staff(session, SUBMITTED)  # the business team; the SOE team is empty
    clue = await report(
        sessions, catalog, calendar, SUBMITTED, category="soe_corruption", description=SOE_CLUE
    )
    assert clue.id is not None
    await sweep(
        sessions,
        catalog,
        calendar,
        ACCEPT_WARNING,
        ACCEPT_DUE,
        ACCEPT_ESCALATION,
        ACCEPT_ESCALATION,
    )
    to_admin = [
        row.kind
        for row in await outbox(sessions, "")
        if row.chat_id == staff.admin.telegram_user_id
    ]
    assert to_admin == ["clue_unattended"]
    (escalated,) = await outbox(sessions, "accept_escalated")
    assert escalated.chat_id == staff.leader.telegram_user_id
    assert telegram_html(escalated).startswith("有一件问题线索签收已逾期超过2个工作日")
    assert "已提醒承办组组长督促办理" in telegram_html(escalated)


SOE_CLUE = "某国有企业负责人利用职务便利，在设备采购中指定供应商并收受好处，请予核查。"
