"""A clue (问题线索) is seen only by its team leader and its assignee (DESIGN.md, "Categories"):
not by the commission's leaders, not by admins, not even when its team has no leader."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.assignment import assignment_options
from bot.services.intake import submit_case
from bot.services.materials import view_materials
from bot.services.policy import Policy
from models.calendar import WorkCalendar
from models.errors import PermissionDenied
from models.intake import CaseDraft
from models.notification import Notification
from models.team import Role
from notifications.render import telegram_html
from tests.factories import make_inspector, make_reporter

CLUE = "某国企负责人在工程分包中收受好处费，指定关系户承接项目，金额巨大。"
APPEAL = "经开区管委会承诺的土地出让金返还至今未到位，企业资金链断裂。"


async def _report(
    sessions: SessionFactory,
    config: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    category: str,
    description: str,
    reporter_id: int = 7_000_900,
) -> int:
    async with sessions() as session:
        reporter = await make_reporter(session, clock.now(), telegram_user_id=reporter_id)
        submitted = await submit_case(
            session,
            reporter,
            CaseDraft(category_code=category, description=description),
            policy=Policy(config, calendar),
            now=clock.now(),
        )
        assert submitted.case.id is not None
        return submitted.case.id


async def test_a_commission_leader_cannot_read_a_clue_but_can_read_an_appeal(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    async with sessions() as session:
        leader = await make_inspector(
            session, clock.now(), team_code=None, role=Role.LEADER, telegram_user_id=901
        )
        await make_inspector(
            session, clock.now(), team_code="soe", role=Role.TEAM_LEADER, telegram_user_id=902
        )
    clue = await _report(sessions, catalog, calendar, clock, "soe_corruption", CLUE)
    appeal = await _report(sessions, catalog, calendar, clock, "business_env", APPEAL, 7_000_901)
    async with sessions() as session:
        with pytest.raises(PermissionDenied):
            await view_materials(session, leader, clue, now=clock.now())
        materials = await view_materials(session, leader, appeal, now=clock.now())
    assert "土地出让金" in materials.case.description


async def test_a_clue_in_a_team_without_a_leader_tells_admins_only_that(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    async with sessions() as session:
        admin = await make_inspector(
            session, clock.now(), team_code=None, role=Role.ADMIN, telegram_user_id=903
        )
    clue = await _report(sessions, catalog, calendar, clock, "soe_corruption", CLUE)
    async with sessions() as session:
        (note,) = (await session.exec(select(Notification))).all()
        with pytest.raises(PermissionDenied):
            await view_materials(session, admin, clue, now=clock.now())
        with pytest.raises(PermissionDenied):
            await assignment_options(session, admin, clue)
    assert note.chat_id == 903 and note.kind == "clue_unattended"
    assert "请尽快为该组登记组长" in telegram_html(note)
    assert "该组目前没有在岗组长，暂时无人分派" in telegram_html(note)
    assert "【" not in telegram_html(note)
    assert "负责人" not in telegram_html(note) and "好处费" not in telegram_html(
        note
    )  # nothing of the clue


async def test_an_appeal_in_a_team_without_a_leader_goes_to_the_admins_in_full(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    async with sessions() as session:
        admin = await make_inspector(
            session, clock.now(), team_code=None, role=Role.ADMIN, telegram_user_id=904
        )
    appeal = await _report(sessions, catalog, calendar, clock, "key_projects", APPEAL)
    async with sessions() as session:
        (note,) = (await session.exec(select(Notification))).all()
        options = await assignment_options(session, admin, appeal)
    assert note.chat_id == 904 and "土地出让金" in telegram_html(note)
    assert options.case.id == appeal
