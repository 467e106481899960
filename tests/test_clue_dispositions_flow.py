"""A 实名 clue disposed of in chat through the production dispatcher: proposed for 初步核实,
reviewed by the team leader, approved by the 委领导, then 立案审查 with 2 people; the reporter
told the result objects once (a second objection refused), and the 委领导 hear of it."""

from __future__ import annotations

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.audit import verify_audit
from models.calendar import WorkCalendar
from models.case import CaseStatus
from models.event import EventKind
from tests.inspector_support import (
    LEADER,
    REPORTER,
    SOE,
    SOE_INSPECTOR,
    SOE_LEADER,
    build,
    clocks,
    deliver,
    events,
    load,
    make_people,
    reporter_notices,
    submit,
    user,
)
from tests.intake_helpers import assert_telegram_html


async def test_a_named_clue_is_checked_placed_on_file_told_and_objected_to_once(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    inspector, team_leader = user(tg, SOE_INSPECTOR), user(tg, SOE_LEADER)
    leader, reporter = user(tg, LEADER), user(tg, REPORTER)
    case = await submit(
        sessions, catalog, calendar, clock, people.reporter, category="soe_corruption",
        description=SOE, named=True,
    )  # fmt: skip
    await deliver(tg, sessions)
    await team_leader.click("分派")
    await team_leader.click("周监督（0）")
    await deliver(tg, sessions)
    # a clue is disposed of, never 办结 or 整改: its notice offers 提出处置意见 instead
    assert inspector.messages[-1].button_texts == [
        "签收", "退回", "查看材料", "提问", "记录进展", "申请延期", "提出处置意见",
    ]  # fmt: skip
    await inspector.click("签收")
    await deliver(tg, sessions)

    await inspector.click("提出处置意见")
    assert "请选择问题线索" in inspector.last
    assert "予以了结" in inspector.messages[-1].button_texts
    assert "立案审查" not in inspector.messages[-1].button_texts
    await inspector.send("初步核实")  # typed instead of pressed: told so, the step stays
    assert inspector.last == "请点击上方按钮选择，或发送 /cancel 取消。"
    await inspector.click("初步核实")
    await inspector.send_photo()  # the reason is words
    assert inspector.last == "请以文字输入，或发送 /cancel 取消。"
    await inspector.send("反映问题具体，有可查性，建议初步核实。")
    assert "已提交审核" in inspector.last
    await deliver(tg, sessions)
    assert "线索处置意见待审核" in team_leader.last and "初步核实" in team_leader.last
    await team_leader.click("同意")
    assert "已报委领导审批" in team_leader.last
    await deliver(tg, sessions)
    assert "线索处置意见待审批" in leader.last and "周监督" in leader.last
    assert "宋利剑" not in leader.last  # never the reporter
    await leader.click("同意")
    assert "已批准“初步核实”" in leader.last
    await deliver(tg, sessions)
    assert "委领导已批准处置意见" in inspector.last and "办理期限" in inspector.last
    assert (await clocks(sessions, case.id or 0))["disposition"].workdays == 30

    await inspector.send(f"/case {case.number}")
    await inspector.click("提出处置意见")
    assert inspector.messages[-1].button_texts == ["立案审查", "予以了结"]
    await inspector.click("立案审查")
    await inspector.send("两")
    assert "1至999" in inspector.last
    await inspector.send("2")
    await inspector.send("初核属实，涉嫌违纪违法，建议立案审查。")
    await deliver(tg, sessions)
    assert "立案2人" in team_leader.last
    await team_leader.click("同意")
    await deliver(tg, sessions)
    await leader.click("同意")
    assert "审查调查系统" in leader.last
    await deliver(tg, sessions)
    closed = await load(sessions, case.number)
    assert closed.status is CaseStatus.CLOSED
    assert "处置结果：已立案审查" in reporter.last and "初步核实" not in reporter.last
    assert (await reporter_notices(sessions))[-1] == "clue_result"

    await reporter.click("提出异议")
    assert "只能提出一次" in reporter.last
    await reporter.send("被反映人仍在原岗位，请再核查。")
    assert "您的异议已收到" in reporter.last
    await deliver(tg, sessions)
    assert "处置结果异议" in leader.last and "请再核查" in leader.last
    await reporter.click("提出异议")
    assert any("不能重复提出" in alert for alert in reporter.alerts)
    kinds = [e.kind for e in await events(sessions, case.id or 0)]
    assert kinds.count(EventKind.CLUE_OBJECTED) == 1
    assert kinds.count(EventKind.DISPOSITION_APPROVED) == 2
    assert_telegram_html(tg)
    async with sessions() as session:
        assert (await verify_audit(session)).ok
