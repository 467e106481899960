"""室组联动 through the production dispatcher: the lead 组长 asks the 信访室 to assist from the
case card, a 信访室 member records 协办进展 with the button, the lead assignee is told, and the
信访室's leader hears when the case is 办结 — the reporter hears of none of it."""

from __future__ import annotations

import pytest

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from models.calendar import WorkCalendar
from models.case import CaseStatus
from models.event import EventKind
from models.team import Role
from tests.casework import outbox
from tests.harness import Telegram, TgUser
from tests.inspector_support import (
    BUSINESS_LEADER,
    DISPATCH_LEADER,
    INSPECTOR,
    SAFETY_INSPECTOR,
    build,
    deliver,
    events,
    load,
    make_people,
    reporter_notices,
    submit,
    user,
)
from tests.intake_helpers import assert_telegram_html

pytestmark = pytest.mark.both_databases


def other_user(tg: Telegram) -> TgUser:
    """An inspector of another team (安全生产组), not asked to assist."""
    return user(tg, SAFETY_INSPECTOR)


DISPATCH_INSPECTOR = 611
NOTE = "信访室已调阅该企业此前三次来访记录，管委会曾书面承诺年内返还。"


async def test_an_assist_team_adds_progress_the_lead_is_told_and_the_assist_leader_hears_of_the_end(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    people = await make_people(
        sessions, clock, extra=((DISPATCH_INSPECTOR, "dispatch", Role.INSPECTOR, "信访监督员"),)
    )
    tg = build(sessions, catalog, calendar, clock)
    lead, inspector = user(tg, BUSINESS_LEADER), user(tg, INSPECTOR)
    helper_leader, helper = user(tg, DISPATCH_LEADER), user(tg, DISPATCH_INSPECTOR)
    case = await submit(sessions, catalog, calendar, clock, people.reporter, named=True)
    assert case.id is not None
    await deliver(tg, sessions)
    await inspector.click("签收")
    told_reporter = await reporter_notices(sessions)

    await helper.send(f"/case {case.number}")  # not yet 协办: no sight of it
    assert "无权查看" in helper.last

    await lead.send(f"/case {case.number}")
    await lead.click("协办")
    assert "目前没有协办组" in lead.last and "请选择要增加的协办组" in lead.last
    assert "增加协办：“营商环境”立项监督组" not in lead.messages[-1].button_texts  # the lead
    await lead.click("增加协办：信访室")
    assert "已请信访室协办问题" in lead.last
    await deliver(tg, sessions)
    assert f"【协办】{case.number}" in helper_leader.last and "营商环境" in helper_leader.last
    assert helper_leader.messages[-1].button_texts == ["协办进展", "查看材料"]
    assert "已请信访室协办该问题" in inspector.last

    await helper.send(f"/assist {case.number}")
    assert "由“营商环境”立项监督组主办" in helper.last and "协办组：信访室" in helper.last
    assert helper.messages[-1].button_texts == ["协办进展"]  # no 增加/撤销: not the lead's
    await lead.send(f"/assist {case.number}")
    assert "撤销协办：信访室" in lead.messages[-1].button_texts
    await other_user(tg).send(f"/assist {case.number}")
    assert "无权查看" in other_user(tg).last

    await helper.send(f"/case {case.number}")
    assert case.number in helper.last and "宋利剑" not in helper.last
    assert "协办组：信访室" in helper.last
    assert "协办进展" in helper.messages[-1].button_texts
    assert "办结" not in helper.messages[-1].button_texts
    await helper.click("协办进展")
    assert "请输入问题" in helper.last and "协办进展" in helper.last
    await helper.send(NOTE)
    assert f"问题 {case.number} 的协办进展已记录" in helper.last
    await deliver(tg, sessions)
    assert f"【协办进展】{case.number}" in inspector.last
    assert "信访室" in inspector.last and "管委会曾书面承诺年内返还" in inspector.last
    noted = [e for e in await events(sessions, case.id) if e.kind is EventKind.ASSIST_PROGRESS]
    assert len(noted) == 1 and noted[0].actor_id == people.id(DISPATCH_INSPECTOR)
    assert not noted[0].public and (await load(sessions, case.number)).status is (
        CaseStatus.ACCEPTED
    )

    other = other_user(tg)  # not 协办: the button's payload does not make it so
    await other.click("协办进展", message=helper.messages[-3])
    assert "不是该问题的协办组" in (tg.session.callback_answers[-1].text or "")
    assert not [
        e for e in await events(sessions, case.id) if e.actor_id == people.id(SAFETY_INSPECTOR)
    ]

    await inspector.send(f"/case {case.number}")
    await inspector.click("办结")
    await inspector.click("问题已解决")
    await inspector.send("土地出让金返还及配套费已全部拨付到位。")
    await inspector.click("跳过")
    assert (await load(sessions, case.number)).status is CaseStatus.RESOLVED
    await deliver(tg, sessions)
    assert f"【协办】{case.number}" in helper_leader.last and "办结" in helper_leader.last
    assert f"【协办】{case.number}" in helper.last  # who added progress hears too
    changed = await outbox(sessions, "assist_case_changed")
    assert sorted(row.chat_id or 0 for row in changed) == sorted(
        [DISPATCH_LEADER, DISPATCH_INSPECTOR]
    )
    new_for_reporter = (await reporter_notices(sessions))[len(told_reporter) :]
    assert not [kind for kind in new_for_reporter if kind.startswith("assist")]
    assert new_for_reporter == ["case_resolved"]  # the 办结 only: no 协办 word reaches them
    assert_telegram_html(tg)
