"""提问 and 回复: the question reaches whoever follows the case, the answer comes back as text,
the 办结 clock waits for every open question, and the reporter's own conversation is kept."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from models import keys
from models.calendar import WorkCalendar
from models.clock import ClockState
from models.reporter import CaseFollower
from tests.factories import make_reporter
from tests.harness import Telegram, TgUser
from tests.inspector_support import (
    INSPECTOR,
    REPORTER,
    build,
    clocks,
    deliver,
    make_people,
    submit,
    user,
)

FOLLOWER = 7_100_009


async def asked(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    question: str = "请问涉及金额是多少？",
) -> tuple[Telegram, TgUser, TgUser]:
    """An anonymous appeal its inspector signed for and asked ``question`` about, the question
    delivered: the bot, the inspector and the reporter."""
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    await submit(sessions, catalog, calendar, clock, people.reporter)
    inspector, reporter = user(tg, INSPECTOR), user(tg, REPORTER)
    await deliver(tg, sessions)
    await inspector.click("签收")
    await inspector.click("提问")
    await inspector.send(question)
    await deliver(tg, sessions)
    return tg, inspector, reporter


async def test_a_follower_gets_the_question_and_the_resolve_clock_waits_for_every_answer(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    assert case.id is not None
    async with sessions() as session:
        follower = await make_reporter(
            session, clock.now(), telegram_user_id=FOLLOWER, enterprise_name="同一企业"
        )
        session.add(
            CaseFollower(case_id=case.id, reporter_id=follower.id or 0, created_at=clock.now())
        )
        await session.commit()
    inspector, reporter, other = user(tg, INSPECTOR), user(tg, REPORTER), user(tg, FOLLOWER)
    await deliver(tg, sessions)
    await inspector.click("签收")
    for question in ("第一个问题：合同编号是多少？", "第二个问题：承诺函落款单位是哪个？"):
        await inspector.click("提问")
        await inspector.send(question)
    await deliver(tg, sessions)
    assert "第二个问题" in reporter.last and "第二个问题" in other.last

    clock.advance(timedelta(days=1))
    await other.click("回复", message=other.messages[-2])
    await other.send("合同编号 AJ-JKQ-2024-017。")
    assert (await clocks(sessions, case.id))["resolve"].state is ClockState.PAUSED
    await reporter.click("回复")
    await reporter.send("落款为安居经开区管委会。")
    resolve = (await clocks(sessions, case.id))["resolve"]
    assert resolve.state is ClockState.RUNNING and resolve.extended_days == 0
    await deliver(tg, sessions)
    answers = [m.text for m in inspector.messages if "反映人已答复" in m.text]
    assert len(answers) == 2 and "AJ-JKQ-2024-017" in answers[0]

    second = next(m for m in other.messages if "第二个问题" in m.text)
    await other.click("回复", message=second)
    assert tg.session.callback_answers[-1].text == "该提问已答复或已结束，无需再回复。"


async def test_the_reporters_own_conversation_resumes_after_answering_or_cancelling(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    inspector, reporter = user(tg, INSPECTOR), user(tg, REPORTER)
    await deliver(tg, sessions)
    await inspector.click("签收")
    await inspector.click("提问")
    await inspector.send("请问涉及金额是多少？")
    await deliver(tg, sessions)

    context = tg.dispatcher.fsm.get_context(tg.bot, chat_id=REPORTER, user_id=REPORTER)
    await context.set_state("Report:evidence")
    await context.set_data({"draft": {"description": "另一件事的草稿"}})

    await reporter.click("回复")
    await reporter.send_photo()
    assert "请以文字答复" in reporter.last
    await reporter.send("/cancel")
    assert "已取消回复" in reporter.last
    assert await context.get_state() == "Report:evidence"

    await reporter.click("回复")
    await reporter.send("约一千七百万元。")
    assert "已转达" in reporter.last
    assert await context.get_state() == "Report:evidence"
    assert await context.get_data() == {"draft": {"description": "另一件事的草稿"}}
    await deliver(tg, sessions)
    assert "约一千七百万元。" in inspector.last and case.number in inspector.last


async def test_a_question_left_open_lapses_when_the_case_is_resolved(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    tg, inspector, reporter = await asked(sessions, catalog, calendar, clock, "还有其他材料吗？")
    await inspector.click("办结")
    await inspector.click("其他")
    await inspector.send("企业已自行与管委会达成一致。")
    await inspector.click("跳过")
    await deliver(tg, sessions)
    await reporter.click("回复", message=next(m for m in reporter.messages if m.button_texts))
    assert tg.session.callback_answers[-1].text == "该提问已答复或已结束，无需再回复。"
    async with sessions() as session:
        follower_rows = (await session.exec(select(CaseFollower))).all()
    assert follower_rows == []


async def test_a_question_step_whose_case_was_forgotten_is_answered_as_expired(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    await submit(sessions, catalog, calendar, clock, people.reporter)
    inspector, reporter = user(tg, INSPECTOR), user(tg, REPORTER)
    await deliver(tg, sessions)
    await inspector.click("签收")
    await inspector.click("提问")
    context = tg.dispatcher.fsm.get_context(tg.bot, chat_id=INSPECTOR, user_id=INSPECTOR)
    await context.set_data({})  # the step's case gone (an older conversation's data)

    await inspector.send("请问涉及金额是多少？")
    await deliver(tg, sessions)

    assert "此操作已过期，请重新开始。" in inspector.last
    assert not any("请问涉及金额是多少？" in sent.text for sent in reporter.messages)


async def test_the_question_being_answered_is_kept_sealed_in_the_reporters_conversation(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    """While the reporter types the answer, the conversation state (kept under their Telegram
    account) names the question only sealed: a copy of the database does not tie the account to
    the anonymous case. The answer still reaches the inspector."""
    tg, inspector, reporter = await asked(sessions, catalog, calendar, clock)
    await reporter.click("回复")
    context = tg.dispatcher.fsm.get_context(tg.bot, chat_id=REPORTER, user_id=REPORTER)
    kept = (await context.get_data())["relay_id"]
    assert isinstance(kept, str) and keys.is_sealed(kept)
    await reporter.send("约一千七百万元。")
    assert "已转达" in reporter.last
    await deliver(tg, sessions)
    assert "约一千七百万元。" in inspector.last


async def test_an_answer_step_whose_question_no_longer_opens_is_answered_as_expired(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    tg, _, reporter = await asked(sessions, catalog, calendar, clock)
    await reporter.click("回复")
    context = tg.dispatcher.fsm.get_context(tg.bot, chat_id=REPORTER, user_id=REPORTER)
    await context.update_data(relay_id="v1:not-a-sealed-value")  # its key dropped, say

    await reporter.send("约一千七百万元。")
    assert "此操作已过期，请重新开始。" in reporter.last
