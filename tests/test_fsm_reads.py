"""Within an update the conversation is read once, through the update's own connection; the next
update reads it again, so a change made between two updates (another process, ``lianka purge``)
is what the person's next step sees."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import delete, event

from bot.db import SessionFactory
from bot.middlewares import _Mark
from bot.services.updates import UpdateRow
from bot.storage import SqlStorage, deferred_writes, reading_through
from models.errors import StaleAction
from models.fsm import FsmRecord
from tests.harness import Telegram
from tests.intake_helpers import TOKEN, state_of

pytestmark = pytest.mark.both_databases


@contextmanager
def conversation_reads(sessions: SessionFactory) -> Iterator[list[str]]:
    """The statements that read ``fsm_records`` while the block runs."""
    reads: list[str] = []

    def seen(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if sql.lstrip().upper().startswith("SELECT") and "fsm_records" in sql:
            reads.append(sql)

    engine = sessions.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield reads
    finally:
        event.remove(engine, "before_cursor_execute", seen)


async def test_each_step_of_a_report_reads_the_conversation_once(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    reporter = telegram.user(user_id=7_000_301)
    await reporter.start(TOKEN)
    steps = [
        reporter.click("反映问题"),
        reporter.click("营商环境"),
        reporter.send("园区承诺的土地出让金返还至今未到位。"),
        reporter.click("完成"),
        reporter.click("跳过"),
        reporter.click("匿名"),
        reporter.click("确认提交"),
    ]
    for step in steps:
        with conversation_reads(sessions) as reads:
            await step
        assert len(reads) == 1
    assert "提交成功" in reporter.last


async def test_a_draft_forgotten_between_two_steps_is_gone_at_the_next_one(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    reporter = telegram.user(user_id=7_000_302)
    await reporter.start(TOKEN)
    await reporter.click("反映问题")
    assert (await state_of(telegram, reporter))[0] == "Intake:category"
    async with sessions() as session:  # as ``lianka purge`` forgets an untouched draft
        await session.exec(delete(FsmRecord))
        await session.commit()

    await reporter.click("营商环境")

    assert reporter.alerts[-1] == StaleAction.message
    assert await state_of(telegram, reporter) == (None, {})


async def test_a_step_that_saves_its_draft_twice_keeps_both_parts(sessions: SessionFactory) -> None:
    """A handler that commits its use case, then changes the draft again (and commits again):
    the second change starts from what the first committed, not from the draft read before it."""
    storage = SqlStorage(sessions)
    key = StorageKey(bot_id=1, chat_id=7_000_303, user_id=7_000_303)
    async with sessions() as session:
        with reading_through(session):
            assert await storage.get_data(key) == {}  # the FSM middleware's read, before
            row = UpdateRow(bot_id=1, update_id=1, handled_at=datetime.now(UTC))
            with deferred_writes(session) as pending:
                mark = _Mark(row, pending, held=False)
                event.listen(session.sync_session, "before_commit", mark.before_commit)
                event.listen(session.sync_session, "after_commit", mark.after_commit)
                await storage.update_data(key, {"category": "business_env"})
                await session.commit()
                assert await storage.get_data(key) == {"category": "business_env"}
                await storage.update_data(key, {"description": "土地出让金返还未到位。"})
                await session.commit()
                mark.detach(session.sync_session)
    async with sessions() as session:
        assert await storage.get_data(key) == {
            "category": "business_env",
            "description": "土地出让金返还未到位。",
        }
