"""室组联动 on the console's 案件 page, over real HTTP: the lead 组长 adds and removes a 协办 team,
a 协办 member sees the case in the lists and records 协办进展, but never the reporter's identity."""

from __future__ import annotations

from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from models.calendar import WorkCalendar
from models.event import CaseEvent, EventKind
from models.team import Role, Team
from tests.console_support import console_app, sign_in, text_of
from tests.inspector_support import BUSINESS_LEADER, DISPATCH_LEADER, make_people
from tests.test_console_case import _done, _page, _person, _report

HELPER = 611  # 信访室 监督员


async def test_the_lead_leader_adds_a_team_whose_member_records_progress_without_the_identity(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(
        sessions, clock, extra=((HELPER, "dispatch", Role.INSPECTOR, "信访监督员"),)
    )
    case = await _report(sessions, catalog, calendar, clock, named=True)
    assert case.id is not None
    async with sessions() as session:
        dispatch = (await session.exec(select(Team).where(Team.code == "dispatch"))).one()
    base = f"/console/cases/{case.id}"
    async with (
        console_app(sessions, catalog, clock=clock) as lead_desk,
        console_app(sessions, catalog, clock=clock) as helper_desk,
        console_app(sessions, catalog, clock=clock) as helper_lead_desk,
    ):
        lead = await sign_in(
            lead_desk, sessions, person=await _person(sessions, people, BUSINESS_LEADER)
        )
        helper = await sign_in(
            helper_desk, sessions, person=await _person(sessions, people, HELPER)
        )
        await _page(helper, case.id, status=403)  # not yet 协办
        html = await _page(lead, case.id)
        assert f'action="{base}/assist_add"' in html and "暂无协办组" in text_of(html)
        assert f'action="{base}/assist_progress"' not in html  # the lead's own: 记录进展

        refused = await lead.post(f"{base}/assist_add", {"team_id": "abc"})
        assert refused.status == 400 and "请选择协办组" in text_of(await refused.text())
        page = await _done(lead, f"{base}/assist_add", {"team_id": str(dispatch.id)}, case.id)
        assert "已请信访室协办" in page and "协办组：信访室" in page and "增加协办组" in page

        html = await _page(helper, case.id)
        assert f'action="{base}/assist_progress"' in html
        assert f'action="{base}/assist_add"' not in html
        assert f'action="{base}/identity"' not in html  # 查看身份 stays with the lead team
        assert "宋利剑" not in html and "13812345678" not in html
        listed = text_of(await (await helper.get("/console/cases")).text())
        assert case.number in listed and "本组协办" in listed
        helper_lead = await sign_in(
            helper_lead_desk, sessions, person=await _person(sessions, people, DISPATCH_LEADER)
        )
        home = text_of(await (await helper_lead.get("/console/")).text())
        assert case.number in home and "本组协办" in home  # 工作台: the team's and its 协办
        identity = await (await helper.post(f"{base}/identity", {})).text()
        assert "宋利剑" not in identity and "13812345678" not in identity  # asked for by hand
        lead_sees = await (await lead.post(f"{base}/identity", {})).text()
        assert "宋利剑" in lead_sees  # the lead team's 组长 does

        refused = await helper.post(f"{base}/assist_progress", {"note": "  "})
        assert refused.status == 400 and "请输入协办进展" in text_of(await refused.text())
        page = await _done(
            helper, f"{base}/assist_progress", {"note": "已调阅此前来访记录。"}, case.id
        )
        assert "协办进展已记录（仅内部可见），已告知主办组" in page
        assert "协办进展" in page and "协办组：信访室" in page  # in 流转记录, with the team

        page = await _done(lead, f"{base}/assist_remove", {"team_id": str(dispatch.id)}, case.id)
        assert "已撤销信访室的协办" in page and "暂无协办组" in page
        await _page(helper, case.id, status=403)
    async with sessions() as session:
        kinds = [
            e.kind
            for e in (
                await session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id))
            ).all()
        ]
    assert kinds.count(EventKind.ASSIST_ADDED) == kinds.count(EventKind.ASSIST_REMOVED) == 1
    assert kinds.count(EventKind.ASSIST_PROGRESS) == kinds.count(EventKind.IDENTITY_VIEWED) == 1
