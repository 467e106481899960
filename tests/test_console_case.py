"""The office console's 案件 page: what each person sees of a case and does to it, through the
same use cases as the bot's buttons, over real HTTP."""

from __future__ import annotations

import io
import itertools
import re
from datetime import date, datetime
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import or_
from sqlmodel import col, func, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.acceptance import accept_case
from bot.services.case_forms import parse_amount, parse_days
from bot.services.case_view import (
    ANONYMOUS_HINT,
    CLUE_HINT,
    NAMED_HINT,
    clock_line,
    served_type,
)
from bot.services.intake import submit_case
from bot.services.policy import Policy
from models.attachment import Attachment, MediaKind
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus
from models.clock import CaseClock, ClockKind, ClockState
from models.errors import InvalidInput
from models.event import ActorType, CaseEvent, EventKind
from models.intake import CaseDraft
from models.notification import Channel, Notification, RecipientKind
from models.relay import RelayMessage
from models.request import ApprovalRequest, RequestStatus
from models.team import Inspector, Team
from sandbox.emulator import Emulator
from tests.casework import REFUND, sh
from tests.console_support import SignedIn, console_app, sign_in, text_of
from tests.factories import make_reporter
from tests.inspector_support import (
    BUSINESS_LEADER,
    INSPECTOR,
    SAFETY_INSPECTOR,
    SOE_LEADER,
    People,
    make_people,
    snapshot,
)
from tests.live import BOT_TOKEN
from tests.test_filecheck import pdf_with_author
from web.console.context import CONSOLE

REPORTERS = itertools.count(7_100_100)

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _clock(due: datetime, state: ClockState = ClockState.RUNNING) -> CaseClock:
    return CaseClock(
        case_id=1,
        kind=ClockKind.RESOLVE,
        state=state,
        started_at=sh(2026, 11, 26, 10),
        workdays=15,
        due_at=due,
    )


def test_a_deadline_shows_the_working_days_left_and_then_the_days_late(
    calendar: WorkCalendar,
) -> None:
    due = sh(2026, 12, 17, 17, 30)  # a Thursday
    ahead = clock_line(_clock(due), calendar, sh(2026, 12, 14, 9))  # the Monday before
    assert (ahead.days_left, ahead.overdue, ahead.days_over) == (3, False, None)
    late = clock_line(_clock(due), calendar, sh(2026, 12, 21, 10))  # the Monday after
    assert (late.days_left, late.overdue, late.days_over) == (None, True, 2)
    done = clock_line(_clock(due, ClockState.MET), calendar, sh(2026, 12, 21, 10))
    assert (done.days_left, done.overdue, done.state_label) == (None, False, "已完成")


def test_a_deadline_waiting_for_the_reporter_keeps_the_days_it_had_when_it_paused(
    calendar: WorkCalendar,
) -> None:
    due = sh(2026, 12, 17, 17, 30)  # a Thursday
    waiting = _clock(due, ClockState.PAUSED)
    waiting.paused_at = sh(2026, 12, 14, 9)  # asked the reporter on the Monday before
    later = clock_line(waiting, calendar, sh(2026, 12, 21, 10))  # no answer a week on
    assert (later.days_left, later.overdue, later.days_over) == (3, False, None)


def test_typed_days_and_amounts_are_read_as_people_write_them() -> None:
    assert parse_days("5") == 5 and parse_days("５个工作日") == 5
    assert parse_amount("") is None
    assert parse_amount("12.5") == 125000  # 万元, as the bot reads it
    assert parse_amount("125000元") == 125000
    assert parse_amount("12.5万") == 125000
    assert parse_amount("3,000元") == 3000
    for bad in ("abc", "-5", "1e5"):
        with pytest.raises(InvalidInput, match="金额格式不正确"):
            parse_amount(bad)
    with pytest.raises(InvalidInput, match="工作日数"):
        parse_days("五")


