"""回访: the reporter is asked the working day after 办结, answers with a button (不满意 with a
reason reopens the case), or is closed as 未评价 three working days later; clues are not asked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.dispatcher import create_dispatcher
from bot.services.clocks import get_clock
from bot.services.policy import Policy
from bot.services.routing import assign_case
from bot.services.sweep import sweep_deadlines
from bot.settings import Settings
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus, Satisfaction
from models.clock import ClockKind, ClockStage, ClockState
from models.team import Inspector
from notifications.render import telegram_html
from notifications.telegram import FollowupAnswer, FollowupRating, notice_keyboard
from tests.casework import (
    accept,
    case_of,
    clock_of,
    make_staff,
    outbox,
    report,
    resolve,
    sh,
)
from tests.conftest import DEFAULT_NOW
from tests.harness import Telegram

pytestmark = pytest.mark.both_databases

SUBMITTED = DEFAULT_NOW  # Thursday 26 Nov 2026, 10:00
RESOLVED = sh(2026, 11, 26, 11)
ASK = sh(2026, 11, 27, 9)  # 09:00 on the next working day
UNRATED = sh(2026, 12, 2, 18)  # three working days after the question: Mon, Tue, Wed
REPORTER = 7_000_001


async def resolved_case(sessions, config, calendar, *, asked: bool = True) -> Case:
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
    case = await report(sessions, config, calendar, SUBMITTED, telegram_user_id=REPORTER)
    assert case.id is not None
    await accept(sessions, config, calendar, case.id, SUBMITTED)
    await resolve(sessions, config, calendar, case.id, RESOLVED)
    if asked:
        await sweep_deadlines(sessions, config, calendar, ASK)
    return await case_of(sessions, case.id)


def bot_for(sessions, config, calendar, now) -> Telegram:
    return Telegram.create(
        create_dispatcher(
            settings=Settings(),
            config=config,
            sessions=sessions,
            calendar=calendar,
            clock=FrozenClock(now),
        )
    )


def rating(case: Case, choice: FollowupRating) -> str:
    assert case.id is not None
    return FollowupAnswer(case_id=case.id, rating=choice).pack()


async def test_the_reporter_is_asked_once_at_nine_the_working_day_after_resolution(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    case = await resolved_case(sessions, catalog, calendar, asked=False)
    assert case.id is not None
    await sweep_deadlines(sessions, catalog, calendar, ASK - timedelta(minutes=1))
    assert await outbox(sessions, "followup_") == []

    for now in (ASK, ASK + timedelta(minutes=1), ASK + timedelta(days=1)):
        await sweep_deadlines(sessions, catalog, calendar, now)
    (question,) = await outbox(sessions, "followup_")
    assert question.chat_id == REPORTER
    assert telegram_html(question).startswith(
        "【回访】您反映的问题 AJ-2026-00001 已办结（办理结果：问题已解决）。"
    )
    keyboard = notice_keyboard(question)
    assert keyboard is not None
    buttons = [b.text for row in keyboard.inline_keyboard for b in row]
    assert buttons == ["满意", "基本满意", "不满意"]
    clock = await clock_of(sessions, case.id, ClockKind.FOLLOWUP)
    assert (clock.stage, clock.due_at, clock.next_action_at) == (1, UNRATED, UNRATED)


async def test_satisfied_closes_the_case_and_nothing_closes_it_again(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    case = await resolved_case(sessions, catalog, calendar)
    assert case.id is not None
    telegram = bot_for(sessions, catalog, calendar, ASK + timedelta(hours=2))
    reporter = telegram.user(user_id=REPORTER)
    await reporter.press(rating(case, FollowupRating.SATISFIED))
    assert (
        reporter.last
        == "感谢您的评价（满意）！问题 AJ-2026-00001 已结案。如有新的问题，欢迎随时反映。"
    )

    closed = await case_of(sessions, case.id)
    assert (closed.status, closed.satisfaction) == (CaseStatus.CLOSED, Satisfaction.SATISFIED)
    assert (await clock_of(sessions, case.id, ClockKind.FOLLOWUP)).state is ClockState.MET
    await sweep_deadlines(sessions, catalog, calendar, UNRATED)
    assert (await case_of(sessions, case.id)).satisfaction is Satisfaction.SATISFIED

    await reporter.press(rating(case, FollowupRating.BASIC))
    assert reporter.alerts[-1] == "该问题已结案或已在重新办理，无需再评价。感谢您的反馈！"
    assert (await case_of(sessions, case.id)).satisfaction is Satisfaction.SATISFIED


async def test_basically_satisfied_is_kept_as_such(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    case = await resolved_case(sessions, catalog, calendar)
    assert case.id is not None
    telegram = bot_for(sessions, catalog, calendar, ASK + timedelta(hours=2))
    await telegram.user(user_id=REPORTER).press(rating(case, FollowupRating.BASIC))
    closed = await case_of(sessions, case.id)
    assert (closed.status, closed.satisfaction) == (CaseStatus.CLOSED, Satisfaction.BASIC)


async def test_unsatisfied_asks_why_then_reopens_with_a_new_deadline_and_tells_the_team(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    case = await resolved_case(sessions, catalog, calendar)
    assert case.id is not None
    answered = sh(2026, 11, 30, 10)  # Monday
    telegram = bot_for(sessions, catalog, calendar, answered)
    reporter = telegram.user(user_id=REPORTER)
    await reporter.press(rating(case, FollowupRating.UNSATISFIED))
    assert "请用一条文字消息简要说明原因" in reporter.last
    assert (await case_of(sessions, case.id)).status is CaseStatus.RESOLVED

    await reporter.send("好")
    assert reporter.last == "请用一两句话说明不满意的原因。"
    await reporter.send("返还的出让金只到账一半，<剩余部分>仍无答复。")
    assert reporter.last.startswith("已收到您的意见。问题 AJ-2026-00001 已转为重新办理")

    reopened = await case_of(sessions, case.id)
    assert (reopened.status, reopened.reopen_count, reopened.satisfaction) == (
        CaseStatus.REOPENED,
        1,
        Satisfaction.UNSATISFIED,
    )
    assert reopened.satisfaction_note == "返还的出让金只到账一半，<剩余部分>仍无答复。"
    resolve_clock = await clock_of(sessions, case.id, ClockKind.RESOLVE)
    assert resolve_clock.state is ClockState.RUNNING
    assert resolve_clock.due_at == calendar.deadline(answered, 15).due_at
    assert (await clock_of(sessions, case.id, ClockKind.FOLLOWUP)).state is ClockState.MET
    notices = await outbox(sessions, "followup_reopened")
    assert sorted(n.chat_id or 0 for n in notices) == [501, 601]
    assert all("&lt;剩余部分&gt;" in telegram_html(n) for n in notices)

    await reporter.send("还有一件事")  # the reason step is over: no second reopening
    assert (await case_of(sessions, case.id)).reopen_count == 1


async def test_no_answer_in_three_working_days_closes_the_case_as_unrated(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    case = await resolved_case(sessions, catalog, calendar)
    assert case.id is not None
    await sweep_deadlines(sessions, catalog, calendar, UNRATED - timedelta(minutes=1))
    assert (await case_of(sessions, case.id)).status is CaseStatus.RESOLVED

    await sweep_deadlines(sessions, catalog, calendar, UNRATED)
    await sweep_deadlines(sessions, catalog, calendar, UNRATED + timedelta(days=1))
    closed = await case_of(sessions, case.id)
    assert (closed.status, closed.satisfaction) == (CaseStatus.CLOSED, Satisfaction.UNRATED)
    clock = await clock_of(sessions, case.id, ClockKind.FOLLOWUP)
    assert (clock.state, clock.stage, clock.next_action_at) == (
        ClockState.MET,
        ClockStage.OVERDUE,
        None,
    )
    assert len(await outbox(sessions, "followup_ask")) == 1


async def test_a_clue_case_is_closed_without_a_question(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    async with sessions() as session:
        await make_staff(session, SUBMITTED, team="soe")
    case = await report(
        sessions,
        catalog,
        calendar,
        SUBMITTED,
        category="soe_corruption",
        description="某国企负责人在工程分包中收受好处费，指定关系户承接项目。",
    )
    assert case.id is not None
    async with sessions() as session:
        stored = await session.get(Case, case.id)
        inspector = await session.get(Inspector, 1)
        assert stored is not None and inspector is not None
        await assign_case(
            session, stored, inspector, policy=Policy(catalog, calendar), now=SUBMITTED
        )
        await session.commit()
    await accept(sessions, catalog, calendar, case.id, SUBMITTED)
    await resolve(sessions, catalog, calendar, case.id, RESOLVED)

    await sweep_deadlines(sessions, catalog, calendar, ASK)
    closed = await case_of(sessions, case.id)
    assert (closed.status, closed.satisfaction) == (CaseStatus.CLOSED, None)
    assert await outbox(sessions, "followup_") == []
    async with sessions() as session:
        clock = await get_clock(session, case.id, ClockKind.FOLLOWUP)
    assert clock is not None and clock.state is ClockState.MET


async def test_someone_else_cannot_rate_the_case(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    case = await resolved_case(sessions, catalog, calendar)
    assert case.id is not None
    telegram = bot_for(sessions, catalog, calendar, ASK + timedelta(hours=1))
    stranger = telegram.user(user_id=7_999_999)
    await stranger.press(rating(case, FollowupRating.SATISFIED))
    await stranger.press(rating(case, FollowupRating.UNSATISFIED))
    assert stranger.alerts == ["您无权进行此操作。", "您无权进行此操作。"]
    assert (await case_of(sessions, case.id)).status is CaseStatus.RESOLVED


async def test_a_command_is_not_taken_as_the_reason_for_being_unsatisfied(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    case = await resolved_case(sessions, catalog, calendar)
    assert case.id is not None
    telegram = bot_for(sessions, catalog, calendar, sh(2026, 11, 30, 10))
    reporter = telegram.user(user_id=REPORTER)
    await reporter.press(rating(case, FollowupRating.UNSATISFIED))
    await reporter.send("/report")  # the 反映问题 command, from the menu
    assert reporter.last == "请用文字简要说明不满意的原因；暂不评价请发送 /cancel。"
    assert (await case_of(sessions, case.id)).status is CaseStatus.RESOLVED
    await reporter.send("协调的资金至今没有到账。")
    assert (await case_of(sessions, case.id)).status is CaseStatus.REOPENED
