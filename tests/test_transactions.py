"""A report is one transaction: when the database fails half-way through 确认提交 (the case row
and its first event already written, the notices not), nothing of the case stays, the reporter's
draft is kept, they are told politely, and pressing 确认提交 again submits it once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from handlers.errors import UNEXPECTED
from handlers.states import Intake
from models.attachment import Attachment
from models.calendar import WorkCalendar
from models.case import Case, CaseCounter
from models.clock import CaseClock
from models.event import CaseEvent
from models.notification import Notification
from models.reporter import ReporterContact
from tests.inspector_support import make_people
from tests.intake_helpers import REFUND, TOKEN, build, make_card, state_of

pytestmark = pytest.mark.both_databases


class DiskFull(RuntimeError):
    """What a failing write looks like to the use case."""


@dataclass
class Failure:
    armed: bool = True
    happened: int = 0


@pytest.fixture
def failing_notification_insert() -> Iterator[Failure]:
    """While armed, every INSERT into the outbox fails in the driver (the case and its first event
    are flushed before the notices are queued)."""
    failure = Failure()

    def fail(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if failure.armed and statement.lstrip().upper().startswith("INSERT INTO NOTIFICATIONS"):
            failure.happened += 1
            raise DiskFull("database or disk is full")

    event.listen(Engine, "before_cursor_execute", fail)
    try:
        yield failure
    finally:
        event.remove(Engine, "before_cursor_execute", fail)


async def _counts(sessions: SessionFactory) -> dict[str, int]:
    async with sessions() as session:
        counts = {}
        for model in (Case, CaseEvent, Notification, CaseClock, Attachment, ReporterContact):
            counts[model.__name__] = (
                await session.exec(select(func.count()).select_from(model))
            ).one()
        counts["counter"] = (
            await session.exec(select(func.coalesce(func.sum(CaseCounter.last), 0)))
        ).one()
        return counts


async def test_a_report_that_fails_half_way_leaves_no_half_case_and_keeps_the_draft(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    failing_notification_insert: Failure,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await make_people(sessions, clock)  # an inspector on the team: routing queues notices
    async with sessions() as session:
        await make_card(session, clock.now())
    telegram = build(sessions, catalog, calendar, clock)
    user = telegram.user()
    await user.start(TOKEN)
    await user.click("反映问题")
    await user.click("营商环境")
    await user.send(REFUND)
    await user.send_photo()
    await user.click("完成")
    await user.click("跳过")
    await user.click("实名")
    await user.click("手动输入")
    await user.send("宋利剑")
    await user.send("13812345678")
    state_before, draft_before = await state_of(telegram, user)
    assert state_before == Intake.summary.state
    before = await _counts(sessions)

    with caplog.at_level(logging.ERROR):
        await user.click("确认提交")

    assert failing_notification_insert.happened, "the injected failure never happened"
    assert await _counts(sessions) == before
    assert before["Case"] == 0 and before["CaseEvent"] == 0 and before["Notification"] == 0
    assert await state_of(telegram, user) == (state_before, draft_before)
    alert = telegram.session.callback_answers[-1]
    assert alert.text == UNEXPECTED and alert.show_alert
    assert "已保存" in alert.text and "请稍后再试" in alert.text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "宋利剑" not in logged and "13812345678" not in logged and REFUND not in logged

    failing_notification_insert.armed = False
    await user.click("确认提交")
    after = await _counts(sessions)
    assert after["Case"] == 1 and after["ReporterContact"] == 1 and after["Attachment"] == 1
    assert after["CaseEvent"] >= 1 and after["Notification"] >= 1
    assert await state_of(telegram, user) == (None, {})
    assert "提交成功" in user.last and "此反映已提交过" not in user.last
