"""督办 with its 期限, 督办回复 and 合并办理 on the console's 案件 page, over real HTTP, through the same
use cases as the bot's buttons."""

from __future__ import annotations

from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from models.calendar import WorkCalendar
from models.case import CaseStatus
from models.event import CaseEvent, EventKind
from tests.casework import sh
from tests.console_support import console_app, sign_in, text_of
from tests.inspector_support import INSPECTOR, make_people
from tests.test_console_case import _case, _done, _page, _person, _report

AGAIN = "经开区管委会承诺的土地出让金返还至今仍未到位，企业资金链紧张，再次请求协调。"


async def test_the_leader_sets_a_supervision_deadline_and_the_assignee_replies_on_the_page(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    case = await _report(sessions, catalog, calendar, clock)
    assert case.id is not None
    reply_form = f'action="/console/cases/{case.id}/supervision_reply"'
    async with (
        console_app(sessions, catalog, clock=clock) as desk,
        console_app(sessions, catalog, clock=clock) as inspector_desk,
    ):
        leader = await sign_in(desk, sessions, role="leader", team=None)
        inspector = await sign_in(
            inspector_desk, sessions, person=await _person(sessions, people, INSPECTOR)
        )
        assert reply_form not in await _page(inspector, case.id)  # nothing to answer yet
        refused = await leader.post(
            f"/console/cases/{case.id}/supervise", {"note": "", "days": "九十"}
        )
        assert refused.status == 400
        page = await _done(
            leader,
            f"/console/cases/{case.id}/supervise",
            {"note": "请三日内反馈。", "days": "3"},
            case.id,
        )
        assert "督办期限 2026-12-01 18:00" in page and "待督办回复" in page
        assert reply_form not in await _page(leader, case.id)  # the leader does not answer
        html = await _page(inspector, case.id)
        assert reply_form in html and "督办回复" in text_of(html)
        page = await _done(
            inspector,
            f"/console/cases/{case.id}/supervision_reply",
            {"reply": "已约谈管委会，下周一前落实返还。"},
            case.id,
        )
        assert "督办回复已报送，已告知督办领导" in page and "已回复" in page
        assert reply_form not in await _page(inspector, case.id)  # once
    supervised = await _case(sessions, case.id)
    assert supervised.supervision_due_at == sh(2026, 12, 1, 18)
    async with sessions() as session:
        replied = (
            await session.exec(
                select(CaseEvent).where(
                    CaseEvent.case_id == case.id,
                    CaseEvent.kind == EventKind.SUPERVISION_REPLIED,
                )
            )
        ).one()
    assert replied.note == "已约谈管委会，下周一前落实返还。" and replied.data["late"] is False


async def test_the_assignee_merges_a_repeat_from_the_page(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    first = await _report(sessions, catalog, calendar, clock)
    second = await _report(sessions, catalog, calendar, clock, description=AGAIN)
    assert second.id is not None and second.repeat_of_id == first.id
    merge_form = f'action="/console/cases/{second.id}/merge"'
    async with console_app(sessions, catalog, clock=clock) as desk:
        inspector = await sign_in(desk, sessions, person=await _person(sessions, people, INSPECTOR))
        html = await _page(inspector, second.id)
        assert f"疑似重复件，关联 {first.number}" in text_of(html) and merge_form in html
        assert f'action="/console/cases/{first.id}/merge"' not in await _page(
            inspector, first.id or 0
        )
        page = await _done(inspector, f"/console/cases/{second.id}/merge", {}, second.id)
        assert f"已并入 {first.number} 合并办理，已告知反映人" in page
        assert f"已合并办理，并入 {first.number}" in page
        assert merge_form not in await _page(inspector, second.id)
    merged = await _case(sessions, second.id)
    assert (merged.status, merged.merged_into_id) == (CaseStatus.CLOSED, first.id)
