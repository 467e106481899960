"""反馈整改 through the production dispatcher: the assignee of an accepted appeal sets the 整改 with
the case card's buttons (bad input answered, nothing lost), the reporter is told what and by when,
the sweep warns the assignee, marks the 整改 overdue and escalates it once; 办结 waits for the 核验;
the 核验 comes late, 办结 with 已整改 follows, and the report for the period shows the 整改 overdue,
then verified late, with a 整改到位率 under 100%."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.sweep import sweep_deadlines
from models.calendar import WorkCalendar
from models.case import CaseStatus, Outcome
from models.clock import ClockStage, ClockState
from models.event import EventKind
from models.rectification import Rectification, RectificationState
from reports.document import Table, report_sections
from reports.figures import Scope
from reports.periods import custom
from reports.report import Report, build_report
from tests.casework import outbox, sh
from tests.inspector_support import (
    BUSINESS_LEADER,
    INSPECTOR,
    LEADER,
    REPORTER,
    build,
    clocks,
    deliver,
    events,
    load,
    make_people,
    submit,
    user,
)
from tests.intake_helpers import assert_telegram_html

pytestmark = pytest.mark.both_databases

# accepted Thursday 26 Nov 2026 10:00 (Shanghai); 整改 within 10 working days
RECTIFY_DUE = sh(2026, 12, 10, 18)  # Fri 27 … Thu 10 Dec
RECTIFY_WARNING = sh(2026, 12, 8, 18)  # [rectification] warn_before = 2 working days
ESCALATION = sh(2026, 12, 14, 18)  # [deadlines] escalate_after = 2 working days later
UNIT = "安居经开区管委会"
REQUIREMENT = "按协议返还土地出让金和建筑物配套费，并书面答复企业。"
PERIOD = custom(date(2026, 11, 23), date(2026, 12, 20))


async def _report(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, now_at: object
) -> Report:
    async with sessions() as session:
        return await build_report(
            session, config=catalog, calendar=calendar, period=PERIOD, scope=Scope(),
            now=now_at, with_cases=False,  # type: ignore[arg-type]
        )  # fmt: skip


def _section(report: Report, title: str) -> str:
    (section,) = [s for s in report_sections(report) if s.title == title]
    return "\n".join(getattr(block, "text", "") for block in section.blocks)


async def test_a_rectification_verified_late_shows_overdue_and_late_in_the_report(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    inspector, leader = user(tg, INSPECTOR), user(tg, BUSINESS_LEADER)
    boss, reporter = user(tg, LEADER), user(tg, REPORTER)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    assert case.id is not None
    await deliver(tg, sessions)
    card = inspector.messages[-1]
    assert [b for b in card.button_texts if "整改" in b] == ["反馈整改", "核验整改"]
    await inspector.click("核验整改", message=card)
    assert "不能核验整改" in inspector.alerts[-1]  # not yet 签收
    await inspector.click("签收", message=card)

    # 反馈整改 with the card's button: bad input is answered and nothing entered is lost
    await inspector.click("反馈整改", message=card)
    assert f"请输入问题 {case.number} 的整改事项" in inspector.last
    await inspector.send(REQUIREMENT)
    assert "请输入责任单位" in inspector.last
    await inspector.send("单" * 101)
    assert "责任单位太长（101字），请精简到100字以内" in inspector.last
    await inspector.send(UNIT)
    assert "请选择整改期限" in inspector.last
    await inspector.send("一百")
    assert "请输入1至60之间的工作日数" in inspector.last
    await inspector.send("99")
    assert "请输入1至60之间的工作日数" in inspector.last
    await inspector.click("10个工作日")
    assert f"已要求{UNIT}整改，整改期限：2026-12-10 18:00" in inspector.last
    assert "已告知反映人" in inspector.last

    async with sessions() as session:
        (row,) = (await session.exec(select(Rectification))).all()
    assert (row.requirement, row.unit, row.working_days) == (REQUIREMENT, UNIT, 10)
    assert row.due_at == RECTIFY_DUE and row.state is RectificationState.OPEN
    assert row.set_by_id == people.id(INSPECTOR)
    rectify = (await clocks(sessions, case.id))["rectify"]
    assert rectify.due_at == RECTIFY_DUE and rectify.state is ClockState.RUNNING

    await deliver(tg, sessions)
    told = reporter.last
    assert f"您反映的问题（编号 {case.number}）经核查，需由{UNIT}进行整改" in told
    assert f"整改事项：{REQUIREMENT}" in told
    assert "整改期限：2026年12月10日（周四）前" in told
    assert "核验" in told and "反馈整改" not in told and "承办人" not in told

    # the sweep: a warning to the assignee, overdue to the assignee and team leader, then once
    # to the leader
    await sweep_deadlines(sessions, catalog, calendar, RECTIFY_WARNING)
    await deliver(tg, sessions)
    assert inspector.last.startswith(f"【催办】问题 {case.number} 整改期限为")
    assert "请及时督促责任单位整改并核验" in inspector.last
    assert "核验整改" in inspector.messages[-1].button_texts
    await sweep_deadlines(sessions, catalog, calendar, RECTIFY_DUE + timedelta(minutes=1))
    await deliver(tg, sessions)
    assert inspector.last.startswith(f"【逾期】问题 {case.number} 整改已逾期")
    assert f"【逾期】问题 {case.number} 整改已逾期" in leader.last
    assert (await clocks(sessions, case.id))["rectify"].stage == ClockStage.OVERDUE

    overdue = await _report(sessions, catalog, calendar, sh(2026, 12, 11, 10))
    figures = overdue.figures.rectification
    assert (figures.set, figures.open, figures.overdue, figures.due, figures.rate) == (
        1, 1, 1, 1, 0.0,
    )  # fmt: skip
    problems = _section(overdue, "四、工作中存在的问题")
    assert "整改落实不够到位" in problems and f"仍有1项整改逾期未核验，涉及{UNIT}1项" in problems

    for moment in (ESCALATION, ESCALATION + timedelta(hours=1)):
        await sweep_deadlines(sessions, catalog, calendar, moment)
    assert [r.chat_id for r in await outbox(sessions, "rectify_escalated")] == [LEADER]
    await deliver(tg, sessions)
    assert f"问题 {case.number} 整改已逾期" in boss.last

    # 办结 waits for the 核验; the 核验 first fails, then passes late
    clock.set(sh(2026, 12, 15, 10))
    await inspector.click("办结", message=card)
    await inspector.click("已整改")
    assert "请先核验整改情况" in inspector.alerts[-1]
    await inspector.click("核验整改", message=card)
    assert f"责任单位：{UNIT}" in inspector.last and "（已逾期）" in inspector.last
    await inspector.send("通过")
    assert "请点击上方按钮选择" in inspector.last
    await inspector.click("未整改到位")
    await inspector.send("配套费已返还，土地出让金尚未到位。")
    assert "未整改到位" in inspector.last and "请继续督促责任单位整改" in inspector.last
    assert (await clocks(sessions, case.id))["rectify"].state is ClockState.RUNNING

    clock.set(sh(2026, 12, 15, 16))
    await inspector.click("核验整改", message=card)
    await inspector.click("整改到位，核验通过")
    await inspector.send("经实地核查，土地出让金已全额返还企业。")
    assert "整改核验通过（超过整改期限完成），可以办结" in inspector.last
    async with sessions() as session:
        (row,) = (await session.exec(select(Rectification))).all()
    assert row.state is RectificationState.VERIFIED and row.late is True
    assert row.verified_by_id == people.id(INSPECTOR)
    assert (await clocks(sessions, case.id))["rectify"].state is ClockState.MET

    await inspector.click("办结", message=card)
    await inspector.click("已整改")
    await inspector.send("经协调，管委会已按协议返还全部款项，企业资金问题已解决。")
    await inspector.click("跳过")
    await deliver(tg, sessions)
    done = await load(sessions, case.number)
    assert done.status is CaseStatus.RESOLVED and done.outcome is Outcome.RECTIFIED
    assert "办理结果：问题已整改" in reporter.last

    kinds = [e.kind for e in await events(sessions, case.id)]
    assert kinds.count(EventKind.RECTIFICATION_SET) == 1
    assert kinds.count(EventKind.RECTIFICATION_REJECTED) == 1
    assert kinds.count(EventKind.RECTIFICATION_VERIFIED) == 1
    assert kinds.index(EventKind.RECTIFICATION_VERIFIED) < kinds.index(EventKind.RESOLVED)

    late = await _report(sessions, catalog, calendar, sh(2026, 12, 16, 10))
    r = late.figures.rectification
    assert (r.set, r.verified, r.verified_on_time, r.verified_late, r.open, r.overdue) == (
        1, 1, 0, 1, 0, 0,
    )  # fmt: skip
    assert r.rate == 0.0
    (table,) = [
        block
        for section in report_sections(late)
        for block in section.blocks
        if isinstance(block, Table) and block.caption == "整改落实情况（项）"
    ]
    assert table.rows == [("1", "1", "0", "1", "0", "0", "0.0%（0÷1）")]  # the rate's own base
    assert "超过整改期限才核验整改到位1项" in _section(late, "四、工作中存在的问题")
    advice = _section(late, "五、下一步工作建议")
    assert "抓好整改落实和核验。本期整改到位率0.0%，低于90.0%的目标" in advice
    assert_telegram_html(tg)


async def test_the_team_leader_withdraws_a_rectification_from_the_chat_with_a_reason(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    inspector, leader = user(tg, INSPECTOR), user(tg, BUSINESS_LEADER)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    assert case.id is not None
    await deliver(tg, sessions)
    card = inspector.messages[-1]
    await inspector.click("签收", message=card)
    await leader.send(f"/case {case.number}")
    assert "撤销整改要求" not in leader.messages[-1].button_texts  # nothing to withdraw yet
    await inspector.click("反馈整改", message=card)
    await inspector.send(REQUIREMENT)
    await inspector.send(UNIT)
    await inspector.click("10个工作日")
    await inspector.send(f"/case {case.number}")
    assert "撤销整改要求" not in inspector.messages[-1].button_texts  # the team leader's

    await leader.send(f"/case {case.number}")
    await leader.click("撤销整改要求", message=leader.messages[-1])
    assert (
        f"撤销问题 {case.number} 的整改要求" in leader.last and f"责任单位：{UNIT}" in leader.last
    )
    await leader.send("经核查，土地出让金返还不属管委会职责，整改要求有误。")
    assert f"已撤销对{UNIT}的整改要求，已告知承办人。" in leader.last
    async with sessions() as session:
        (row,) = (await session.exec(select(Rectification))).all()
    assert row.state is RectificationState.LAPSED
    (lapsed,) = [
        e for e in await events(sessions, case.id) if e.kind is EventKind.RECTIFICATION_LAPSED
    ]
    assert lapsed.actor_id == people.id(BUSINESS_LEADER) and "整改要求有误" in (lapsed.note or "")
    await deliver(tg, sessions)
    assert f"组长已撤销问题 {case.number} 对{UNIT}的整改要求" in inspector.last
