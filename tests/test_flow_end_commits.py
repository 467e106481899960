"""A step that ends a conversation with a use case (补充材料 完成, 记录进展, 办结, 回复 …) leaves
its conversation in the use case's own commit: a crash right after that commit cannot leave the
person in the step with their input still there to be sent a second time. A use case that
refuses the input leaves the person in the step with what they entered, to try again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from aiogram.fsm.storage.base import StateType, StorageKey
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.methods import AnswerCallbackQuery, EditMessageReplyMarkup, SendMessage
from aiogram.methods.base import TelegramMethod
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.dispatcher import create_dispatcher
from bot.settings import Settings
from models.attachment import Attachment
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus
from models.errors import StaleAction
from models.event import Actor, ActorType, CaseEvent, EventKind, transition
from models.request import ApprovalRequest
from tests.harness import Telegram, TgUser
from tests.inspector_support import INSPECTOR, REPORTER, deliver, make_people, submit, user
from tests.inspector_support import build as build_casework
from tests.intake_helpers import TOKEN, make_card, report, state_of
from tests.test_redelivery import Crash, remembered

pytestmark = pytest.mark.both_databases

NOTE = "管委会2023年的会议纪要，承诺年底前返还。"


@contextmanager
def killed_at(
    telegram: Telegram, kind: type[TelegramMethod[Any]], text: str = ""
) -> Iterator[None]:
    """The process dies at the first ``kind`` call (with ``text`` in it) to Telegram."""
    sent = telegram.session.make_request

    async def die(bot: Any, method: Any, timeout: Any = None) -> Any:
        if isinstance(method, kind) and text in str(getattr(method, "text", None) or ""):
            raise Crash
        return await sent(bot, method, timeout)

    telegram.session.make_request = die  # type: ignore[method-assign]
    try:
        yield
    finally:
        telegram.session.make_request = sent  # type: ignore[method-assign]


async def count(sessions: SessionFactory, model: Any, *where: Any) -> int:
    async with sessions() as session:
        return len((await session.exec(select(model).where(*where))).all())


async def move_first_case(sessions: SessionFactory, now: Any, *steps: CaseStatus) -> None:
    """The commission's side moves the case on meanwhile."""
    kinds = {
        CaseStatus.ASSIGNED: EventKind.ASSIGNED,
        CaseStatus.ACCEPTED: EventKind.ACCEPTED,
        CaseStatus.RESOLVED: EventKind.RESOLVED,
    }
    async with sessions() as session:
        case = (await session.exec(select(Case).order_by(col(Case.id)))).first()
        assert case is not None
        for status in steps:
            who = Actor(ActorType.INSPECTOR, 1)
            session.add(transition(case, status, kinds[status], who, now, public=True))
        session.add(case)
        await session.commit()


# --- 补充材料 ------------------------------------------------------------------------------------


async def collecting(reporter: TgUser) -> None:
    """A report, then 补充材料 to it: a photo and a note, not yet 完成."""
    await report(reporter)
    await reporter.send("/my")
    await reporter.click("AJ-2026-00001 · 已提交，待受理")
    await reporter.click("补充材料")
    await reporter.send_photo()
    await reporter.send(NOTE)