def test_a_file_is_served_as_what_its_bytes_are() -> None:
    assert served_type(PNG) == ("image/png", True)
    assert served_type(b"%PDF-1.7\n...") == ("application/pdf", True)
    assert served_type(b"OggS\x00\x02") == ("audio/ogg", True)
    assert served_type(b"<html><script>alert(1)</script>") == ("application/octet-stream", False)


# --- over HTTP, through the console app ---------------------------------------------------


async def _report(
    sessions: SessionFactory,
    config: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    *,
    web: bool = False,
    named: bool = False,
    category: str = "business_env",
    description: str = REFUND,
) -> Case:
    """A report as the intake makes it (routed, and assigned where the team assigns
    automatically), from Telegram or (``web``) from the card's web page."""
    async with sessions() as session:
        reporter = await make_reporter(
            session, clock.now(), telegram_user_id=next(REPORTERS), web=web
        )
        result = await submit_case(
            session,
            reporter,
            CaseDraft(
                category_code=category,
                description=description,
                anonymous=not named,
                contact_name="宋利剑" if named else None,
                contact_phone="13812345678" if named else None,
            ),
            policy=Policy(config, calendar),
            now=clock.now(),
        )
    return result.case


async def _person(sessions: SessionFactory, people: People, telegram_id: int) -> Inspector:
    async with sessions() as session:
        person = await session.get(Inspector, people.id(telegram_id))
    assert person is not None
    return person


async def _accepted(
    sessions: SessionFactory, people: People, policy: Policy, case: Case, now: datetime
) -> None:
    """签收 by the assignee in Telegram (the same use case)."""
    assert case.id is not None
    async with sessions() as session:
        person = await session.get(Inspector, case.assignee_id)
        assert person is not None
        await accept_case(session, person, case.id, policy=policy, now=now)


async def _case(sessions: SessionFactory, case_id: int) -> Case:
    async with sessions() as session:
        case = await session.get(Case, case_id)
    assert case is not None
    return case


async def _resolve_clock(sessions: SessionFactory, case_id: int) -> CaseClock:
    async with sessions() as session:
        clock = (
            await session.exec(
                select(CaseClock).where(
                    CaseClock.case_id == case_id, CaseClock.kind == ClockKind.RESOLVE
                )
            )
        ).one()
    return clock


async def _events(sessions: SessionFactory, case_id: int) -> list[EventKind]:
    async with sessions() as session:
        rows = await session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.seq))
        )
        return [row.kind for row in rows.all()]


async def _reporter_notices(sessions: SessionFactory, case_id: int) -> list[Notification]:
    """The reporter's notices of the case (an anonymous case's chat notices name no case: the
    test has one case, so they are all of it)."""
    async with sessions() as session:
        rows = await session.exec(
            select(Notification)
            .where(
                or_(
                    col(Notification.case_id) == case_id, col(Notification.key).startswith("anon:")
                ),
                Notification.recipient_kind == RecipientKind.REPORTER,
            )
            .order_by(col(Notification.id))
        )
        return list(rows.all())


async def _page(signed: SignedIn, case_id: int, *, status: int = 200) -> str:
    answer = await signed.get(f"/console/cases/{case_id}")
    html = await answer.text()
    assert answer.status == status, html
    return html


async def _done(signed: SignedIn, path: str, data: dict[str, str], case_id: int) -> str:
    """Post a form that succeeds: back to the case page, whose notice says what was done."""
    answer = await signed.post(path, data)
    assert answer.status == 303, await answer.text()
    assert answer.headers["Location"] == f"/console/cases/{case_id}"
    return text_of(await _page(signed, case_id))


