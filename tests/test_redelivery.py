"""An update Telegram delivers again (a webhook retry after a crash, polling after a restart) is
handled once: one case, one question, one 补充材料 — and a report whose confirmation a crash cut
off gets its confirmation when the press comes again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import AnswerCallbackQuery, EditMessageReplyMarkup
from aiogram.types import Update
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.retry import LateCallbackAnswers
from bot.services.updates import prune_processed_updates
from models.case import Case
from models.event import CaseEvent, EventKind
from models.notification import Notification
from models.processed_update import ProcessedUpdate
from models.reporter import receipt_hash
from tests.harness import BOT_ID, Telegram
from tests.inspector_support import INSPECTOR, REPORTER, deliver, make_people, submit, user
from tests.inspector_support import build as build_casework
from tests.intake_helpers import REFUND, TOKEN, report, state_of

pytestmark = pytest.mark.both_databases


class Crash(BaseException):
    """The process dies here: nothing after it runs, no error handler answers."""


@contextmanager
def delivered_twice(telegram: Telegram) -> Iterator[None]:
    """Every update from now on reaches the dispatcher twice, with the same update_id."""

    async def feed(**fields: Any) -> Any:
        update = Update(update_id=next(telegram._update_ids), **fields)
        result = await telegram.dispatcher.feed_update(telegram.bot, update)
        await telegram.dispatcher.feed_update(telegram.bot, update)
        return result

    telegram.feed = feed  # type: ignore[method-assign]
    try:
        yield
    finally:
        del telegram.feed


async def count(sessions: SessionFactory, model: Any, *where: Any) -> int:
    async with sessions() as session:
        return len((await session.exec(select(model).where(*where))).all())


async def test_a_report_delivered_twice_step_by_step_is_one_case_and_one_conversation(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    once = telegram.user(user_id=7_000_101)
    await report(once)
    twice = telegram.user(user_id=7_000_102)
    with delivered_twice(telegram):
        await report(twice)
    assert "提交成功" in twice.last
    assert [m.text for m in twice.messages][:-1] == [m.text for m in once.messages][:-1]
    assert await count(sessions, Case) == 2
    async with sessions() as session:
        cases = (await session.exec(select(Case).order_by(col(Case.id)))).all()
        notices = (await session.exec(select(Notification))).all()
    assert [c.number for c in cases] == ["AJ-2026-00001", "AJ-2026-00002"]
    assert len([n for n in notices if n.case_id == cases[0].id]) == len(
        [n for n in notices if n.case_id == cases[1].id]
    )


async def test_material_delivered_twice_is_added_once(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    reporter = telegram.user()
    await report(reporter)
    await reporter.send("/my")
    await reporter.click("AJ-2026-00001 · 已提交，待受理")
    with delivered_twice(telegram):
        await reporter.click("补充材料")
        await reporter.send_photo()
        await reporter.send("管委会2023年的会议纪要。")
        await reporter.click("完成")
    assert reporter.last == "已为问题 AJ-2026-00001 补充附件1个和文字说明，已转交办理人员。"
    assert await count(sessions, CaseEvent, CaseEvent.kind == EventKind.MATERIAL_ADDED) == 1


async def test_a_question_delivered_twice_reaches_the_reporter_once(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: Any, clock: FrozenClock
) -> None:
    people = await make_people(sessions, clock)
    tg = build_casework(sessions, catalog, calendar, clock)
    await submit(sessions, catalog, calendar, clock, people.reporter)
    inspector, reporter = user(tg, INSPECTOR), user(tg, REPORTER)
    await deliver(tg, sessions)
    with delivered_twice(tg):
        await inspector.click("签收")
        await inspector.click("提问")
        await inspector.send("合同编号是多少？")
    await deliver(tg, sessions)
    assert await count(sessions, CaseEvent, CaseEvent.kind == EventKind.ACCEPTED) == 1
    assert await count(sessions, CaseEvent, CaseEvent.kind == EventKind.QUESTION) == 1
    assert len([m for m in reporter.messages if "合同编号是多少" in m.text]) == 1


def remembered(telegram: Telegram) -> list[Update]:
    """Every update fed from now on, in order, to be delivered again."""
    updates: list[Update] = []
    original = telegram.dispatcher.feed_update

    async def remember(bot: Any, update: Update, **kwargs: Any) -> Any:
        updates.append(update)
        return await original(bot, update, **kwargs)

    telegram.dispatcher.feed_update = remember  # type: ignore[method-assign]
    return updates


async def test_a_crash_before_the_submit_commits_leaves_the_press_to_be_handled_again(
    telegram: Telegram, sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.services.intake as intake

    route_case = intake.route_case  # type: ignore[attr-defined]

    async def crash_after_routing(*args: Any, **kwargs: Any) -> None:
        await route_case(*args, **kwargs)
        raise Crash

    reporter = telegram.user()
    updates = remembered(telegram)
    monkeypatch.setattr(intake, "route_case", crash_after_routing)
    with pytest.raises(Crash):
        await report(reporter)
    assert await count(sessions, Case) == 0
    steps = len(updates)
    assert await count(sessions, ProcessedUpdate) == steps - 1

    monkeypatch.setattr(intake, "route_case", route_case)
    await telegram.dispatcher.feed_update(telegram.bot, updates[-1])
    assert "提交成功" in reporter.last and "回执码已重新生成" not in reporter.last
    assert await count(sessions, Case) == 1
    assert await count(sessions, ProcessedUpdate, col(ProcessedUpdate.finished)) == steps


async def test_a_crash_after_the_submit_commits_sends_the_confirmation_on_redelivery(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    reporter = telegram.user()
    sent = telegram.session.make_request

    async def die_on_confirmation(bot: Any, method: Any, timeout: Any = None) -> Any:
        if "提交成功" in str(getattr(method, "text", "")):
            raise Crash
        return await sent(bot, method, timeout)

    updates = remembered(telegram)
    telegram.session.make_request = die_on_confirmation  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await report(reporter)
    telegram.session.make_request = sent  # type: ignore[method-assign]
    assert not any("提交成功" in m.text for m in reporter.messages)
    assert await count(sessions, Case) == 1

    await telegram.dispatcher.feed_update(telegram.bot, updates[-1])  # delivered again
    assert "提交成功" in reporter.last and "回执码已重新生成" in reporter.last
    code = reporter.last.split("您的回执码：<code>")[1].split("</code>")[0]
    async with sessions() as session:
        case = (await session.exec(select(Case))).one()
    assert case.receipt_hash == receipt_hash(code)
    await telegram.dispatcher.feed_update(telegram.bot, updates[-1])  # now it is finished
    assert len([m for m in reporter.messages if "提交成功" in m.text]) == 1
    assert await count(sessions, Case) == 1

    await reporter.start(TOKEN)  # the draft is gone: a new report starts afresh
    assert "廉政监督联系卡" in reporter.last


async def test_handled_updates_older_than_three_days_are_forgotten(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    async with sessions() as session:
        for update_id, age in ((1, timedelta(days=4)), (2, timedelta(days=2))):
            session.add(
                ProcessedUpdate(bot_id=BOT_ID, update_id=update_id, handled_at=clock.now() - age)
            )
        await session.commit()
    assert await prune_processed_updates(sessions, clock.now()) == 1
    assert await count(sessions, ProcessedUpdate) == 1


async def test_a_crash_in_the_middle_of_a_draft_step_takes_the_step_once_on_redelivery(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    reporter = telegram.user()
    await reporter.start(TOKEN)
    await reporter.click("反映问题")
    await reporter.click("营商环境")
    sent = telegram.session.make_request

    async def die_on_the_next_prompt(bot: Any, method: Any, timeout: Any = None) -> Any:
        if "请上传相关材料" in str(getattr(method, "text", "")):
            raise Crash
        return await sent(bot, method, timeout)

    updates = remembered(telegram)
    telegram.session.make_request = die_on_the_next_prompt  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await reporter.send(REFUND)
    telegram.session.make_request = sent  # type: ignore[method-assign]
    state, draft = await state_of(telegram, reporter)
    assert state == "Intake:description" and not draft["description"]

    await telegram.dispatcher.feed_update(telegram.bot, updates[-1])  # delivered again
    await telegram.dispatcher.feed_update(telegram.bot, updates[-1])  # and again
    assert "请上传相关材料" in reporter.last
    state, draft = await state_of(telegram, reporter)
    assert state == "Intake:evidence" and draft["description"] == REFUND
    assert len([m for m in reporter.messages if "请上传相关材料" in m.text]) == 1


async def test_a_press_handled_again_after_its_buttons_were_dropped_still_takes_the_step(
    telegram: Telegram,
) -> None:
    reporter = telegram.user()
    await reporter.start(TOKEN)
    await reporter.click("反映问题")
    await reporter.click("营商环境")
    await reporter.send(REFUND)
    sent = telegram.session.make_request

    async def already_dropped(bot: Any, method: Any, timeout: Any = None) -> Any:
        if isinstance(method, EditMessageReplyMarkup):
            raise TelegramBadRequest(method, "Bad Request: message is not modified")
        return await sent(bot, method, timeout)

    telegram.session.make_request = already_dropped  # type: ignore[method-assign]
    await reporter.click("完成")
    assert "金额" in reporter.last


async def test_a_late_answer_to_a_button_press_is_dropped_not_an_error() -> None:
    from aiogram import Bot

    method = AnswerCallbackQuery(callback_query_id="1")
    too_old = "Bad Request: query is too old and response timeout expired or query ID is invalid"

    async def telegram_says(bot: Bot, call: Any) -> Any:
        raise TelegramBadRequest(call, too_old)

    bot = Bot(f"{BOT_ID}:TEST")
    late: Any = LateCallbackAnswers()
    assert await late(telegram_says, bot, method) is True
    with pytest.raises(TelegramBadRequest):
        await late(telegram_says, bot, EditMessageReplyMarkup(chat_id=1))
    await bot.session.close()