async def test_a_crash_after_material_is_added_does_not_let_a_second_done_add_it_again(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    reporter = telegram.user()
    await collecting(reporter)
    updates = remembered(telegram)
    with killed_at(telegram, EditMessageReplyMarkup), pytest.raises(Crash):
        await reporter.click("完成")
    assert await count(sessions, CaseEvent, CaseEvent.kind == EventKind.MATERIAL_ADDED) == 1
    assert await state_of(telegram, reporter) == (None, {})

    await telegram.dispatcher.feed_update(telegram.bot, updates[-1])  # delivered again: skipped
    await reporter.click("完成")  # the person presses again, not having seen an answer
    assert reporter.alerts[-1] == StaleAction.message
    assert await count(sessions, CaseEvent, CaseEvent.kind == EventKind.MATERIAL_ADDED) == 1
    assert await count(sessions, Attachment) == 1
    assert await state_of(telegram, reporter) == (None, {})


async def test_material_refused_because_the_case_closed_meanwhile_keeps_what_was_collected(
    telegram: Telegram, sessions: SessionFactory, clock: FrozenClock
) -> None:
    reporter = telegram.user()
    await collecting(reporter)
    await move_first_case(
        sessions, clock.now(), CaseStatus.ASSIGNED, CaseStatus.ACCEPTED, CaseStatus.RESOLVED
    )
    await reporter.click("完成")
    assert reporter.alerts[-1] == "该问题已办结，不能再补充材料。如有新情况，请重新反映。"
    state, data = await state_of(telegram, reporter)
    assert state == "Material:collect"
    assert [item["kind"] for item in data["items"]] == ["photo"] and data["note"] == NOTE
    assert await count(sessions, CaseEvent, CaseEvent.kind == EventKind.MATERIAL_ADDED) == 0


async def test_material_refused_for_an_empty_collection_waits_for_something_to_add(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    reporter = telegram.user()
    await report(reporter)
    await reporter.send("/my")
    await reporter.click("AJ-2026-00001 · 已提交，待受理")
    await reporter.click("补充材料")
    await reporter.click("完成")
    assert reporter.alerts[-1] == "请先发送图片、文件、语音或文字说明，再点“完成”。"
    await reporter.send(NOTE)
    await reporter.click("完成")
    assert reporter.last == "已为问题 AJ-2026-00001 补充文字说明，已转交办理人员。"
    assert await state_of(telegram, reporter) == (None, {})


async def test_receipt_codes_refused_even_silently_leave_the_person_waiting_for_a_code(
    telegram: Telegram, clock: FrozenClock
) -> None:
    done = await report(telegram.user())
    code = done.split("回执码：<code>")[1].split("</code>")[0]
    phone = telegram.user()
    await phone.send("/track")
    for _ in range(5):
        await phone.send("ABCD-EFGH-JKMN")
        assert phone.last.startswith("未找到该回执码对应的问题，请核对后重新输入")
    await phone.send("ABCD-EFGH-JKMP")
    assert phone.replies == ["尝试次数过多，请稍后再试。"]
    await phone.send("ABCD-EFGH-JKMQ")
    assert phone.replies == []  # refused silently
    assert await state_of(telegram, phone) == ("Track:code", {})

    clock.advance(timedelta(minutes=11))
    await phone.send(code)
    assert phone.last.startswith("已关注问题")
    assert await state_of(telegram, phone) == (None, {})


# --- the inspector's steps ---------------------------------------------------------------------


@pytest.fixture
async def casework(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> Telegram:
    """An appeal assigned to 李监督 and signed for."""
    people = await make_people(sessions, clock)
    tg = build_casework(sessions, catalog, calendar, clock)
    await submit(sessions, catalog, calendar, clock, people.reporter)
    await deliver(tg, sessions)
    await user(tg, INSPECTOR).click("签收")
    return tg


async def test_a_crash_after_progress_is_recorded_leaves_the_inspector_out_of_the_step(
    casework: Telegram, sessions: SessionFactory
) -> None:
    inspector = user(casework, INSPECTOR)
    await inspector.click("记录进展")
    await inspector.send("已约谈经开区财政局，资金拨付方案已报区政府。")
    updates = remembered(casework)
    with killed_at(casework, AnswerCallbackQuery, "已记录"), pytest.raises(Crash):
        await inspector.click("告知反映人")
    assert await state_of(casework, inspector) == (None, {})

    await casework.dispatcher.feed_update(casework.bot, updates[-1])  # delivered again: skipped
    await inspector.click("告知反映人")
    assert inspector.alerts[-1] == StaleAction.message
    assert await count(sessions, CaseEvent, CaseEvent.kind == EventKind.PROGRESS) == 1


async def test_a_crash_after_resolving_leaves_the_inspector_out_of_the_step(
    casework: Telegram, sessions: SessionFactory
) -> None:
    inspector = user(casework, INSPECTOR)
    await inspector.click("办结")
    await inspector.click("问题已解决")
    await inspector.send("土地出让金返还及配套费已全部拨付到位。")
    updates = remembered(casework)
    with killed_at(casework, SendMessage, "已办结"), pytest.raises(Crash):
        await inspector.send("1700")
    assert await state_of(casework, inspector) == (None, {})

    await casework.dispatcher.feed_update(casework.bot, updates[-1])  # delivered again: skipped
    await inspector.send("1700")  # no longer an amount: nothing is resolved twice
    assert "已办结" not in inspector.last
    assert await count(sessions, CaseEvent, CaseEvent.kind == EventKind.RESOLVED) == 1


async def test_a_return_reason_refused_as_too_long_keeps_the_step_and_the_choice(
    casework: Telegram, sessions: SessionFactory
) -> None:
    inspector = user(casework, INSPECTOR)
    await inspector.click("退回")
    await inspector.click("退回信访室重新分办")
    before = await state_of(casework, inspector)
    await inspector.send("理" * 1001)
    assert inspector.last == "退回理由太长（1001字），请精简到1000字以内。"
    assert await state_of(casework, inspector) == before == ("CaseFlow:return_reason", before[1])
    assert before[1]["team_id"] == 0
    assert await count(sessions, ApprovalRequest) == 0

    await inspector.send("该问题属于国有企业监督范围，不属本组职责。")
    assert inspector.last == "退回申请已提交组长审批，审批结果将通知您。"
    assert await state_of(casework, inspector) == (None, {})
    assert await count(sessions, ApprovalRequest) == 1


async def test_a_question_refused_as_too_long_keeps_the_step(
    casework: Telegram, sessions: SessionFactory
) -> None:
    inspector = user(casework, INSPECTOR)
    await inspector.click("提问")
    await inspector.send("问" * 1001)
    assert inspector.last == "问题太长（1001字），请精简到1000字以内。"
    assert (await state_of(casework, inspector))[0] == "CaseFlow:question"
    await inspector.send("合同编号是多少？")
    assert "已转达" in inspector.last
    assert await state_of(casework, inspector) == (None, {})
    assert await count(sessions, CaseEvent, CaseEvent.kind == EventKind.QUESTION) == 1


# --- 回复: back to where the reporter was ------------------------------------------------------


DRAFT = {"draft": {"description": "另一件事的草稿"}}


async def answering(casework: Telegram, sessions: SessionFactory) -> TgUser:
    """A question reached the reporter, who is half-way through a draft, and pressed 回复."""
    inspector, reporter = user(casework, INSPECTOR), user(casework, REPORTER)
    await inspector.click("提问")
    await inspector.send("请问涉及金额是多少？")
    await deliver(casework, sessions)
    context = casework.dispatcher.fsm.get_context(casework.bot, chat_id=REPORTER, user_id=REPORTER)
    await context.set_state("Intake:evidence")
    await context.set_data(DRAFT)
    await reporter.click("回复")
    return reporter


async def test_a_crash_after_an_answer_is_relayed_puts_the_reporter_back_in_their_draft(
    casework: Telegram, sessions: SessionFactory
) -> None:
    reporter = await answering(casework, sessions)
    updates = remembered(casework)
    with killed_at(casework, SendMessage, "已转达"), pytest.raises(Crash):
        await reporter.send("约一千七百万元。")
    assert await state_of(casework, reporter) == ("Intake:evidence", DRAFT)
    await casework.dispatcher.feed_update(casework.bot, updates[-1])  # delivered again: skipped
    assert await state_of(casework, reporter) == ("Intake:evidence", DRAFT)
    assert await count(sessions, CaseEvent, CaseEvent.kind == EventKind.ANSWER) == 1


async def test_an_answer_refused_as_too_long_keeps_the_reporter_answering(
    casework: Telegram, sessions: SessionFactory
) -> None:
    reporter = await answering(casework, sessions)
    before = await state_of(casework, reporter)
    await reporter.send("答" * 2001)
    assert reporter.last == "回复内容太长（2001字），请精简到2000字以内。"
    assert await state_of(casework, reporter) == before
    assert before[0] == "RelayFlow:answer"
    await reporter.send("约一千七百万元。")
    assert await state_of(casework, reporter) == ("Intake:evidence", DRAFT)


# --- a new report -------------------------------------------------------------------------------


class WritesAtOnce(MemoryStorage):
    """A storage without the database's deferral (as Redis): what each state write finds."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str | None, dict[str, Any]]] = []

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await super().set_state(key, state)
        self.seen.append((await self.get_state(key), await self.get_data(key)))


async def test_a_storage_that_writes_at_once_never_holds_a_new_report_without_its_draft(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    async with sessions() as session:
        await make_card(session, clock.now())
    storage = WritesAtOnce()
    telegram = Telegram.create(
        create_dispatcher(
            settings=Settings(),
            config=catalog,
            sessions=sessions,
            calendar=calendar,
            storage=storage,
            events_isolation=SimpleEventIsolation(),
            clock=clock,
        )
    )
    reporter = telegram.user()
    await reporter.start(TOKEN)
    await reporter.click("反映问题")
    assert "请选择您要反映的问题类别" in reporter.last
    assert storage.seen and all(
        "draft_id" in data for state, data in storage.seen if state and state.startswith("Intake")
    )