@pytest.mark.both_databases
async def test_the_assignee_works_a_case_from_the_console_and_the_team_leader_grants_more_days(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    case = await _report(sessions, catalog, calendar, clock)
    assert case.id is not None and case.assignee_id == people.id(INSPECTOR)
    url = f"/console/cases/{case.id}"
    async with (
        console_app(sessions, catalog, clock=clock) as desk,
        console_app(sessions, catalog, clock=clock) as leader_desk,
    ):
        inspector = await sign_in(desk, sessions, person=await _person(sessions, people, INSPECTOR))
        html = await _page(inspector, case.id)
        page = text_of(html)
        assert case.number in page and "待签收" in page
        assert f'action="{url}/accept"' in html
        assert "经开区管委会承诺的土地出让金返还" in page  # 问题描述
        assert "查看身份" not in page and ANONYMOUS_HINT in page

        page = await _done(inspector, f"{url}/accept", {}, case.id)
        assert "已签收" in page
        accepted = await _case(sessions, case.id)
        assert accepted.status is CaseStatus.ACCEPTED
        assert EventKind.ACCEPTED in await _events(sessions, case.id)
        told = await _reporter_notices(sessions, case.id)
        assert [n.kind for n in told][-1] == "case_accepted"
        assert told[-1].channel is Channel.TELEGRAM

        page = await _done(
            inspector,
            f"{url}/progress",
            {"note": "已联系管委会财政局，核实返还进度。", "public": "1"},
            case.id,
        )
        assert "办理进展已记录，并已告知反映人" in page
        assert (await _case(sessions, case.id)).status is CaseStatus.IN_PROGRESS
        assert "已联系管委会财政局" in page  # in 流转记录

        before = (await _resolve_clock(sessions, case.id)).due_at
        page = await _done(
            inspector, f"{url}/extend", {"days": "5", "reason": "需等待财政局书面答复。"}, case.id
        )
        assert "延期5个工作日的申请已提交组长审批" in page and "待本组组长审批" in page
        assert "/decide" not in await _page(inspector, case.id)

        leader = await sign_in(
            leader_desk, sessions, person=await _person(sessions, people, BUSINESS_LEADER)
        )
        html = await _page(leader, case.id)
        assert "需等待财政局书面答复" in text_of(html)
        [request_id] = re.findall(r'action="/console/requests/(\d+)/decide"', html)
        answer = await leader.post(f"/console/requests/{request_id}/decide", {"approve": "1"})
        assert answer.status == 303 and answer.headers["Location"] == url
        assert "已同意延期5个工作日" in text_of(await _page(leader, case.id))
        after = (await _resolve_clock(sessions, case.id)).due_at
        today = before.astimezone(calendar.tz).date()
        assert after.astimezone(calendar.tz).date() == date(2026, 12, 24)
        assert calendar.workdays_between(today, after.astimezone(calendar.tz).date()) == 5

        page = await _done(
            inspector, f"{url}/ask", {"question": "请问管委会答复的书面材料编号是多少？"}, case.id
        )
        assert "提问已转达反映人" in page
        async with sessions() as session:
            relay = (await session.exec(select(RelayMessage))).one()
        assert relay.question == "请问管委会答复的书面材料编号是多少？"
        question = (await _reporter_notices(sessions, case.id))[-1]
        assert (question.kind, question.channel) == ("case_question", Channel.TELEGRAM)

        page = await _done(
            inspector,
            f"{url}/resolve",
            {"outcome": "solved", "summary": "管委会已返还土地出让金。", "amount": "12.5"},
            case.id,
        )
        assert "已办结" in page
        resolved = await _case(sessions, case.id)
        assert resolved.status is CaseStatus.RESOLVED
        assert resolved.amount_coordinated_yuan == 125000
        assert "协调金额12.5万元" in page


async def test_an_inspector_with_no_telegram_signs_for_a_case_in_the_console(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    async with console_app(sessions, catalog, clock=clock) as desk:
        inspector = await sign_in(desk, sessions, role="inspector", team="rural")
        assert inspector.person.chat_id is None
        case = await _report(
            sessions,
            catalog,
            calendar,
            clock,
            category="rural_revitalisation",
            description="村道硬化工程质量差，验收走过场，群众意见很大。",
        )
        assert case.id is not None and case.assignee_id == inspector.person.id
        page = await _done(inspector, f"/console/cases/{case.id}/accept", {}, case.id)
        assert "已签收" in page and "剩余" in page
    assert (await _case(sessions, case.id)).status is CaseStatus.ACCEPTED


async def test_a_question_to_a_web_reporter_waits_for_them_on_their_page(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    case = await _report(sessions, catalog, calendar, clock, web=True)
    assert case.id is not None
    await _accepted(sessions, people, Policy(catalog, calendar), case, clock.now())
    async with console_app(sessions, catalog, clock=clock) as desk:
        inspector = await sign_in(desk, sessions, person=await _person(sessions, people, INSPECTOR))
        await _done(
            inspector,
            f"/console/cases/{case.id}/ask",
            {"question": "请补充管委会的承诺文件。"},
            case.id,
        )
    question = (await _reporter_notices(sessions, case.id))[-1]
    assert (question.kind, question.channel, question.chat_id) == (
        "case_question",
        Channel.WEB,
        None,
    )


async def test_the_leader_marks_a_case_supervised_with_a_note(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    case = await _report(sessions, catalog, calendar, clock)
    assert case.id is not None
    async with (
        console_app(sessions, catalog, clock=clock) as desk,
        console_app(sessions, catalog, clock=clock) as inspector_desk,
    ):
        inspector = await sign_in(
            inspector_desk, sessions, person=await _person(sessions, people, INSPECTOR)
        )
        supervise = f'action="/console/cases/{case.id}/supervise"'
        assert supervise not in await _page(inspector, case.id)
        leader = await sign_in(desk, sessions, role="leader", team=None)
        html = await _page(leader, case.id)
        assert f'action="/console/cases/{case.id}/supervise"' in html
        page = await _done(
            leader,
            f"/console/cases/{case.id}/supervise",
            {"note": "请一周内反馈办理情况。"},
            case.id,
        )
        assert "已督办" in page and "督办中" in page
        assert f'action="/console/cases/{case.id}/supervise"' not in await _page(leader, case.id)
    supervised = await _case(sessions, case.id)
    assert supervised.supervised and supervised.supervised_by_id == leader.person.id
    async with sessions() as session:
        event = (
            await session.exec(
                select(CaseEvent).where(
                    CaseEvent.case_id == case.id, CaseEvent.kind == EventKind.SUPERVISED
                )
            )
        ).one()
        told = (
            await session.exec(
                select(Notification).where(Notification.kind == "inspector_supervised")
            )
        ).all()
    assert event.note == "请一周内反馈办理情况。"
    assert people.id(INSPECTOR) in {n.recipient_id for n in told}


async def test_the_dispatcher_routes_a_case_no_rule_matched(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    case = await _report(
        sessions,
        catalog,
        calendar,
        clock,
        category="other",
        description="园区道路施工长期占道，影响企业货车进出，请协调处理。",
    )
    assert case.id is not None
    async with sessions() as session:
        teams = {t.code: t for t in (await session.exec(select(Team))).all()}
    assert case.team_id == teams["dispatch"].id and case.status is CaseStatus.SUBMITTED
    async with console_app(sessions, catalog, clock=clock) as desk:
        dispatcher = await sign_in(desk, sessions, role="dispatcher", team=None)
        html = await _page(dispatcher, case.id)
        assert "未匹配分办规则" in text_of(html)
        assert f'<option value="{teams["safety"].id}"' in html
        answer = await dispatcher.post(
            f"/console/cases/{case.id}/route", {"team_id": str(teams["safety"].id)}
        )
        # the case has left the dispatcher's sight: back to 工作台, with the notice
        assert answer.status == 303 and answer.headers["Location"] == "/console/"
        shown = text_of(await (await dispatcher.get("/console/account")).text())
        assert "已分办至“安全生产”立项监督组，承办人：孙监督" in shown
    routed = await _case(sessions, case.id)
    assert routed.team_id == teams["safety"].id
    assert routed.assignee_id == people.id(SAFETY_INSPECTOR)
    assert routed.status is CaseStatus.ASSIGNED


async def test_the_team_leader_reassigns_a_case_and_sends_a_returned_one_to_the_dispatcher(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    case = await _report(sessions, catalog, calendar, clock)
    second = await _report(sessions, catalog, calendar, clock)
    assert case.id is not None and second.id is not None
    async with sessions() as session:
        dispatch = (await session.exec(select(Team).where(Team.code == "dispatch"))).one()
    async with (
        console_app(sessions, catalog, clock=clock) as desk,
        console_app(sessions, catalog, clock=clock) as leader_desk,
    ):
        inspector = await sign_in(desk, sessions, person=await _person(sessions, people, INSPECTOR))
        page = await _done(
            inspector,
            f"/console/cases/{case.id}/return",
            {"team_id": "0", "reason": "该事项属重点项目建设范畴，不属本组职责。"},
            case.id,
        )
        assert "退回申请已提交组长审批" in page
        leader = await sign_in(
            leader_desk, sessions, person=await _person(sessions, people, BUSINESS_LEADER)
        )
        html = await _page(leader, case.id)
        assert "不属本组职责" in text_of(html) and "退回信访室重新分办" in html
        [request_id] = re.findall(r'action="/console/requests/(\d+)/decide"', html)
        answer = await leader.post(
            f"/console/requests/{request_id}/decide", {"approve": "1", "team_id": str(dispatch.id)}
        )
        # the case has left the team: the leader goes back to 工作台
        assert answer.status == 303 and answer.headers["Location"] == "/console/"
        returned = await _case(sessions, case.id)
        assert (returned.status, returned.team_id, returned.assignee_id) == (
            CaseStatus.RETURNED,
            dispatch.id,
            None,
        )

        leader_id = people.id(BUSINESS_LEADER)
        html = await _page(leader, second.id)
        assert f'<option value="{leader_id}"' in html  # 改派: the team's people
        page = await _done(
            leader,
            f"/console/cases/{second.id}/reassign",
            {"inspector_id": str(leader_id)},
            second.id,
        )
        assert "已交由曾燕承办" in page
    assert (await _case(sessions, second.id)).assignee_id == leader_id


ACTIONS = {
    "accept": {},
    "route": {"team_id": "1"},
    "reassign": {"inspector_id": "1"},
    "return": {"team_id": "0", "reason": "不属本组职责。"},
    "ask": {"question": "请补充材料。"},
    "progress": {"note": "已核实。", "public": "1"},
    "extend": {"days": "5", "reason": "需要时间。"},
    "resolve": {"outcome": "solved", "summary": "已解决。", "amount": ""},
    "supervise": {"note": ""},
    "identity": {},
}


@pytest.mark.both_databases
async def test_another_teams_inspector_is_refused_the_page_and_every_action(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    case = await _report(sessions, catalog, calendar, clock, named=True)
    assert case.id is not None
    await _accepted(sessions, people, Policy(catalog, calendar), case, clock.now())
    async with console_app(sessions, catalog, clock=clock) as desk:
        mine = await sign_in(desk, sessions, person=await _person(sessions, people, INSPECTOR))
        await _done(
            mine, f"/console/cases/{case.id}/extend", {"days": "3", "reason": "等待答复。"}, case.id
        )
    async with sessions() as session:
        request = (await session.exec(select(ApprovalRequest))).one()
        assert request.status is RequestStatus.PENDING
    photo = await _attach(sessions, case.id, clock.now(), kind=MediaKind.PHOTO, file_id="AgADp")
    async with console_app(sessions, catalog, clock=clock) as desk:
        outsider = await sign_in(desk, sessions, role="inspector", team="safety")
        before = await snapshot(sessions)
        assert "您无权查看该问题" in text_of(await _page(outsider, case.id, status=403))
        answer = await outsider.get(f"/console/cases/{case.id}/files/{photo}")
        assert answer.status == 403
        for action, data in ACTIONS.items():
            answer = await outsider.post(f"/console/cases/{case.id}/{action}", data)
            assert answer.status == 403, (action, await answer.text())
        for approve in ("1", "0"):
            answer = await outsider.post(
                f"/console/requests/{request.id}/decide", {"approve": approve}
            )
            assert answer.status == 403
        # bad input from someone who may not see the case is refused, not shown the page
        answer = await outsider.post(f"/console/cases/{case.id}/extend", {"days": "abc"})
        assert answer.status == 403
    assert await snapshot(sessions) == before
    async with sessions() as session:
        viewed = (
            await session.exec(
                select(func.count())
                .select_from(CaseEvent)
                .where(CaseEvent.kind == EventKind.IDENTITY_VIEWED)
            )
        ).one()
    assert viewed == 0


async def test_a_forged_case_id_is_not_found(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    async with console_app(sessions, catalog, clock=clock) as desk:
        inspector = await sign_in(desk, sessions, person=await _person(sessions, people, INSPECTOR))
        await _page(inspector, 424242, status=404)
        for action, data in ACTIONS.items():
            answer = await inspector.post(f"/console/cases/424242/{action}", data)
            assert answer.status == 404, action
        answer = await inspector.post("/console/requests/424242/decide", {"approve": "1"})
        assert answer.status == 404
        assert (await inspector.get("/console/cases/424242/files/1")).status == 404
        assert (await inspector.get("/console/cases/99999999999999/files/1")).status == 404


async def test_bad_input_shows_the_page_again_with_what_was_typed(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    case = await _report(sessions, catalog, calendar, clock)
    assert case.id is not None
    await _accepted(sessions, people, Policy(catalog, calendar), case, clock.now())
    url = f"/console/cases/{case.id}"
    async with (
        console_app(sessions, catalog, clock=clock) as desk,
        console_app(sessions, catalog, clock=clock) as leader_desk,
    ):
        inspector = await sign_in(desk, sessions, person=await _person(sessions, people, INSPECTOR))
        leader = await sign_in(leader_desk, sessions, role="leader", team=None)
        before = await snapshot(sessions)
        tries: list[tuple[SignedIn, str, dict[str, str], str, str]] = [
            (inspector, "extend", {"days": "0", "reason": "等待财政局答复。"}, "延期天数应为1至30个工作日", "等待财政局答复。"),
            (inspector, "extend", {"days": "99", "reason": "等待财政局答复。"}, "延期天数应为1至30个工作日", "等待财政局答复。"),
            (inspector, "extend", {"days": "五", "reason": "等待财政局答复。"}, "请输入1至30之间的工作日数", "等待财政局答复。"),
            (inspector, "extend", {"days": "5", "reason": "  "}, "请输入延期理由", 'value="5"'),
            (inspector, "resolve", {"outcome": "solved", "summary": "已协调返还。", "amount": "abc"}, "金额格式不正确", "已协调返还。"),
            (inspector, "progress", {"note": "", "public": "0"}, "请输入办理进展", 'value="0" checked'),
            (inspector, "ask", {"question": "问" * 1001}, "问题太长", "问" * 1001),
            (leader, "supervise", {"note": "督" * 301}, "督办意见太长", "督" * 301),
        ]  # fmt: skip
        for who, action, data, message, kept in tries:
            answer = await who.post(f"{url}/{action}", data)
            html = await answer.text()
            assert answer.status == 400, (action, html)
            assert message in html, (action, text_of(html))
            assert kept in html, (action, kept)
    assert await snapshot(sessions) == before


async def test_identity_is_shown_only_on_a_deliberate_click_and_each_click_is_recorded(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    named = await _report(sessions, catalog, calendar, clock, named=True)
    anonymous = await _report(sessions, catalog, calendar, clock)
    assert named.id is not None and anonymous.id is not None

    async def views() -> int:
        async with sessions() as session:
            return (
                await session.exec(
                    select(func.count())
                    .select_from(CaseEvent)
                    .where(CaseEvent.kind == EventKind.IDENTITY_VIEWED)
                )
            ).one()

    async with (
        console_app(sessions, catalog, clock=clock) as desk,
        console_app(sessions, catalog, clock=clock) as other_desk,
    ):
        inspector = await sign_in(desk, sessions, person=await _person(sessions, people, INSPECTOR))
        page = text_of(await _page(inspector, named.id))
        assert NAMED_HINT in page and "查看身份" in page
        assert "13812345678" not in page and "宋利剑" not in page
        for count in (1, 2):
            answer = await inspector.post(f"/console/cases/{named.id}/identity")
            shown = text_of(await answer.text())
            assert answer.status == 200
            assert "宋利剑" in shown and "13812345678" in shown and "已记入审计" in shown
            assert await views() == count
        assert "13812345678" not in await _page(inspector, named.id)

        page = text_of(await _page(inspector, anonymous.id))
        assert ANONYMOUS_HINT in page and "查看身份" not in page
        answer = await inspector.post(f"/console/cases/{anonymous.id}/identity")
        assert answer.status == 200 and "不显示反映人身份" in text_of(await answer.text())
        assert await views() == 2

        outsider = await sign_in(other_desk, sessions, role="inspector", team="safety")
        answer = await outsider.post(f"/console/cases/{named.id}/identity")
        assert answer.status == 403 and "13812345678" not in await answer.text()
        assert await views() == 2


async def test_a_clues_reporter_stays_confidential_and_leaders_do_not_see_the_clue(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    clue = await _report(
        sessions,
        catalog,
        calendar,
        clock,
        named=True,
        category="soe_corruption",
        description="某国企负责人在工程分包中收受好处费，指定关系户承接项目。",
    )
    assert clue.id is not None
    async with (
        console_app(sessions, catalog, clock=clock) as desk,
        console_app(sessions, catalog, clock=clock) as leader_desk,
    ):
        team_leader = await sign_in(
            desk, sessions, person=await _person(sessions, people, SOE_LEADER)
        )
        html = await _page(team_leader, clue.id)
        page = text_of(html)
        assert CLUE_HINT in page and "问题线索，反映人信息保密" in page
        assert "四川坤天新能源科技有限公司" not in page  # nor the enterprise
        assert "查看身份" not in page and "13812345678" not in html
        answer = await team_leader.post(f"/console/cases/{clue.id}/identity")
        shown = await answer.text()
        assert answer.status == 200 and "不显示反映人身份" in text_of(shown)
        assert "13812345678" not in shown and "宋利剑" not in shown
        assert EventKind.IDENTITY_VIEWED not in await _events(sessions, clue.id)

        leader = await sign_in(leader_desk, sessions, role="leader", team=None)
        await _page(leader, clue.id, status=403)


async def _attach(sessions: SessionFactory, case_id: int, now: datetime, **fields: Any) -> int:
    async with sessions() as session:
        row = Attachment(case_id=case_id, added_by=ActorType.REPORTER, created_at=now, **fields)
        session.add(row)
        await session.commit()
        assert row.id is not None
        return row.id


async def test_a_web_photo_is_shown_in_the_page_to_the_assignee_and_refused_to_another_team(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    case = await _report(sessions, catalog, calendar, clock, web=True)
    other = await _report(sessions, catalog, calendar, clock)
    assert case.id is not None and other.id is not None
    async with (
        console_app(sessions, catalog, clock=clock) as desk,
        console_app(sessions, catalog, clock=clock) as other_desk,
    ):
        sha = await desk.app[CONSOLE].blobs.put(PNG)
        photo = await _attach(
            sessions,
            case.id,
            clock.now(),
            kind=MediaKind.PHOTO,
            blob_sha256=sha,
            file_name="现场.png",
            mime_type="image/png",
            file_size=len(PNG),
        )
        url = f"/console/cases/{case.id}/files/{photo}"
        inspector = await sign_in(desk, sessions, person=await _person(sessions, people, INSPECTOR))
        assert f'<img src="{url}"' in await _page(inspector, case.id)
        answer = await inspector.get(url)
        assert answer.status == 200
        assert answer.headers["Content-Type"] == "image/png"
        assert answer.headers["Content-Disposition"].startswith("inline;")
        assert await answer.read() == PNG
        # a file is reached only through its own case
        assert (await inspector.get(f"/console/cases/{other.id}/files/{photo}")).status == 404

        outsider = await sign_in(other_desk, sessions, role="inspector", team="safety")
        answer = await outsider.get(url)
        assert answer.status == 403 and await answer.read() != PNG


def _camera_jpeg() -> bytes:
    """A JPEG as a phone writes it: camera model and GPS position in its EXIF."""
    exif = Image.Exif()
    exif[0x0110] = "Phone X"  # Model
    exif[0x8825] = {1: "N", 2: (30.0, 35.0, 0.0)}  # GPSInfo
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG", exif=exif)
    with Image.open(io.BytesIO(out.getvalue())) as check:
        assert check.getexif()
    return out.getvalue()


async def test_a_telegram_file_is_fetched_through_the_bot_api_when_the_console_has_a_bot(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    emulator: Emulator,
) -> None:
    people = await make_people(sessions, clock)
    case = await _report(sessions, catalog, calendar, clock)
    assert case.id is not None
    pdf = pdf_with_author("张三（举报人）")
    stored = emulator.world.store_file(pdf, "document", file_name="合同.pdf")
    document = await _attach(
        sessions,
        case.id,
        clock.now(),
        kind=MediaKind.DOCUMENT,
        file_id=stored.file_id,
        file_unique_id=stored.file_unique_id,
        file_name="合同.pdf",
        mime_type="application/pdf",
    )
    url = f"/console/cases/{case.id}/files/{document}"
    stored_photo = emulator.world.store_file(_camera_jpeg(), "document", file_name="IMG_0001.jpg")
    photo = await _attach(
        sessions,
        case.id,
        clock.now(),
        kind=MediaKind.DOCUMENT,
        file_id=stored_photo.file_id,
        file_name="IMG_0001.jpg",
        mime_type="image/jpeg",
    )
    bot = Bot(BOT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url)))
    try:
        async with console_app(sessions, catalog, clock=clock, bot=bot) as desk:
            inspector = await sign_in(
                desk, sessions, person=await _person(sessions, people, INSPECTOR)
            )
            assert f'href="{url}"' in await _page(inspector, case.id)
            answer = await inspector.get(url)
            assert answer.status == 200
            assert answer.headers["Content-Type"] == "application/pdf"
            assert answer.headers["Content-Disposition"].startswith("inline;")
            # an anonymous case's document: without its author, named by its place in the case
            served = await answer.read()
            assert served.startswith(b"%PDF") and PdfReader(io.BytesIO(served)).metadata is None
            assert "张三".encode("utf-16-be") not in served and b"Zhangsan" not in served
            assert "%E6%9D%90%E6%96%991.pdf" in answer.headers["Content-Disposition"]  # 材料1
            # a picture sent as a file, in an anonymous case: shown without what the phone wrote
            answer = await inspector.get(f"/console/cases/{case.id}/files/{photo}")
            assert answer.status == 200 and answer.headers["Content-Type"] == "image/jpeg"
            with Image.open(io.BytesIO(await answer.read())) as shown:
                assert shown.size == (64, 48) and not shown.getexif()
            # nor the name the phone or the reporter gave it
            assert "IMG_0001" not in answer.headers["Content-Disposition"]
            assert "IMG_0001" not in await _page(inspector, case.id)
            assert "合同" not in await _page(inspector, case.id)
    finally:
        await bot.session.close()
    async with console_app(sessions, catalog, clock=clock) as desk:  # no bot token
        leader = await sign_in(
            desk, sessions, person=await _person(sessions, people, BUSINESS_LEADER)
        )
        answer = await leader.get(url)
        assert answer.status == 404
        assert "该文件保存在 Telegram 中" in text_of(await answer.text())
