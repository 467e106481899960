"""防打击报复回访 through the production dispatcher: twenty working days after 办结 the reporter is
asked once whether they met 刁难、打击报复或吃拿卡要 since reporting; 有 opens a confidential clue
linked to the first case, routed to the clue-handling team, with the 委领导 told and the first
case's team told nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.dispatcher import create_dispatcher
from bot.services.audit import verify_audit
from bot.services.case_lists import can_view
from bot.services.followup import reopen
from bot.services.intake import submit_case
from bot.services.policy import Policy
from bot.services.resolution import resolve_case
from bot.services.sweep import sweep_deadlines
from bot.settings import Settings
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus, Outcome, reporter_of
from models.clock import ClockKind, ClockState
from models.event import SYSTEM, CaseEvent, EventKind
from models.intake import CaseDraft
from models.notification import Notification, RecipientKind
from models.org import Category, Track
from models.reporter import Reporter
from models.team import Inspector, Role, Team
from notifications.render import telegram_html
from notifications.telegram import AftercareAnswer, AftercareReply, notice_keyboard
from tests.casework import REFUND, Staff, accept, case_of, clock_of, make_staff, outbox, sh
from tests.conftest import DEFAULT_NOW
from tests.factories import make_inspector, make_reporter
from tests.harness import Telegram

pytestmark = pytest.mark.both_databases

SUBMITTED = DEFAULT_NOW  # Thursday 26 Nov 2026, 10:00
RESOLVED = sh(2026, 11, 26, 11)
FOLLOWUP_ASKED = sh(2026, 11, 27, 9)  # the 回访 of satisfaction, the next working day
UNRATED = sh(2026, 12, 2, 18)  # …closed as 未评价 three working days later
ASK = sh(2026, 12, 24, 9)  # 09:00 on the 20th working day after 办结 (Thursday)
UNANSWERED = sh(2027, 1, 8, 18)  # ten working days later (元旦 off)
REPORTER = 7_000_001
WHAT_HAPPENED = "办结后，园区某科室以检查为名多次到企业刁难，还暗示要请吃饭才好办事。"
NAME, PHONE = "李四", "13911112222"


def bot_for(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar, now: datetime
) -> Telegram:
    return Telegram.create(
        create_dispatcher(
            settings=Settings(),
            config=config,
            sessions=sessions,
            calendar=calendar,
            clock=FrozenClock(now),
        )
    )


def press(case_id: int, reply: AftercareReply) -> str:
    return AftercareAnswer(case_id=case_id, reply=reply).pack()


async def resolved_appeal(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar, *, anonymous: bool
) -> tuple[Staff, Inspector, int]:
    """An appeal of 营商环境, 实名 or 匿名, resolved by its inspector on 26 Nov; a 信访室 team
    leader (the team that handles 打击报复 clues) registered."""
    async with sessions() as session:
        staff = await make_staff(session, SUBMITTED)
        clue_leader = await make_inspector(
            session, SUBMITTED, team_code="dispatch", name="信访室主任", role=Role.TEAM_LEADER,
            telegram_user_id=602,
        )  # fmt: skip
    case_id = await another_appeal(sessions, config, calendar, anonymous=anonymous)
    return staff, clue_leader, case_id


async def another_appeal(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar, *, anonymous: bool,
    user_id: int = REPORTER,
) -> int:  # fmt: skip
    """An appeal reported by ``user_id`` on 26 Nov, accepted and resolved by its assignee."""
    policy = Policy(config, calendar)
    async with sessions() as session:
        reporter = await make_reporter(session, SUBMITTED, telegram_user_id=user_id)
        draft = (
            CaseDraft("business_env", REFUND)
            if anonymous
            else CaseDraft(
                "business_env", REFUND, anonymous=False, contact_name=NAME, contact_phone=PHONE
            )
        )
        submitted = await submit_case(session, reporter, draft, policy=policy, now=SUBMITTED)
    case_id = submitted.case.id
    assert case_id is not None and submitted.case.assignee_id is not None
    await accept(sessions, config, calendar, case_id, SUBMITTED)
    async with sessions() as session:
        inspector = await session.get(Inspector, submitted.case.assignee_id)
        assert inspector is not None
        await resolve_case(
            session, inspector, case_id, outcome=Outcome.SOLVED,
            summary="已协调管委会返还土地出让金。", amount_yuan=None, policy=policy, now=RESOLVED,
        )  # fmt: skip
    return case_id


async def time_passes(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar, *moments: datetime
) -> None:
    for now in moments:
        await sweep_deadlines(sessions, config, calendar, now)


async def events_of(sessions: SessionFactory, case_id: int) -> list[CaseEvent]:
    async with sessions() as session:
        rows = await session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.seq))
        )
        return list(rows.all())


async def the_clue(sessions: SessionFactory, first_id: int) -> Case:
    async with sessions() as session:
        return (await session.exec(select(Case).where(Case.prompted_by_id == first_id))).one()


async def test_twenty_working_days_after_resolution_the_reporter_is_asked_once_and_a_yes_opens_a_confidential_clue(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    staff, clue_leader, first_id = await resolved_appeal(
        sessions, catalog, calendar, anonymous=False
    )
    clock = await clock_of(sessions, first_id, ClockKind.AFTERCARE)
    assert (clock.state, clock.due_at) == (ClockState.RUNNING, sh(2026, 12, 24, 18))

    # the 回访 of satisfaction comes and goes (closed as 未评价); the question is still to come
    await time_passes(
        sessions, catalog, calendar, FOLLOWUP_ASKED, UNRATED, ASK - timedelta(minutes=1)
    )
    assert (await case_of(sessions, first_id)).status is CaseStatus.CLOSED
    assert await outbox(sessions, "aftercare_") == []

    await time_passes(
        sessions, catalog, calendar, ASK, ASK + timedelta(minutes=1), ASK + timedelta(days=1)
    )
    (question,) = await outbox(sessions, "aftercare_")
    assert (question.chat_id, question.case_id) == (REPORTER, first_id)
    assert telegram_html(question) == (
        "【回访】您好！您于2026年11月26日反映的问题（受理编号 AJ-2026-00001）已办结。\n"
        "自反映问题以来，您是否遇到刁难、打击报复或吃拿卡要等情况？\n"
        "请在10个工作日内答复。您的答复和身份信息严格保密。"
    )
    keyboard = notice_keyboard(question)
    assert keyboard is not None
    assert [b.text for row in keyboard.inline_keyboard for b in row] == ["没有", "有"]

    telegram = bot_for(sessions, catalog, calendar, ASK + timedelta(hours=2))
    reporter = telegram.user(user_id=REPORTER)
    await reporter.press(press(first_id, AftercareReply.YES))
    opened, invited = reporter.replies[-2:]
    assert opened.startswith(
        "<b>已受理</b>\n您反映的情况已作为问题线索受理，受理编号：<code>AJ-2026-00002</code>"
    )
    assert "回执码" not in opened  # 实名 in the chat: found again by /my
    assert invited.startswith("如需说明具体情况")
    await reporter.send(WHAT_HAPPENED)
    assert reporter.last == "已为问题 AJ-2026-00002 补充文字说明，已转交办理人员。"

    clue = await the_clue(sessions, first_id)
    assert clue.id is not None
    async with sessions() as session:
        category = await session.get(Category, clue.category_id)
        team = await session.get(Team, clue.team_id)
    assert category is not None and team is not None
    assert (clue.track, category.name, team.name) == (Track.CLUE, "打击报复", "信访室")
    assert clue.status is CaseStatus.SUBMITTED and not clue.anonymous  # 实名 as the first case
    assert "AJ-2026-00001" in clue.description
    # the details sent after 有 are the reporter's 补充材料 on the clue
    (details,) = [
        e for e in await events_of(sessions, clue.id) if e.kind is EventKind.MATERIAL_ADDED
    ]
    assert details.note == WHAT_HAPPENED

    # the 委领导 told at once: the case, the clue's number and team; never who, never what
    (told,) = await outbox(sessions, "aftercare_leader")
    assert (told.recipient_id, told.case_id) == (staff.leader.id, None)
    text = telegram_html(told)
    assert "AJ-2026-00001" in text and "AJ-2026-00002" in text and "信访室" in text
    assert all(secret not in text for secret in (NAME, PHONE, WHAT_HAPPENED, "刁难，还暗示"))

    # the clue reaches the clue team's leader; the first case's team hears nothing of it
    rows = await outbox(sessions)
    assert any(r.recipient_id == clue_leader.id and r.case_id == clue.id for r in rows)
    first_team = {staff.inspector.id, staff.team_leader.id}
    to_first_team = [
        r
        for r in rows
        if r.recipient_kind is RecipientKind.INSPECTOR and r.recipient_id in first_team
    ]
    assert all(
        r.case_id != clue.id and "AJ-2026-00002" not in telegram_html(r) for r in to_first_team
    )
    assert not can_view(staff.team_leader, clue) and not can_view(staff.inspector, clue)
    assert not can_view(staff.leader, clue) and can_view(clue_leader, clue)

    # every step is on the record, the first case's says only that it was answered
    first_events = [(e.kind, e.data) for e in await events_of(sessions, first_id)]
    assert (EventKind.AFTERCARE_ASKED, {"answer_days": 10}) in first_events
    assert (EventKind.AFTERCARE_ANSWERED, {"answer": "yes"}) in first_events
    assert not any("AJ-2026-00002" in str(data) for _, data in first_events)
    clue_events = [(e.kind, e.data) for e in await events_of(sessions, clue.id)]
    assert (EventKind.AFTERCARE_CLUE, {"prompted_by": "AJ-2026-00001"}) in clue_events
    async with sessions() as session:
        assert (await verify_audit(session)).ok

    # answered once: a second answer is refused politely, nothing else opened or asked
    await reporter.press(press(first_id, AftercareReply.NONE))
    assert reporter.alerts[-1] == "此次回访已答复或已结束，无需再次答复。感谢您的反馈！"
    await time_passes(sessions, catalog, calendar, ASK + timedelta(days=2), UNANSWERED)
    assert len(await outbox(sessions, "aftercare_ask")) == 1
    async with sessions() as session:
        clues = (
            await session.exec(select(Case).where(col(Case.prompted_by_id).is_not(None)))
        ).all()
    assert len(clues) == 1
    assert (await clock_of(sessions, first_id, ClockKind.AFTERCARE)).state is ClockState.MET


async def test_an_anonymous_reporter_is_asked_without_the_case_in_the_outbox_and_stays_anonymous(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    _, _, first_id = await resolved_appeal(sessions, catalog, calendar, anonymous=True)
    await time_passes(
        sessions, catalog, calendar, FOLLOWUP_ASKED, UNRATED, ASK, ASK + timedelta(hours=1)
    )
    (question,) = await outbox(sessions, "aftercare_ask")
    assert question.case_id is None and question.key.startswith("anon:")
    assert f"{first_id}:" not in question.key and str(REPORTER) not in question.key

    telegram = bot_for(sessions, catalog, calendar, ASK + timedelta(hours=2))
    reporter = telegram.user(user_id=REPORTER)
    await reporter.press(press(first_id, AftercareReply.YES))
    opened = reporter.replies[-2]
    assert "受理编号：<code>AJ-2026-00002</code>" in opened
    assert "您的回执码：" in opened  # an anonymous clue is found again by its code

    clue = await the_clue(sessions, first_id)
    assert clue.id is not None
    await reporter.press(press(clue.id, AftercareReply.DONE))  # 无需补充
    assert reporter.alerts[-1] == "好的，感谢您的反馈！"
    await reporter.send("我想再反映一个新问题")  # out of the details step: not added to the clue
    assert not any(e.kind is EventKind.MATERIAL_ADDED for e in await events_of(sessions, clue.id))
    assert clue.anonymous and clue.reporter_id is None and clue.reporter_ref is not None
    async with sessions() as session:
        me = (
            await session.exec(select(Reporter).where(Reporter.telegram_user_id == REPORTER))
        ).one()
    assert reporter_of(clue) == me.id  # the sealed link, as the intake makes it
    assert "具体情况以反映人补充的材料为准" in clue.description
    answered = [
        e for e in await events_of(sessions, first_id) if e.kind is EventKind.AFTERCARE_ANSWERED
    ]
    assert [(e.actor_id, e.data) for e in answered] == [(None, {"answer": "yes"})]
    async with sessions() as session:
        leader_rows = (
            await session.exec(select(Notification).where(Notification.kind == "aftercare_leader"))
        ).all()
    assert leader_rows and all(r.case_id is None for r in leader_rows)


async def test_no_is_recorded_and_thanked_and_the_question_closes(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    _, _, first_id = await resolved_appeal(sessions, catalog, calendar, anonymous=False)
    await time_passes(sessions, catalog, calendar, FOLLOWUP_ASKED, UNRATED, ASK)
    telegram = bot_for(sessions, catalog, calendar, ASK + timedelta(hours=2))
    reporter = telegram.user(user_id=REPORTER)
    await reporter.press(press(first_id, AftercareReply.NONE))
    assert reporter.last == (
        "感谢您的反馈！今后如遇到刁难、打击报复或吃拿卡要等情况，欢迎随时反映，"
        "我们依纪依法保护反映人。"
    )
    events = [(e.kind, e.data) for e in await events_of(sessions, first_id)]
    assert (EventKind.AFTERCARE_ANSWERED, {"answer": "none"}) in events
    assert (await clock_of(sessions, first_id, ClockKind.AFTERCARE)).state is ClockState.MET
    await reporter.press(press(first_id, AftercareReply.YES))
    assert reporter.alerts[-1] == "此次回访已答复或已结束，无需再次答复。感谢您的反馈！"
    async with sessions() as session:
        assert (
            await session.exec(select(Case).where(col(Case.prompted_by_id).is_not(None)))
        ).first() is None


async def test_someone_else_pressing_the_button_is_refused_and_nothing_is_recorded(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    _, _, first_id = await resolved_appeal(sessions, catalog, calendar, anonymous=False)
    await time_passes(sessions, catalog, calendar, FOLLOWUP_ASKED, UNRATED, ASK)
    telegram = bot_for(sessions, catalog, calendar, ASK + timedelta(hours=2))
    async with sessions() as session:
        await make_reporter(session, ASK, telegram_user_id=7_000_999)
    stranger = telegram.user(user_id=7_000_999)
    await stranger.press(press(first_id, AftercareReply.SUBMIT))  # a forged payload
    assert not any(
        e.kind is EventKind.AFTERCARE_ANSWERED for e in await events_of(sessions, first_id)
    )
    assert (await clock_of(sessions, first_id, ClockKind.AFTERCARE)).state is ClockState.RUNNING
    async with sessions() as session:
        assert (
            await session.exec(select(Case).where(col(Case.prompted_by_id).is_not(None)))
        ).first() is None


async def test_unanswered_in_ten_working_days_is_recorded_as_such_and_not_asked_again(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    _, _, first_id = await resolved_appeal(sessions, catalog, calendar, anonymous=False)
    await time_passes(sessions, catalog, calendar, FOLLOWUP_ASKED, UNRATED, ASK)
    clock = await clock_of(sessions, first_id, ClockKind.AFTERCARE)
    assert (clock.stage, clock.due_at) == (1, UNANSWERED)
    await time_passes(sessions, catalog, calendar, UNANSWERED - timedelta(minutes=1))
    assert not any(
        e.kind is EventKind.AFTERCARE_UNANSWERED for e in await events_of(sessions, first_id)
    )
    await time_passes(sessions, catalog, calendar, UNANSWERED, UNANSWERED + timedelta(days=3))
    unanswered = [
        e for e in await events_of(sessions, first_id) if e.kind is EventKind.AFTERCARE_UNANSWERED
    ]
    assert len(unanswered) == 1 and unanswered[0].actor_type == SYSTEM.type
    assert (await clock_of(sessions, first_id, ClockKind.AFTERCARE)).state is ClockState.MET
    assert len(await outbox(sessions, "aftercare_ask")) == 1


async def test_reopening_cancels_the_question_and_the_next_resolution_starts_it_again(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    staff, _, first_id = await resolved_appeal(sessions, catalog, calendar, anonymous=False)
    policy = Policy(catalog, calendar)
    reopened_at = sh(2026, 11, 30, 10)
    async with sessions() as session:
        case = await session.get(Case, first_id)
        assert case is not None
        await reopen(
            session, case, SYSTEM, reason="返还款项仍未到位。", policy=policy, now=reopened_at
        )
    assert (await clock_of(sessions, first_id, ClockKind.AFTERCARE)).state is ClockState.CANCELLED
    await time_passes(sessions, catalog, calendar, ASK)
    assert await outbox(sessions, "aftercare_ask") == []

    again = sh(2026, 12, 1, 10)
    async with sessions() as session:
        await resolve_case(
            session, staff.inspector, first_id, outcome=Outcome.SOLVED,
            summary="款项已全部返还。", amount_yuan=None, policy=policy, now=again,
        )  # fmt: skip
    clock = await clock_of(sessions, first_id, ClockKind.AFTERCARE)
    assert (clock.state, clock.due_at) == (ClockState.RUNNING, calendar.deadline(again, 20).due_at)


async def test_a_yes_pressed_in_the_chat_is_recorded_and_the_clue_opened_even_if_nothing_more_is_sent(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    _, clue_leader, first_id = await resolved_appeal(sessions, catalog, calendar, anonymous=False)
    await time_passes(sessions, catalog, calendar, FOLLOWUP_ASKED, UNRATED, ASK)
    telegram = bot_for(sessions, catalog, calendar, ASK + timedelta(hours=2))
    reporter = telegram.user(user_id=REPORTER)
    await reporter.press(press(first_id, AftercareReply.YES))
    assert "受理编号：<code>AJ-2026-00002</code>" in reporter.replies[-2]  # told at once

    # the reporter writes nothing more: the 有 stands, the clue is open with its team
    await time_passes(sessions, catalog, calendar, UNANSWERED, UNANSWERED + timedelta(days=1))
    kinds = [e.kind for e in await events_of(sessions, first_id)]
    assert EventKind.AFTERCARE_ANSWERED in kinds and EventKind.AFTERCARE_UNANSWERED not in kinds
    clue = await the_clue(sessions, first_id)
    assert clue.track is Track.CLUE and "具体情况以反映人补充的材料为准" in clue.description
    assert any(
        r.recipient_id == clue_leader.id and r.case_id == clue.id for r in await outbox(sessions)
    )
    # a second 有 (the old message's button) opens nothing more
    await reporter.press(press(first_id, AftercareReply.YES))
    assert reporter.alerts[-1] == "此次回访已答复或已结束，无需再次答复。感谢您的反馈！"
    async with sessions() as session:
        clues = (
            await session.exec(select(Case).where(col(Case.prompted_by_id).is_not(None)))
        ).all()
    assert len(clues) == 1
