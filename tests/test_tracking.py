"""跟踪 by receipt code, the use cases behind ``/t``: a wrong code counted and, ten times over,
refused for a while; the public timeline a clue allows; the web notices newest first; a question
answered once with the clock running again; 撤回 until signed for; 回访 only once asked, and
不满意 with a reason reopening the case as the chat does."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.clocks import get_clock
from bot.services.followup import FollowupClosed
from bot.services.policy import Policy
from bot.services.rate_limits import SqlRateLimiter
from bot.services.routing import assign_case
from bot.services.tracking import (
    WRONG_CODES,
    NotTracked,
    TooManyCodes,
    answer_tracked_question,
    open_tracked_case,
    rate_tracked_case,
    reopen_tracked_case,
    tracked_case,
    withdraw_tracked_case,
)
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus, Satisfaction
from models.clock import ClockKind, ClockState
from models.errors import InvalidInput, NotFound, StaleAction
from models.event import Actor, ActorType, EventKind, record_event
from models.notification import RecipientKind
from models.relay import RelayMessage, RelayStatus
from tests.casework import accept, case_of, outbox, resolve
from tests.tracking_support import (
    ACCEPTED,
    ANSWERED,
    ASKED,
    FOLLOWUP,
    QUESTION,
    RESOLVED,
    SUBMITTED,
    asked,
    followup_asked,
    web_case,
)

pytestmark = pytest.mark.both_databases

GUARD_LIMIT = WRONG_CODES


async def test_a_receipt_code_as_people_type_it_opens_its_case(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    web = await web_case(sessions, catalog, calendar)
    typed = " " + web.code.lower().replace("-", " ") + " "
    tracked = await open_tracked_case(
        sessions, SqlRateLimiter(sessions), code=typed, clients=("203.0.113.7",), now=SUBMITTED
    )
    assert (tracked.case_id, tracked.number) == (web.id, web.case.number)


async def test_ten_wrong_codes_from_one_address_refuse_even_the_right_one_for_a_while(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    web = await web_case(sessions, catalog, calendar)
    limiter = SqlRateLimiter(sessions)  # the shared one, in the database under test
    for n in range(GUARD_LIMIT):
        with pytest.raises(NotFound, match="回执码"):
            await open_tracked_case(
                sessions,
                limiter,
                code=f"AAAA-BBBB-{n:04d}",
                clients=("203.0.113.7",),
                now=SUBMITTED + timedelta(seconds=n),
            )
    for _ in range(2):  # refused with the same clear words every time
        with pytest.raises(TooManyCodes, match="请10分钟后再试"):
            await open_tracked_case(
                sessions, limiter, code=web.code, clients=("203.0.113.7",), now=SUBMITTED
            )
    other = await open_tracked_case(
        sessions, limiter, code=web.code, clients=("198.51.100.2",), now=SUBMITTED
    )
    later = await open_tracked_case(
        sessions,
        limiter,
        code=web.code,
        clients=("203.0.113.7",),
        now=SUBMITTED + timedelta(minutes=11),
    )
    assert other.case_id == later.case_id == web.id


async def test_a_clue_shows_only_accepted_and_resolved_and_no_question_text_of_others(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    web = await web_case(sessions, catalog, calendar, category="soe_corruption", team="soe")
    assert web.staff is not None
    async with sessions() as session:
        case = await session.get(Case, web.id)
        assert case is not None
        await assign_case(
            session, case, web.staff.inspector, policy=Policy(catalog, calendar), now=SUBMITTED
        )
        await session.commit()
    await accept(sessions, catalog, calendar, web.id, ACCEPTED)
    async with sessions() as session:  # a question and its answer, public as on an appeal
        case = await session.get(Case, web.id)
        assert case is not None
        inspector = Actor(ActorType.INSPECTOR, web.staff.inspector.id)
        for kind, who, note in (
            (EventKind.QUESTION, inspector, "请提供转账凭证。"),
            (EventKind.ANSWER, Actor(ActorType.REPORTER, 0), "凭证在财务处。"),
        ):
            session.add(record_event(case, kind, who, ANSWERED, note=note, public=True))
        session.add(case)
        await session.commit()
    async with sessions() as session:
        page = await tracked_case(session, web.id, policy=Policy(catalog, calendar), now=RESOLVED)
    # the exchange is kept on an appeal's timeline, never on a clue's
    assert [entry.label for entry in page.view.timeline] == ["已提交", "已受理"]
    await resolve(sessions, catalog, calendar, web.id, RESOLVED)
    async with sessions() as session:
        page = await tracked_case(session, web.id, policy=Policy(catalog, calendar), now=RESOLVED)
    assert [entry.label for entry in page.view.timeline] == ["已提交", "已受理", "已办结"]
    assert page.view.summary.number == web.case.number
    assert not page.may_withdraw and not page.followup_asked and page.questions == ()


async def test_the_page_shows_the_web_notices_newest_first_and_the_open_question(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    web = await web_case(sessions, catalog, calendar)
    relay = await asked(sessions, catalog, calendar, web)
    async with sessions() as session:
        page = await tracked_case(session, web.id, policy=Policy(catalog, calendar), now=RESOLVED)
    assert [(q.relay_id, q.question) for q in page.questions] == [(relay.id, QUESTION)]
    assert QUESTION in str(page.notices[0].html)  # the question came last
    assert [n.at for n in page.notices] == sorted((n.at for n in page.notices), reverse=True)
    assert page.view.timeline[0].label == "已提交"
    assert not page.may_withdraw


async def test_an_answer_is_relayed_once_and_the_resolve_clock_runs_again(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    web = await web_case(sessions, catalog, calendar)
    relay = await asked(sessions, catalog, calendar, web)
    assert relay.id is not None
    policy = Policy(catalog, calendar)
    async with sessions() as session:
        paused = await get_clock(session, web.id, ClockKind.RESOLVE)
        assert paused is not None and paused.state is ClockState.PAUSED
        await answer_tracked_question(
            session,
            web.id,
            relay.id,
            answer="合同编号 AJ-JKQ-2024-017。",
            policy=policy,
            now=ANSWERED,
        )
    async with sessions() as session:
        resolve = await get_clock(session, web.id, ClockKind.RESOLVE)
        page = await tracked_case(session, web.id, policy=Policy(catalog, calendar), now=RESOLVED)
        with pytest.raises(StaleAction):
            await answer_tracked_question(
                session, web.id, relay.id, answer="再答一次", policy=policy, now=ANSWERED
            )
    assert resolve is not None and resolve.state is ClockState.RUNNING
    assert page.questions == ()
    # the question box is gone; the exchange stays on the timeline
    timeline = [(entry.label, entry.note) for entry in page.view.timeline]
    assert ("您的答复", "合同编号 AJ-JKQ-2024-017。") in timeline
    assert [label for label, _ in timeline].count("工作人员提问") == 1
    [told] = await outbox(sessions, "inspector_answer")
    assert told.recipient_kind is RecipientKind.INSPECTOR
    assert "AJ-JKQ-2024-017" in str(told.params)


async def test_a_question_of_another_case_cannot_be_answered_from_this_page(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    web = await web_case(sessions, catalog, calendar)
    relay = await asked(sessions, catalog, calendar, web)
    assert relay.id is not None
    async with sessions() as session:
        other = await web_case(sessions, catalog, calendar, with_staff=False)
        with pytest.raises(NotFound):
            await answer_tracked_question(
                session,
                other.id,
                relay.id,
                answer="不是我的问题",
                policy=Policy(catalog, calendar),
                now=ANSWERED,
            )
    async with sessions() as session:
        stored = await session.get(RelayMessage, relay.id)
    assert stored is not None and stored.status is RelayStatus.OPEN


async def test_withdraw_until_signed_for_then_refused(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    first = await web_case(sessions, catalog, calendar)
    async with sessions() as session:
        assert (
            await tracked_case(session, first.id, policy=Policy(catalog, calendar), now=RESOLVED)
        ).may_withdraw
        await withdraw_tracked_case(session, first.id, now=ACCEPTED)
    assert (await case_of(sessions, first.id)).status is CaseStatus.WITHDRAWN
    assert await outbox(sessions, "withdrawn")

    second = await web_case(sessions, catalog, calendar, with_staff=False)
    await accept(sessions, catalog, calendar, second.id, ACCEPTED)
    async with sessions() as session:
        with pytest.raises(InvalidInput, match="已受理，不能撤回"):
            await withdraw_tracked_case(session, second.id, now=ASKED)


async def test_followup_only_once_asked_and_unsatisfied_with_a_reason_reopens(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    web = await web_case(sessions, catalog, calendar)
    await accept(sessions, catalog, calendar, web.id, ACCEPTED)
    await resolve(sessions, catalog, calendar, web.id, RESOLVED)
    async with sessions() as session:
        assert not (
            await tracked_case(session, web.id, policy=Policy(catalog, calendar), now=RESOLVED)
        ).followup_asked
        with pytest.raises(FollowupClosed) as early:
            await rate_tracked_case(session, web.id, rating=Satisfaction.SATISFIED, now=RESOLVED)
        assert early.value.message == "尚未到回访评价的时间。"
    await followup_asked(sessions, catalog, calendar, web, already_resolved=True)
    policy = Policy(catalog, calendar)
    async with sessions() as session:
        assert (
            await tracked_case(session, web.id, policy=Policy(catalog, calendar), now=RESOLVED)
        ).followup_asked
        with pytest.raises(InvalidInput, match="原因"):
            await reopen_tracked_case(session, web.id, reason=" ", policy=policy, now=FOLLOWUP)
        reopened = await reopen_tracked_case(
            session, web.id, reason="土地出让金仍未返还到位。", policy=policy, now=FOLLOWUP
        )
    case = await case_of(sessions, web.id)
    assert case.status is CaseStatus.REOPENED and case.satisfaction is Satisfaction.UNSATISFIED
    assert reopened.due_at is not None and reopened.due_at > FOLLOWUP
    told = await outbox(sessions, "followup_reopened")
    assert web.staff is not None
    assert {row.recipient_id for row in told} == {
        web.staff.inspector.id,
        web.staff.team_leader.id,
    }
    async with sessions() as session:
        page = await tracked_case(session, web.id, policy=Policy(catalog, calendar), now=RESOLVED)
        with pytest.raises(FollowupClosed):
            await rate_tracked_case(session, web.id, rating=Satisfaction.BASIC, now=FOLLOWUP)
    assert not page.followup_asked
    # the rating says which, and the reason is told once
    timeline = [(entry.label, entry.note) for entry in page.view.timeline]
    assert ("回访评价：不满意", "土地出让金仍未返还到位。") in timeline
    assert ("重新办理", None) in timeline


async def test_satisfied_closes_the_case(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    web = await web_case(sessions, catalog, calendar)
    await followup_asked(sessions, catalog, calendar, web)
    async with sessions() as session:
        await rate_tracked_case(session, web.id, rating=Satisfaction.BASIC, now=FOLLOWUP)
    case = await case_of(sessions, web.id)
    assert case.status is CaseStatus.CLOSED and case.satisfaction is Satisfaction.BASIC


async def test_a_case_without_a_receipt_code_is_not_tracked(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    web = await web_case(sessions, catalog, calendar)
    async with sessions() as session:
        case = await session.get(Case, web.id)
        assert case is not None
        case.receipt_hash = None  # purged, as retention will
        session.add(case)
        await session.commit()
        with pytest.raises(NotTracked):
            await tracked_case(session, web.id, policy=Policy(catalog, calendar), now=RESOLVED)
        with pytest.raises(NotTracked):
            await tracked_case(session, 999_999, policy=Policy(catalog, calendar), now=RESOLVED)
