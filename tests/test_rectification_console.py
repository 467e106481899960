"""反馈整改 and 核验整改 on the console's 案件 page, over real HTTP, through the same use cases as
the chat's buttons: bad input shows the form again with what was typed; the 整改 is shown with
its unit and its deadline in Asia/Shanghai, 已逾期 once past it; only the assignee gets the forms."""

from __future__ import annotations

from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.policy import Policy
from models.calendar import WorkCalendar
from models.rectification import Rectification, RectificationState
from tests.casework import sh
from tests.console_support import PASSWORD, SignedIn, console_app, csrf_of, sign_in, text_of
from tests.inspector_support import BUSINESS_LEADER, INSPECTOR, make_people
from tests.test_console_case import _accepted, _done, _page, _person, _report

UNIT = "安居区住建局"
WHAT = "限期办理建筑物配套费返还手续，并书面答复企业。"


async def _sign_in_again(signed: SignedIn) -> SignedIn:
    """The same account through the login form once its session has expired."""
    page = await signed.client.get("/console/login")
    answer = await signed.client.post(
        "/console/login",
        data={
            "csrf_token": csrf_of(await page.text()),
            "username": signed.account.username,
            "password": PASSWORD,
        },
        allow_redirects=False,
    )
    assert answer.status == 303, await answer.text()
    home = await signed.client.get("/console/account")
    return SignedIn(signed.client, signed.person, signed.account, csrf_of(await home.text()))


async def test_the_assignee_sets_and_verifies_a_rectification_and_only_then_sees_the_resolve_form(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    case = await _report(sessions, catalog, calendar, clock)
    assert case.id is not None
    base = f"/console/cases/{case.id}"
    set_form, verify_form = f'action="{base}/rectify"', f'action="{base}/verify"'
    async with (
        console_app(sessions, catalog, clock=clock) as desk,
        console_app(sessions, catalog, clock=clock) as leader_desk,
    ):
        inspector = await sign_in(desk, sessions, person=await _person(sessions, people, INSPECTOR))
        leader = await sign_in(
            leader_desk, sessions, person=await _person(sessions, people, BUSINESS_LEADER)
        )
        assert set_form not in await _page(inspector, case.id)  # not yet 签收
        await _accepted(sessions, people, Policy(catalog, calendar), case, clock.now())
        html = await _page(inspector, case.id)
        assert set_form in html and verify_form not in html and "尚未反馈整改" in text_of(html)
        assert set_form not in await _page(leader, case.id)  # the assignee's step

        refused = await inspector.post(
            f"{base}/rectify", {"requirement": WHAT, "unit": UNIT, "days": "九十"}
        )
        html = await refused.text()
        assert refused.status == 400 and "请输入1至60之间的工作日数" in text_of(html)
        assert WHAT in html and f'value="{UNIT}"' in html  # nothing typed is lost
        page = await _done(
            inspector, f"{base}/rectify", {"requirement": WHAT, "unit": UNIT, "days": "5"}, case.id
        )
        assert f"已要求{UNIT}整改，整改期限 2026-12-03 18:00，已告知反映人" in page
        assert f"责任单位 {UNIT}" in page and "2026-12-03 18:00" in page and "整改中" in page
        assert "已逾期" not in page

        clock.set(sh(2026, 12, 4, 10))  # the sessions have expired since: sign in again
        inspector = await _sign_in_again(inspector)
        html = await _page(inspector, case.id)
        assert set_form not in html and verify_form in html and "已逾期" in text_of(html)
        resolve_form = f'action="{base}/resolve"'
        assert resolve_form not in html  # no 办结 form while the 整改 waits for its 核验
        assert "整改尚未核验。请先在“整改”栏核验整改，核验通过后方可办结。" in text_of(html)
        refused = await inspector.post(f"{base}/verify", {"note": "已核实。"})
        assert refused.status == 400 and "请选择核验结果" in text_of(await refused.text())
        page = await _done(
            inspector,
            f"{base}/verify",
            {"passed": "1", "note": "经现场核实，配套费已返还。"},
            case.id,
        )
        assert "整改核验通过（超过整改期限完成），可以办结" in page
        assert "已核验" in page and "经现场核实，配套费已返还。" in page
        html = await _page(inspector, case.id)
        assert verify_form not in html and set_form in html  # another may follow
        assert resolve_form in html and "整改尚未核验" not in text_of(html)
    async with sessions() as session:
        (row,) = (await session.exec(select(Rectification))).all()
    assert row.state is RectificationState.VERIFIED and row.late is True
    assert row.due_at == sh(2026, 12, 3, 18)


async def test_the_team_leader_withdraws_an_open_rectification_with_a_reason_on_the_case_page(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    case = await _report(sessions, catalog, calendar, clock)
    assert case.id is not None
    base = f"/console/cases/{case.id}"
    withdraw_form = f'action="{base}/withdraw-rectification"'
    async with (
        console_app(sessions, catalog, clock=clock) as desk,
        console_app(sessions, catalog, clock=clock) as leader_desk,
    ):
        inspector = await sign_in(desk, sessions, person=await _person(sessions, people, INSPECTOR))
        leader = await sign_in(
            leader_desk, sessions, person=await _person(sessions, people, BUSINESS_LEADER)
        )
        await _accepted(sessions, people, Policy(catalog, calendar), case, clock.now())
        assert withdraw_form not in await _page(leader, case.id)  # nothing open yet
        await _done(
            inspector, f"{base}/rectify", {"requirement": WHAT, "unit": UNIT, "days": "5"}, case.id
        )
        assert withdraw_form not in await _page(inspector, case.id)  # the team leader's
        assert withdraw_form in await _page(leader, case.id)
        refused = await leader.post(f"{base}/withdraw-rectification", {"reason": " "})
        assert refused.status == 400
        reason = "经核查，该事项不属于住建局职责，整改要求有误。"
        page = await _done(leader, f"{base}/withdraw-rectification", {"reason": reason}, case.id)
        assert f"已撤销对{UNIT}的整改要求，已告知承办人" in page and "已失效" in page
        html = await _page(inspector, case.id)
        assert f'action="{base}/resolve"' in html and "整改尚未核验" not in text_of(html)
    async with sessions() as session:
        (row,) = (await session.exec(select(Rectification))).all()
    assert row.state is RectificationState.LAPSED
