"""The 09:00 agenda: team leaders get the team's lists, inspectors with something due get
theirs, nobody gets an empty one or two on a day, and nothing is sent on a day off."""

from __future__ import annotations

import pytest

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.agenda import send_agenda
from models.calendar import WorkCalendar
from models.clock import ClockKind
from models.request import ApprovalRequest, RequestKind
from notifications.render import telegram_html
from tests.casework import make_staff, outbox, report, sh
from tests.factories import make_inspector

pytestmark = pytest.mark.both_databases

MORNING = sh(2026, 11, 27, 9)  # Friday


async def test_the_team_leader_and_the_busy_inspector_get_their_lists_once(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    async with sessions() as session:
        staff = await make_staff(session, sh(2026, 11, 25, 9))
    overdue = await report(sessions, catalog, calendar, sh(2026, 11, 25, 10), telegram_user_id=1)
    due_today = await report(sessions, catalog, calendar, sh(2026, 11, 26, 10), telegram_user_id=2)
    async with sessions() as session:
        await make_inspector(session, MORNING, team_code="business_env", telegram_user_id=502)
        assert due_today.id is not None and staff.inspector.id is not None
        session.add(
            ApprovalRequest(
                case_id=due_today.id,
                kind=RequestKind.EXTENSION,
                requested_by_id=staff.inspector.id,
                reason="需协调国土部门核实出让金数额。",
                clock=ClockKind.RESOLVE,
                days=5,
                created_at=sh(2026, 11, 26, 16),
            )
        )
        await session.commit()

    for _ in range(2):
        async with sessions() as session:
            await send_agenda(session, calendar, MORNING)
    agendas = {n.chat_id or 0: telegram_html(n) for n in await outbox(sessions, "agenda")}
    assert sorted(agendas) == [501, 601]
    team = agendas[601]
    assert team.startswith("【今日待办】2026年11月27日（周五） “营商环境”立项监督组")
    assert "今日到期（1）</b>\n· AJ-2026-00002 签收 期限11月27日 18:00 李监督" in team
    assert "已逾期（1）</b>\n· AJ-2026-00001 签收 期限11月26日 18:00 李监督" in team
    assert "待审批（1）</b>\n· AJ-2026-00002 延期申请 5个工作日 申请于11月26日 16:00 李监督" in team
    assert overdue.number in agendas[501] and "待审批" not in agendas[501]


async def test_no_agenda_on_a_day_off_or_for_people_with_nothing(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    async with sessions() as session:
        await make_staff(session, sh(2026, 11, 26, 9))
    await report(sessions, catalog, calendar, sh(2026, 11, 27, 10))
    async with sessions() as session:
        saturday = await send_agenda(session, calendar, sh(2026, 11, 28, 9))
    assert saturday.sent == {}
    async with sessions() as session:
        thursday = await send_agenda(session, calendar, sh(2026, 11, 26, 9))
    assert thursday.sent == {}
    assert await outbox(sessions, "agenda") == []
