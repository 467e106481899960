"""Separation of duties beyond the role matrix: extensions capped per case by the config (filing
and approving both refuse, nothing changed), an admin's stand-in recorded as such, leaders'
lists showing clues as counts only, and a clue's 撤回 by receipt code decided by its team
leader with the reporter told."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, update
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig, LimitsConfig
from bot.db import SessionFactory
from bot.services.acceptance import accept_case
from bot.services.assignment import reassign_case
from bot.services.case_lists import list_queue
from bot.services.case_search import CaseFilters, search_cases
from bot.services.console_home import get_home
from bot.services.decisions import decide_request
from bot.services.inspectors import deactivate_inspector
from bot.services.intake import submit_case
from bot.services.policy import Policy
from bot.services.requests import request_extension
from bot.services.tracking import withdraw_tracked_case
from bot.services.withdrawal import WITHDRAW_NOBODY, WITHDRAW_WAITING
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus
from models.errors import InvalidInput, PermissionDenied
from models.event import CaseEvent, EventKind
from models.intake import CaseDraft
from models.notification import Notification
from models.request import ApprovalRequest, RequestStatus
from models.team import Inspector, Role
from notifications.render import render, telegram_html
from tests.casework import make_staff, report
from tests.factories import make_inspector, make_reporter

CLUE = "某国企负责人在工程分包中收受好处费，指定关系户承接项目，金额巨大。"


async def _counts(sessions: SessionFactory) -> tuple[int, int, int]:
    async with sessions() as session:
        return (
            (await session.exec(select(func.count()).select_from(CaseEvent))).one(),
            (await session.exec(select(func.count()).select_from(ApprovalRequest))).one(),
            (await session.exec(select(func.count()).select_from(Notification))).one(),
        )


async def _accepted_appeal(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar, now: datetime
) -> tuple[int, Inspector, Inspector, Inspector]:
    async with sessions() as session:
        staff = await make_staff(session, now)
    case = await report(sessions, config, calendar, now)
    assert case.id is not None
    async with sessions() as session:
        await accept_case(
            session, staff.inspector, case.id, policy=Policy(config, calendar), now=now
        )
    return case.id, staff.inspector, staff.team_leader, staff.admin


async def _extend(
    sessions: SessionFactory, inspector: Inspector, case_id: int, days: int, now: datetime,
    limits: LimitsConfig,
) -> ApprovalRequest:  # fmt: skip
    async with sessions() as session:
        return await request_extension(
            session, inspector, case_id, days=days, reason="需等待会议研究。", now=now,
            limits=limits,
        )  # fmt: skip


async def test_a_second_extension_past_max_extensions_is_refused_and_nothing_is_written(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    now, limits = clock.now(), LimitsConfig(max_extensions=1, max_extension_days=30)
    policy = Policy(catalog.model_copy(update={"limits": limits}), calendar)
    case_id, inspector, leader, _ = await _accepted_appeal(sessions, catalog, calendar, now)
    first = await _extend(sessions, inspector, case_id, 5, now, limits)
    async with sessions() as session:
        await decide_request(session, leader, first.id or 0, approve=True, policy=policy, now=now)
    before = await _counts(sessions)
    with pytest.raises(InvalidInput) as refused:
        await _extend(sessions, inspector, case_id, 3, now, limits)
    assert "已延期1次，已达上限（每件最多1次）" in refused.value.message
    assert await _counts(sessions) == before


async def test_extensions_past_max_extension_days_in_all_are_refused_with_what_is_left(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    now, limits = clock.now(), LimitsConfig(max_extensions=5, max_extension_days=8)
    policy = Policy(catalog.model_copy(update={"limits": limits}), calendar)
    case_id, inspector, leader, _ = await _accepted_appeal(sessions, catalog, calendar, now)
    first = await _extend(sessions, inspector, case_id, 5, now, limits)
    async with sessions() as session:
        await decide_request(session, leader, first.id or 0, approve=True, policy=policy, now=now)
    before = await _counts(sessions)
    with pytest.raises(InvalidInput) as refused:
        await _extend(sessions, inspector, case_id, 5, now, limits)
    assert "累计不超过8个工作日" in refused.value.message
    assert "最多还可延期3个工作日" in refused.value.message
    assert await _counts(sessions) == before
    await _extend(sessions, inspector, case_id, 3, now, limits)


async def test_approving_past_the_configured_cap_is_refused_and_the_deadline_stays(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    """Filed under a looser cap (or before the config changed): the team leader's approval is
    held to the config as it is now."""
    now = clock.now()
    strict = Policy(catalog.model_copy(update={"limits": LimitsConfig(max_extensions=0)}), calendar)
    case_id, inspector, leader, _ = await _accepted_appeal(sessions, catalog, calendar, now)
    request = await _extend(sessions, inspector, case_id, 5, now, LimitsConfig())
    before = await _counts(sessions)
    async with sessions() as session:
        with pytest.raises(InvalidInput):
            await decide_request(
                session, leader, request.id or 0, approve=True, policy=strict, now=now
            )
    assert await _counts(sessions) == before
    async with sessions() as session:
        row = await session.get(ApprovalRequest, request.id)
        assert row is not None and row.status is RequestStatus.PENDING


async def test_an_admin_deciding_for_a_team_without_a_leader_is_recorded_as_a_stand_in(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    now = clock.now()
    policy = Policy(catalog, calendar)
    case_id, inspector, leader, admin = await _accepted_appeal(sessions, catalog, calendar, now)
    request = await _extend(sessions, inspector, case_id, 5, now, LimitsConfig())
    async with sessions() as session:
        await deactivate_inspector(session, leader.id or 0, now)
    async with sessions() as session:
        await decide_request(session, admin, request.id or 0, approve=False, policy=policy, now=now)
        event = (
            await session.exec(
                select(CaseEvent).where(CaseEvent.kind == EventKind.EXTENSION_REFUSED)
            )
        ).one()
    assert event.data.get("stand_in") is True and event.actor_id == admin.id
    # the inspector is told who decided: not a 组长 the team does not have
    async with sessions() as session:
        told = (
            await session.exec(
                select(Notification).where(Notification.kind == "inspector_request_decided")
            )
        ).one()
    assert "管理员（代行组长职责）未同意您的延期申请" in telegram_html(told)


async def _clue(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar, now: datetime
) -> tuple[Case, str, Inspector]:
    async with sessions() as session:
        leader = await make_inspector(
            session, now, team_code="soe", name="钱组长", role=Role.TEAM_LEADER,
            telegram_user_id=611,
        )  # fmt: skip
        member = await make_inspector(
            session, now, team_code="soe", name="周监督", telegram_user_id=511
        )
        reporter = await make_reporter(session, now, telegram_user_id=7_000_777)
        submitted = await submit_case(
            session,
            reporter,
            CaseDraft("soe_corruption", CLUE, anonymous=True),
            policy=Policy(config, calendar),
            now=now,
        )
    case = submitted.case
    assert case.id is not None and submitted.receipt_code
    async with sessions() as session:
        await reassign_case(
            session, leader, case.id, inspector_id=member.id or 0,
            policy=Policy(config, calendar), now=now,
        )  # fmt: skip
    return case, submitted.receipt_code, leader


async def test_a_leaders_queue_and_home_show_clues_as_counts_not_rows(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    now = clock.now()
    case, _, _ = await _clue(sessions, catalog, calendar, now)
    async with sessions() as session:
        leader = await make_inspector(
            session, now, team_code=None, name="王书记", role=Role.LEADER, telegram_user_id=701
        )
        queue = await list_queue(session, leader, 0, now)
        home = await get_home(session, leader, calendar=calendar, now=now)
        found = await search_cases(
            session, leader, filters=CaseFilters(), page=1, now=now, calendar=calendar
        )
    assert case.number not in {line.number for line in queue.lines}
    assert queue.hidden is not None and (queue.hidden.total, queue.hidden.overdue) == (1, 0)
    text = render("leader_queue", q=queue, show_team=True)
    assert case.number not in text and "国企" not in text
    assert "另有问题线索1件（其中超期0件），按规定不在此列出。" in text
    assert home.hidden_clues is not None and home.hidden_clues.total == 1
    assert case.number not in {item.line.number for item in home.overdue.items}
    assert case.number not in {item.line.number for item in found.items}
    assert found.hidden is not None and found.hidden.total == 1


@pytest.mark.both_databases
async def test_a_clues_withdrawal_refused_by_its_team_leader_leaves_it_open_and_tells_the_reporter(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    now = clock.now()
    case, _, leader = await _clue(sessions, catalog, calendar, now)
    assert case.id is not None
    async with sessions() as session:
        await withdraw_tracked_case(session, case.id, now=now)
    before = await _counts(sessions)
    async with sessions() as session:
        with pytest.raises(InvalidInput) as again:
            await withdraw_tracked_case(session, case.id, now=now)
    assert again.value.message == WITHDRAW_WAITING
    assert await _counts(sessions) == before
    async with sessions() as session:
        asked = (
            await session.exec(select(Notification).where(Notification.kind == "leader_request"))
        ).all()
        assert [row.recipient_id for row in asked] == [leader.id]
        request = (await session.exec(select(ApprovalRequest))).one()
        await decide_request(
            session, leader, request.id or 0, approve=False, policy=Policy(catalog, calendar),
            now=now,
        )  # fmt: skip
    async with sessions() as session:
        row = await session.get(Case, case.id)
        assert row is not None and row.status is CaseStatus.ASSIGNED
        kinds = (
            await session.exec(
                select(CaseEvent.kind)
                .where(CaseEvent.case_id == case.id)
                .order_by(col(CaseEvent.seq))
            )
        ).all()
        told = (
            await session.exec(
                select(Notification).where(Notification.kind == "reporter_withdraw_decided")
            )
        ).all()
    assert kinds[-2:] == [EventKind.WITHDRAW_REQUESTED, EventKind.WITHDRAW_REFUSED]
    assert len(told) == 1


async def test_an_admin_may_not_decide_a_clues_withdrawal(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    now = clock.now()
    case, _, _ = await _clue(sessions, catalog, calendar, now)
    assert case.id is not None
    async with sessions() as session:
        admin = await make_inspector(
            session, now, team_code=None, name="赵管理", role=Role.ADMIN, telegram_user_id=801
        )
        await withdraw_tracked_case(session, case.id, now=now)
    before = await _counts(sessions)
    async with sessions() as session:
        request = (await session.exec(select(ApprovalRequest))).one()
        with pytest.raises(PermissionDenied):
            await decide_request(
                session, admin, request.id or 0, approve=True, policy=Policy(catalog, calendar),
                now=now,
            )  # fmt: skip
    assert await _counts(sessions) == before


async def test_a_clues_withdrawal_with_no_team_leader_to_decide_it_is_refused_not_left_waiting(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    now = clock.now()
    case, _, leader = await _clue(sessions, catalog, calendar, now)
    assert case.id is not None
    async with sessions() as session:
        await session.exec(
            update(Inspector).where(col(Inspector.id) == leader.id).values(active=False)
        )
        await session.commit()
    before = await _counts(sessions)
    async with sessions() as session:
        with pytest.raises(InvalidInput) as refused:
            await withdraw_tracked_case(session, case.id, now=now)
    assert refused.value.message == WITHDRAW_NOBODY
    assert await _counts(sessions) == before


async def test_an_admin_reassigning_for_a_team_without_a_leader_is_recorded_as_a_stand_in(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    now = clock.now()
    case_id, _, leader, admin = await _accepted_appeal(sessions, catalog, calendar, now)
    async with sessions() as session:
        other = await make_inspector(
            session, now, team_code="business_env", name="孙监督", telegram_user_id=502
        )
        await deactivate_inspector(session, leader.id or 0, now)
    async with sessions() as session:
        await reassign_case(
            session, admin, case_id, inspector_id=other.id or 0,
            policy=Policy(catalog, calendar), now=now,
        )  # fmt: skip
        event = (
            await session.exec(
                select(CaseEvent)
                .where(CaseEvent.case_id == case_id, CaseEvent.kind == EventKind.ASSIGNED)
                .order_by(col(CaseEvent.seq).desc())
            )
        ).first()
    assert event is not None and event.data.get("stand_in") is True
    assert event.actor_id == admin.id and event.data["inspector"] == other.id
