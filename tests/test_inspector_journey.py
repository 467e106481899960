"""A case's whole life in chat with every journey wired together: the reporter scans the card and
reports, the inspector signs, asks, records progress and resolves with the amount, the sweep
asks for the follow-up one working day later, the reporter is satisfied, the case is closed; the
history verifies and every message the bot sent is valid Telegram HTML."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.sweep import sweep_deadlines
from models.calendar import WorkCalendar
from models.case import CaseStatus, Satisfaction
from models.event import verify_chain
from models.team import Role
from tests.factories import make_inspector
from tests.inspector_support import deliver, events, load, reporter_notices
from tests.intake_helpers import assert_telegram_html, build, make_card, report

pytestmark = pytest.mark.both_databases


async def test_a_case_lives_from_the_card_to_the_follow_up(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    async with sessions() as session:
        await make_card(session, clock.now())
        await make_inspector(
            session, clock.now(), team_code="business_env", name="李监督", telegram_user_id=501
        )
        await make_inspector(
            session,
            clock.now(),
            team_code="business_env",
            role=Role.TEAM_LEADER,
            name="曾燕",
            telegram_user_id=502,
        )
    tg = build(sessions, catalog, calendar, clock)
    reporter, inspector = tg.user("宋利剑"), tg.user("李监督", user_id=501)

    receipt = await report(reporter)
    found = re.search(r"AJ-2026-\d{5}", receipt)
    assert found is not None
    number = found.group(0)
    await deliver(tg, sessions)
    assignment = inspector.messages[-1]
    assert f"新交办问题 {number}" in assignment.text

    await inspector.click("签收", message=assignment)
    await inspector.click("提问", message=assignment)
    await inspector.send("请问返还协议的签订时间？")
    await deliver(tg, sessions)
    await reporter.click("回复")
    await reporter.send("2023年5月签订。")
    await inspector.click("记录进展", message=assignment)
    await inspector.send("已协调财政局，本周拨付。")
    await inspector.click("告知反映人")
    await inspector.click("办结", message=assignment)
    await inspector.click("问题已解决")
    await inspector.send("土地出让金1700余万元已返还到位。")
    await inspector.send("1700万")
    await deliver(tg, sessions)
    assert "协调落实资金：1700万元" in reporter.last

    await reporter.send("/my")
    assert "已办结" in reporter.last

    # 回访: 09:00 on Friday 27 November, one working day after 办结
    await sweep_deadlines(sessions, catalog, calendar, datetime(2026, 11, 27, 1, 0, tzinfo=UTC))
    await deliver(tg, sessions)
    await reporter.click("满意")
    closed = await load(sessions, number)
    assert closed.status is CaseStatus.CLOSED and closed.satisfaction is Satisfaction.SATISFIED
    assert closed.amount_coordinated_yuan == 17_000_000

    assert await reporter_notices(sessions) == [
        "case_accepted",
        "case_question",
        "case_progress",
        "case_resolved",
        "followup_ask",
    ]
    assert closed.id is not None
    assert verify_chain(closed, await events(sessions, closed.id)) == []
    assert_telegram_html(tg)
