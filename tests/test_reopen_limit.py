"""The end of the loop has limits (``[limits]``): past ``max_reopens`` 重办 a 不满意 goes to the
委领导, who decide on another 重办 or close the case; 退回 is open only within
``return_within_days`` working days of 签收 (转办 stays open)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.followup import reopen_unsatisfied
from bot.services.policy import Policy
from bot.services.requests import request_return
from bot.services.sweep import sweep_deadlines
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus, Satisfaction
from models.errors import InvalidInput, PermissionDenied
from models.event import CaseEvent, EventKind
from models.request import ApprovalRequest, RequestKind, RequestStatus
from models.team import Inspector, Role
from notifications.render import telegram_html
from notifications.telegram import FollowupAnswer, FollowupRating, RequestDecision
from tests.casework import Staff, accept, case_of, make_staff, outbox, report, resolve, sh
from tests.test_followup import REPORTER, bot_for

pytestmark = pytest.mark.both_databases

SUBMITTED = sh(2026, 11, 26, 10)  # Thursday
# three rounds: resolved at 11:00, asked at 09:00 the next working day, 不满意 at 10:00
ROUNDS = [
    (sh(2026, 11, 26, 11), sh(2026, 11, 27, 9, 5), sh(2026, 11, 27, 10)),
    (sh(2026, 11, 27, 11), sh(2026, 11, 30, 9, 5), sh(2026, 11, 30, 10)),
    (sh(2026, 11, 30, 11), sh(2026, 12, 1, 9, 5), sh(2026, 12, 1, 10)),
]
DECIDED = sh(2026, 12, 1, 15)


async def unsatisfied(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar, case_id: int, when
) -> str:
    resolved, asked, answered = when
    await resolve(sessions, config, calendar, case_id, resolved)
    await sweep_deadlines(sessions, config, calendar, asked)
    reporter = bot_for(sessions, config, calendar, answered).user(user_id=REPORTER)
    await reporter.press(FollowupAnswer(case_id=case_id, rating=FollowupRating.UNSATISFIED).pack())
    await reporter.send("出让金仍只返还了一半，管委会没有答复。")
    return reporter.last


async def referred_case(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar
) -> tuple[Case, Staff, str]:
    async with sessions() as session:
        staff = await make_staff(session, SUBMITTED)
    case = await report(sessions, config, calendar, SUBMITTED, telegram_user_id=REPORTER)
    assert case.id is not None
    await accept(sessions, config, calendar, case.id, SUBMITTED)
    replies = [await unsatisfied(sessions, config, calendar, case.id, r) for r in ROUNDS]
    return await case_of(sessions, case.id), staff, replies[-1]


async def reopen_request(sessions: SessionFactory, case_id: int) -> ApprovalRequest:
    async with sessions() as session:
        return (
            await session.exec(
                select(ApprovalRequest).where(
                    ApprovalRequest.case_id == case_id, ApprovalRequest.kind == RequestKind.REOPEN
                )
            )
        ).one()


async def test_a_third_unsatisfied_goes_to_the_leader_instead_of_reopening_by_itself(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    assert catalog.limits.max_reopens == 2
    case, _, reply = await referred_case(sessions, catalog, calendar)
    assert case.id is not None
    assert (case.status, case.reopen_count) == (CaseStatus.RESOLVED, 2)
    assert case.satisfaction is Satisfaction.UNSATISFIED
    assert "已重新办理过，您的意见已报请委领导研究决定" in reply
    request = await reopen_request(sessions, case.id)
    assert request.status is RequestStatus.PENDING and request.reporter_id is None
    (asked,) = [n for n in await outbox(sessions, "leader_request") if n.chat_id == 701]
    html = telegram_html(asked)
    assert "重办申请 AJ-2026-00001" in html and "已重办2次" in html
    assert "反映人意见：出让金仍只返还了一半" in html
    assert not [n for n in await outbox(sessions, "leader_request") if n.chat_id in (601, 801)]
    # the old buttons take no second answer while the 委领导 decide
    reporter = bot_for(sessions, catalog, calendar, DECIDED).user(user_id=REPORTER)
    for rating in (FollowupRating.UNSATISFIED, FollowupRating.SATISFIED):
        await reporter.press(FollowupAnswer(case_id=case.id, rating=rating).pack())
        assert reporter.alerts[-1] == "该问题已结案或已在重新办理，无需再评价。感谢您的反馈！"
    waiting = await case_of(sessions, case.id)
    assert (waiting.status, waiting.satisfaction) == (CaseStatus.RESOLVED, Satisfaction.UNSATISFIED)
    async with sessions() as session:
        requests = (await session.exec(select(ApprovalRequest))).all()
    assert [r.kind for r in requests] == [RequestKind.REOPEN]
    # the sweep leaves it alone: the 回访 was answered
    await sweep_deadlines(sessions, catalog, calendar, DECIDED + timedelta(days=10))
    assert (await case_of(sessions, case.id)).status is CaseStatus.RESOLVED


async def test_the_leader_approves_another_reopening_and_the_reporter_is_told(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    case, _, _ = await referred_case(sessions, catalog, calendar)
    assert case.id is not None
    request = await reopen_request(sessions, case.id)
    assert request.id is not None
    leader = bot_for(sessions, catalog, calendar, DECIDED).user(user_id=701)
    await leader.press(RequestDecision(request_id=request.id, approve=True).pack())
    assert "已同意再次重办，问题 AJ-2026-00001 已交承办人重新办理" in leader.last
    reopened = await case_of(sessions, case.id)
    assert (reopened.status, reopened.reopen_count) == (CaseStatus.REOPENED, 3)
    told = [n for n in await outbox(sessions, "reporter_reopen_decided")]
    assert [n.chat_id for n in told] == [REPORTER]
    assert "经委领导研究，您反映的问题（受理编号 AJ-2026-00001）将再次重新办理" in telegram_html(
        told[0]
    )
    assert {n.chat_id for n in await outbox(sessions, "followup_reopened")} >= {501, 601}


async def test_the_leader_declines_and_the_case_is_closed_as_unsatisfied(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    case, _, _ = await referred_case(sessions, catalog, calendar)
    assert case.id is not None
    request = await reopen_request(sessions, case.id)
    assert request.id is not None
    leader = bot_for(sessions, catalog, calendar, DECIDED).user(user_id=701)
    await leader.press(RequestDecision(request_id=request.id, approve=False).pack())
    assert leader.last == "已决定不再重办，问题 AJ-2026-00001 已结案，已告知反映人。"
    closed = await case_of(sessions, case.id)
    assert (closed.status, closed.satisfaction) == (CaseStatus.CLOSED, Satisfaction.UNSATISFIED)
    assert closed.reopen_count == 2
    (told,) = await outbox(sessions, "reporter_reopen_decided")
    assert "不再重新办理，现已结案" in telegram_html(told)
    async with sessions() as session:
        kinds = [
            e.kind
            for e in (
                await session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id))
            ).all()
        ]
    assert kinds[-2:] == [EventKind.REOPEN_REFERRED, EventKind.REOPEN_DECLINED]


async def test_only_a_leader_decides_on_another_reopening(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    from bot.services.decisions import decide_request

    case, staff, _ = await referred_case(sessions, catalog, calendar)
    assert case.id is not None
    request = await reopen_request(sessions, case.id)
    assert request.id is not None
    policy = Policy(catalog, calendar)
    for person in (staff.team_leader, staff.admin, staff.inspector):
        async with sessions() as session:
            actor = await session.get(Inspector, person.id)
            assert actor is not None
            with pytest.raises(PermissionDenied):
                await decide_request(
                    session, actor, request.id, approve=True, policy=policy, now=DECIDED
                )
    assert (await case_of(sessions, case.id)).status is CaseStatus.RESOLVED
    assert (await reopen_request(sessions, case.id)).status is RequestStatus.PENDING


async def test_without_a_registered_leader_the_case_reopens_as_before(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
        for leader in (
            await session.exec(select(Inspector).where(Inspector.role == Role.LEADER))
        ).all():
            leader.active = False
            session.add(leader)
        await session.commit()
    case = await report(sessions, catalog, calendar, SUBMITTED, telegram_user_id=REPORTER)
    assert case.id is not None
    await accept(sessions, catalog, calendar, case.id, SUBMITTED)
    for r in ROUNDS:
        await unsatisfied(sessions, catalog, calendar, case.id, r)
    assert (await case_of(sessions, case.id)).reopen_count == 3


async def test_reopen_unsatisfied_reports_the_referral_without_a_deadline(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
    case = await report(sessions, catalog, calendar, SUBMITTED, telegram_user_id=REPORTER)
    assert case.id is not None
    await accept(sessions, catalog, calendar, case.id, SUBMITTED)
    limits = catalog.limits.model_copy(update={"max_reopens": 0})
    config = catalog.model_copy(update={"limits": limits})
    resolved, asked, answered = ROUNDS[0]
    await resolve(sessions, config, calendar, case.id, resolved)
    await sweep_deadlines(sessions, config, calendar, asked)
    async with sessions() as session:
        outcome = await reopen_unsatisfied(
            session,
            REPORTER,
            case.id,
            reason="出让金仍未返还。",
            policy=Policy(config, calendar),
            now=answered,
        )
    assert outcome.referred and outcome.due_at is None


# --- 退回 within the window ---

ACCEPTED = sh(2026, 11, 26, 10)  # Thursday; 3 working days: to Tuesday 1 Dec, end of day


async def accepted_case(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar
) -> tuple[Case, Staff]:
    async with sessions() as session:
        staff = await make_staff(session, ACCEPTED)
    case = await report(sessions, config, calendar, ACCEPTED, telegram_user_id=REPORTER)
    assert case.id is not None
    await accept(sessions, config, calendar, case.id, ACCEPTED)
    return case, staff


async def ask_return(
    sessions: SessionFactory, config, calendar, case_id: int, staff: Staff, now: datetime
) -> ApprovalRequest:
    async with sessions() as session:
        actor = await session.get(Inspector, staff.inspector.id)
        assert actor is not None
        return await request_return(
            session,
            actor,
            case_id,
            reason="本问题属其他监督组职责。",
            policy=Policy(config, calendar),
            now=now,
        )


async def test_a_return_within_three_working_days_of_signing_is_filed(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    case, staff = await accepted_case(sessions, catalog, calendar)
    assert case.id is not None
    request = await ask_return(sessions, catalog, calendar, case.id, staff, sh(2026, 12, 1, 17))
    assert request.kind is RequestKind.RETURN and request.status is RequestStatus.PENDING


async def test_a_return_after_the_window_is_refused_with_the_way_that_is_left(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    case, staff = await accepted_case(sessions, catalog, calendar)
    assert case.id is not None
    with pytest.raises(InvalidInput) as refused:
        await ask_return(sessions, catalog, calendar, case.id, staff, sh(2026, 12, 2, 9))
    assert refused.value.message == (
        "该问题签收已超过3个工作日，不能再退回。如属其他监督组职责，请申请转办。"
    )
    async with sessions() as session:
        assert not (
            await session.exec(select(ApprovalRequest).where(ApprovalRequest.case_id == case.id))
        ).all()
    # in the chat, the 退回 choice is no longer offered; 转办 to another team still is
    from notifications.telegram import CaseAct, CaseAction

    inspector = bot_for(sessions, catalog, calendar, sh(2026, 12, 2, 9)).user(user_id=501)
    await inspector.press(CaseAction(case_id=case.id, act=CaseAct.RETURN).pack())
    buttons = inspector.messages[-1].button_texts
    assert buttons and all(b.startswith("转办：") for b in buttons)


async def test_in_the_console_the_leader_finds_the_request_on_the_desk_and_decides_it(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    import re

    from bot.clock import FrozenClock
    from tests.console_support import console_app, sign_in, text_of

    case, staff, _ = await referred_case(sessions, catalog, calendar)
    assert case.id is not None
    async with console_app(sessions, catalog, clock=FrozenClock(DECIDED)) as client:
        leader = await sign_in(client, sessions, role="leader", team=None, person=staff.leader)
        desk = text_of(await (await leader.get("/console/")).text())
        assert "待我审批 1件" in desk and "重办" in desk
        html = await (await leader.get(f"/console/cases/{case.id}")).text()
        [request_id] = re.findall(r'action="/console/requests/(\d+)/decide"', html)
        answer = await leader.post(f"/console/requests/{request_id}/decide", {"approve": "0"})
        assert answer.status == 303
    closed = await case_of(sessions, case.id)
    assert (closed.status, closed.satisfaction) == (CaseStatus.CLOSED, Satisfaction.UNSATISFIED)


async def test_the_console_stops_offering_a_return_once_the_window_is_over(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    from bot.clock import FrozenClock
    from tests.console_support import console_app, sign_in

    case, staff = await accepted_case(sessions, catalog, calendar)
    async with console_app(sessions, catalog, clock=FrozenClock(sh(2026, 12, 2, 9))) as client:
        inspector = await sign_in(client, sessions, person=staff.inspector)
        after = await (await inspector.get(f"/console/cases/{case.id}")).text()
    assert "退回信访室重新分办" not in after and "转办" in after  # the same page offers it before
