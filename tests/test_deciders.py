"""Nobody decides their own request: a team leader who works a case asks another leader of the
team, or, with none, the admins (who stand in for a team with no other leader); admins do not
decide for a team that has one."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.acceptance import accept_case
from bot.services.assignment import reassign_case
from bot.services.decisions import decide_request
from bot.services.policy import Policy
from bot.services.requests import request_extension
from models.calendar import WorkCalendar
from models.errors import InvalidInput, PermissionDenied
from models.notification import Notification
from models.org import Track
from models.request import ApprovalRequest, RequestStatus
from models.team import Role
from tests.casework import make_staff, report
from tests.factories import make_inspector

pytestmark = pytest.mark.both_databases


async def test_a_team_leaders_own_extension_goes_to_the_admins_and_not_to_themselves(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    policy, now = Policy(catalog, calendar), clock.now()
    async with sessions() as session:
        staff = await make_staff(session, now)
    case = await report(sessions, catalog, calendar, now)
    leader, admin, inspector = staff.team_leader, staff.admin, staff.inspector
    assert case.id is not None and case.assignee_id == inspector.id
    async with sessions() as session:  # the team leader takes the case and works it
        await reassign_case(
            session, leader, case.id, inspector_id=leader.id or 0, policy=policy, now=now
        )
        await accept_case(session, leader, case.id, policy=policy, now=now)
        request = await request_extension(
            session, leader, case.id, days=10, reason="需等待会议研究。", now=now
        )
    assert request.id is not None
    async with sessions() as session:
        with pytest.raises(PermissionDenied):
            await decide_request(session, leader, request.id, approve=True, policy=policy, now=now)
        asked = (
            await session.exec(select(Notification).where(Notification.kind == "leader_request"))
        ).all()
        assert {row.recipient_id for row in asked} == {admin.id}
        await decide_request(session, admin, request.id, approve=True, policy=policy, now=now)
        decided = await session.get(ApprovalRequest, request.id)
        assert decided is not None and decided.status is RequestStatus.APPROVED
        assert decided.decided_by_id == admin.id


async def test_an_admin_does_not_decide_for_a_team_that_has_a_leader(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    policy, now = Policy(catalog, calendar), clock.now()
    async with sessions() as session:
        staff = await make_staff(session, now)
    case = await report(sessions, catalog, calendar, now)
    assert case.id is not None
    async with sessions() as session:
        await accept_case(session, staff.inspector, case.id, policy=policy, now=now)
        request = await request_extension(
            session, staff.inspector, case.id, days=5, reason="需等待会议研究。", now=now
        )
        assert request.id is not None
        with pytest.raises(PermissionDenied):
            await decide_request(
                session, staff.admin, request.id, approve=True, policy=policy, now=now
            )
        await decide_request(
            session, staff.team_leader, request.id, approve=True, policy=policy, now=now
        )


async def test_a_clue_request_nobody_could_decide_is_refused_and_nothing_is_written(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    policy, now = Policy(catalog, calendar), clock.now()
    async with sessions() as session:
        leader = await make_inspector(
            session, now, team_code="soe", name="钱组长", role=Role.TEAM_LEADER,
            telegram_user_id=611,
        )  # fmt: skip
    case = await report(
        sessions, catalog, calendar, now, category="soe_corruption",
        description="某国企负责人在设备采购中收受供应商好处费。",
    )  # fmt: skip
    assert case.id is not None and case.track is Track.CLUE
    async with sessions() as session:
        await reassign_case(
            session, leader, case.id, inspector_id=leader.id or 0, policy=policy, now=now
        )
        await accept_case(session, leader, case.id, policy=policy, now=now)
        with pytest.raises(InvalidInput) as refused:
            await request_extension(
                session, leader, case.id, days=5, reason="需等待会议研究。", now=now
            )
        assert "没有其他组长可以审批" in refused.value.message
    async with sessions() as session:
        assert (await session.exec(select(ApprovalRequest))).all() == []
