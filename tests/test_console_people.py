"""The console's 人员: teams and people, an invitation with its link and QR code shown once,
deactivation after a confirmation; for an admin only."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.inspectors import InviteRefused, bind_invite
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus
from models.team import Inspector, InviteCode
from tests.casework import make_staff, report
from tests.console_support import console_app, sign_in


async def test_the_admin_sees_teams_and_people_without_their_telegram_ids(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    async with sessions() as session:
        staff = await make_staff(session, clock.now())
    async with console_app(sessions, catalog, clock=clock) as client:
        admin = await sign_in(client, sessions, role="admin", team=None)
        response = await admin.get("/console/people")
        html = await response.text()
    assert response.status == 200
    assert "“营商环境”立项监督组" in html or "营商环境" in html
    assert staff.inspector.name in html and "监督员" in html
    assert "已绑定" in html and "未绑定" in html
    # as a number of its own: the page's random CSRF token may hold the same digits
    telegram_id = re.escape(str(staff.inspector.telegram_user_id))
    assert re.search(rf"(?<![\w-]){telegram_id}(?![\w-])", html) is None
    assert "组长分派" in html or "自动分派" in html


async def test_an_invite_shows_its_link_and_qr_code_once_and_the_code_works_once(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    async with console_app(sessions, catalog, clock=clock) as client:
        admin = await sign_in(client, sessions, role="admin", team=None)
        response = await admin.post(
            "/console/people/invite",
            {"team": "business_env", "role": "inspector", "name": "孙监督"},
        )
        html = await response.text()
    assert response.status == 200
    assert "<svg" in html and "只显示这一次" in html
    assert response.headers["Cache-Control"] == "no-store"
    link = re.search(r"https://t\.me/[A-Za-z0-9_]+\?start=i_([A-Za-z0-9_-]+)", html)
    assert link is not None
    async with sessions() as session:
        bound = await bind_invite(
            session,
            code=link.group(1),
            telegram_user_id=9001,
            chat_id=9001,
            display_name="Sun",
            now=clock.now(),
        )
    assert bound.inspector.name == "孙监督" and bound.team_name
    async with sessions() as session:
        with pytest.raises(InviteRefused):
            await bind_invite(
                session,
                code=link.group(1),
                telegram_user_id=9002,
                chat_id=9002,
                display_name="Other",
                now=clock.now(),
            )


async def test_an_invite_without_a_team_for_an_inspector_keeps_what_was_typed(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    async with console_app(sessions, catalog, clock=clock) as client:
        admin = await sign_in(client, sessions, role="admin", team=None)
        response = await admin.post(
            "/console/people/invite", {"team": "", "role": "inspector", "name": "孙监督"}
        )
        html = await response.text()
    assert response.status == 400
    assert "必须属于一个监督组" in html and 'value="孙监督"' in html
    async with sessions() as session:
        assert (await session.exec(select(InviteCode))).all() == []


async def test_deactivating_asks_first_then_hands_the_open_cases_back(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    async with sessions() as session:
        staff = await make_staff(session, clock.now())
    case = await report(sessions, catalog, calendar, clock.now())
    assert case.assignee_id == staff.inspector.id
    async with console_app(sessions, catalog, clock=clock) as client:
        admin = await sign_in(client, sessions, role="admin", team=None)
        ask = await admin.get(f"/console/people/{staff.inspector.id}/deactivate")
        assert "确认停用" in await ask.text()
        async with sessions() as session:
            assert (await session.get(Inspector, staff.inspector.id)).active  # type: ignore[union-attr]
        done = await admin.post(f"/console/people/{staff.inspector.id}/deactivate", {})
        assert done.status == 303
        page = await admin.get(done.headers["Location"])
        assert "已停用 李监督，1 件未办结案件已退回组长。" in await page.text()
    async with sessions() as session:
        person = await session.get(Inspector, staff.inspector.id)
        back = await session.get(Case, case.id)
    assert person is not None and not person.active
    assert back is not None and back.assignee_id is None
    assert back.status is CaseStatus.SUBMITTED


PEOPLE_PAGES = [
    ("GET", "/console/people", None),
    ("GET", "/console/people/invite", None),
    ("POST", "/console/people/invite", {"team": "business_env", "role": "admin", "name": "冒名"}),
    ("GET", "/console/people/{person}/deactivate", None),
    ("POST", "/console/people/{person}/deactivate", {}),
]


@pytest.mark.parametrize("role", ["inspector", "team_leader", "leader", "dispatcher"])
async def test_nobody_but_the_admin_sees_people_invites_or_deactivates(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    role: str,
) -> None:
    async with sessions() as session:
        staff = await make_staff(session, clock.now())
    case = await report(sessions, catalog, calendar, clock.now())
    async with console_app(sessions, catalog, clock=clock) as client:
        someone = await sign_in(client, sessions, role=role)
        for method, path, data in PEOPLE_PAGES:
            url = path.format(person=staff.inspector.id)
            if method == "GET":
                response = await someone.get(url)
            else:
                response = await someone.post(url, data)
            assert response.status == 403, (method, url)
            assert "https://t.me/" not in await response.text()
    async with sessions() as session:
        person = await session.get(Inspector, staff.inspector.id)
        still = await session.get(Case, case.id)
        invites = (await session.exec(select(InviteCode))).all()
    assert person is not None and person.active
    assert still is not None and still.assignee_id == staff.inspector.id
    assert invites == []


async def test_a_deactivated_admin_can_no_longer_invite_or_deactivate(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    async with sessions() as session:
        staff = await make_staff(session, clock.now())
    async with console_app(sessions, catalog, clock=clock) as client:
        admin = await sign_in(client, sessions, role="admin", team=None)
        async with sessions() as session:
            me = await session.get(Inspector, admin.person.id)
            assert me is not None
            me.active = False
            session.add(me)
            await session.commit()
        invited = await admin.post(
            "/console/people/invite", {"team": "business_env", "role": "inspector", "name": ""}
        )
        stopped = await admin.post(f"/console/people/{staff.inspector.id}/deactivate", {})
    assert invited.status in (303, 403) and stopped.status in (303, 403)
    assert invited.headers.get("Location", "/console/login").startswith("/console/login")
    async with sessions() as session:
        person = await session.get(Inspector, staff.inspector.id)
        assert (await session.exec(select(InviteCode))).all() == []
    assert person is not None and person.active
