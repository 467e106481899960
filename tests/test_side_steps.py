"""Steps a reporter enters from wherever they were — 不满意's reason, 回复, 防打击报复回访's
details, 异议 — keep what they were doing: /cancel there ends only that step, pressing the button
twice does not lose the way back, and a step the case or question has moved past ends (its refusal
said once) instead of answering every later message with the same refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.sweep import sweep_deadlines
from handlers import followup, relay
from handlers.states import Intake
from models.calendar import WorkCalendar
from models.case import CaseStatus
from models.org import Track
from notifications.telegram import AftercareReply, FollowupRating
from tests import test_aftercare_flow as aftercare
from tests.casework import case_of, sh
from tests.harness import TgUser
from tests.intake_helpers import REFUND, state_of
from tests.test_followup import REPORTER as RATING_REPORTER
from tests.test_followup import UNRATED, bot_for, rating, resolved_case
from tests.test_inspector_relay import asked

pytestmark = pytest.mark.both_databases


async def writing_a_report(reporter: TgUser) -> None:
    """A second report half written: its category chosen and its description sent."""
    await reporter.send("/report")
    await reporter.click("营商环境")
    await reporter.send(REFUND)


async def test_cancel_while_giving_the_reason_for_unsatisfied_keeps_the_report_being_written(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    case = await resolved_case(sessions, catalog, calendar)
    telegram = bot_for(sessions, catalog, calendar, sh(2026, 11, 30, 10))
    reporter = telegram.user(user_id=RATING_REPORTER)
    await writing_a_report(reporter)
    before = await state_of(telegram, reporter)
    assert before[0] == "Intake:evidence"

    await reporter.press(rating(case, FollowupRating.UNSATISFIED))
    await reporter.send("/cancel")
    assert "已取消，暂不评价" in reporter.last
    assert "您此前正在填写的反映已保留，请继续填写。" in reporter.last
    assert await state_of(telegram, reporter) == before
    assert (await case_of(sessions, case.id or 0)).status is CaseStatus.RESOLVED


async def test_unsatisfied_pressed_twice_still_goes_back_to_the_report_after_the_reason(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    case = await resolved_case(sessions, catalog, calendar)
    telegram = bot_for(sessions, catalog, calendar, sh(2026, 11, 30, 10))
    reporter = telegram.user(user_id=RATING_REPORTER)
    await writing_a_report(reporter)
    before = await state_of(telegram, reporter)
    await reporter.press(rating(case, FollowupRating.UNSATISFIED))
    await reporter.press(rating(case, FollowupRating.UNSATISFIED))
    await reporter.send("返还的出让金只到账一半，剩余部分仍无答复。")
    assert (await case_of(sessions, case.id or 0)).status is CaseStatus.REOPENED
    assert await state_of(telegram, reporter) == before


async def test_a_reason_sent_after_the_case_was_closed_is_refused_once_and_the_step_ends(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    case = await resolved_case(sessions, catalog, calendar)
    telegram = bot_for(sessions, catalog, calendar, sh(2026, 11, 30, 10))
    reporter = telegram.user(user_id=RATING_REPORTER)
    await reporter.press(rating(case, FollowupRating.UNSATISFIED))
    await sweep_deadlines(sessions, catalog, calendar, UNRATED)  # closed as 未评价 meanwhile
    await reporter.send("协调的资金至今没有到账。")
    assert "该问题已结案或已在重新办理，无需再评价" in reporter.last
    assert await state_of(telegram, reporter) == (None, {})
    await reporter.send("/report")  # free to report again, not asked for the reason
    assert "请选择您要反映的问题类别" in reporter.last


async def test_an_answer_to_a_question_closed_meanwhile_ends_the_reply_step(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    tg, inspector, reporter = await asked(sessions, catalog, calendar, clock)
    await reporter.click("回复", message=next(m for m in reporter.messages if m.button_texts))
    await inspector.click("办结")  # the case resolved: its open question lapses
    await inspector.click("其他")
    await inspector.send("企业已自行与管委会达成一致。")
    await inspector.click("跳过")
    await reporter.send("涉及金额约 12.5 万元。")
    assert reporter.last == "该提问已答复或已结束，无需再回复。"
    assert (await state_of(tg, reporter))[0] is None
    await reporter.send("/report")
    assert "您正在进行其他操作" not in reporter.last


async def test_cancel_while_replying_keeps_the_report_being_written(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    tg, _, reporter = await asked(sessions, catalog, calendar, clock)
    await writing_a_report(reporter)
    before = await state_of(tg, reporter)
    question = next(m for m in reporter.messages if "回复" in m.button_texts)
    await reporter.click("回复", message=question)
    await reporter.click("回复", message=question)
    await reporter.send("/cancel")
    assert "已取消回复" in reporter.last and "您此前正在填写的反映已保留" in reporter.last
    assert await state_of(tg, reporter) == before


async def test_cancel_after_yes_to_the_retaliation_question_keeps_the_report_being_written(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    _, _, first_id = await aftercare.resolved_appeal(sessions, catalog, calendar, anonymous=False)
    await aftercare.time_passes(
        sessions, catalog, calendar, aftercare.FOLLOWUP_ASKED, aftercare.UNRATED, aftercare.ASK
    )
    telegram = aftercare.bot_for(sessions, catalog, calendar, aftercare.ASK + timedelta(hours=2))
    reporter = telegram.user(user_id=aftercare.REPORTER)
    await writing_a_report(reporter)
    before = await state_of(telegram, reporter)
    await reporter.press(aftercare.press(first_id, AftercareReply.YES))  # opens the clue at once
    await reporter.send("/cancel")
    assert "已取消补充说明" in reporter.last and "您此前正在填写的反映已保留" in reporter.last
    assert await state_of(telegram, reporter) == before
    assert (await aftercare.the_clue(sessions, first_id)).track is Track.CLUE  # 有 stands


async def test_a_side_step_opened_from_another_leaves_the_way_back_to_the_report() -> None:
    """回复, then 不满意 on another case, then 回复 again: one side step at a time, so answering
    leads back to the report being written, not into a step with nothing left to answer."""
    storage = MemoryStorage()
    context = FSMContext(storage, StorageKey(bot_id=1, chat_id=5, user_id=5))
    await context.set_data({"draft_id": "d1", "description": REFUND})
    await context.set_state(Intake.evidence)
    await relay.STEP.enter(context, 11)
    await followup.STEP.enter(context, 22)
    await relay.STEP.enter(context, 11)
    async with relay.STEP.leaving(context):
        pass  # the answer sent
    assert await context.get_state() == Intake.evidence.state
    assert await context.get_data() == {"draft_id": "d1", "description": REFUND}
