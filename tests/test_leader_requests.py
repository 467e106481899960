"""The team leader decides in chat: returns (back to the dispatcher or straight to another team),
transfers, extensions refused; leaders mark 督办 and read /stats."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.acceptance import accept_case
from bot.services.inspectors import get_actor
from bot.services.policy import Policy
from bot.services.progress import add_progress
from bot.services.sweep import sweep_deadlines
from models.calendar import WorkCalendar
from models.case import CaseStatus
from models.clock import ClockState
from models.event import EventKind
from models.request import ApprovalRequest, RequestKind, RequestStatus
from notifications.telegram import RequestDecision
from tests.inspector_support import (
    BUSINESS_LEADER,
    DISPATCH_LEADER,
    INSPECTOR,
    LEADER,
    PROJECTS_INSPECTOR,
    REPORTER,
    SAFETY_INSPECTOR,
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


async def test_a_returned_case_goes_to_the_dispatcher_and_is_re_routed_by_its_leader(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    inspector, leader = user(tg, INSPECTOR), user(tg, BUSINESS_LEADER)
    dispatcher = user(tg, DISPATCH_LEADER)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    assert case.id is not None
    await deliver(tg, sessions)

    await inspector.click("退回")
    await inspector.click("退回信访室重新分办")
    await inspector.send("该事项属重点项目建设范畴，不属本组职责。")
    assert "退回申请已提交组长审批" in inspector.last
    await deliver(tg, sessions)
    assert "退回申请" in leader.last and "不属本组职责" in leader.last
    await leader.click("同意")
    await leader.click("退回信访室重新分办")
    assert "已同意退回，问题已交信访室" in leader.last
    await deliver(tg, sessions)
    assert "已同意" in inspector.last
    assert f"退回待分办 {case.number}" in dispatcher.last
    returned = await load(sessions, case.number)
    assert (returned.status, returned.assignee_id) == (CaseStatus.RETURNED, None)
    # waiting for 分办 on a 签收 clock, as a case no rule routed does: chased if left there
    waiting = (await clocks(sessions, case.id))["accept"]
    assert waiting.state is ClockState.RUNNING and waiting.started_at == clock.now()
    await sweep_deadlines(sessions, catalog, calendar, waiting.due_at + timedelta(minutes=1))
    await deliver(tg, sessions)
    assert f"【逾期】问题 {case.number} 签收已逾期" in dispatcher.last

    await dispatcher.click("分派")
    await dispatcher.click("分办：“重点项目建设”立项监督组")
    await deliver(tg, sessions)
    assert f"新交办问题 {case.number}" in user(tg, PROJECTS_INSPECTOR).last
    moved = await load(sessions, case.number)
    assert moved.status is CaseStatus.ASSIGNED
    assert moved.assignee_id == people.id(PROJECTS_INSPECTOR)
    assert (await clocks(sessions, case.id))["accept"].state is ClockState.RUNNING
    assert [e.kind for e in await events(sessions, case.id)][3:] == [
        EventKind.RETURN_REQUESTED,
        EventKind.RETURN_APPROVED,
        EventKind.REMINDED,  # the overdue 签收 at 信访室
        EventKind.ROUTED,
        EventKind.ASSIGNED,
    ]
    assert await reporter_notices(sessions) == []  # never accepted: nothing to tell yet


async def test_the_leader_can_send_a_returned_case_straight_to_another_team(
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
    await inspector.click("签收")
    await inspector.click("退回")
    await inspector.click("退回信访室重新分办")
    await inspector.send("属安全生产问题。")
    await deliver(tg, sessions)
    await leader.click("同意")
    await leader.click("改交：“安全生产”立项监督组")
    assert "问题已交“安全生产”立项监督组，由孙监督承办" in leader.last
    await deliver(tg, sessions)
    assert f"新交办问题 {case.number}" in user(tg, SAFETY_INSPECTOR).last
    assert "已转由“安全生产”立项监督组办理" in user(tg, REPORTER).last
    assert_telegram_html(tg)
    assert await reporter_notices(sessions) == ["case_accepted", "case_transferred"]
    times = await clocks(sessions, case.id)
    assert times["resolve"].state is ClockState.CANCELLED  # the new team starts its own
    await user(tg, SAFETY_INSPECTOR).click("签收")
    assert (await clocks(sessions, case.id))["resolve"].state is ClockState.RUNNING
    await deliver(tg, sessions)
    assert "已受理" in user(tg, REPORTER).last and "“安全生产”立项监督组" in user(tg, REPORTER).last
    assert await reporter_notices(sessions) == [
        "case_accepted",
        "case_transferred",
        "case_accepted",
    ]


async def test_a_transfer_asked_by_the_inspector_moves_the_case_when_approved(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    inspector, leader = user(tg, INSPECTOR), user(tg, BUSINESS_LEADER)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    await deliver(tg, sessions)
    await inspector.click("签收")
    await inspector.click("记录进展")
    await inspector.send("初步核实涉及重点项目。")
    await inspector.click("仅内部记录")
    await inspector.click("退回")
    assert "退回信访室重新分办" not in inspector.messages[-1].button_texts  # in progress
    await inspector.click("转办：“重点项目建设”立项监督组")
    await inspector.send("涉及重点项目征地。")
    assert "转办申请已提交组长审批" in inspector.last
    await deliver(tg, sessions)
    assert "申请转办至：“重点项目建设”立项监督组" in leader.last
    await leader.click("同意")
    assert "已同意转办" in leader.last
    await deliver(tg, sessions)
    moved = await load(sessions, case.number)
    assert moved.status is CaseStatus.ASSIGNED
    assert moved.assignee_id == people.id(PROJECTS_INSPECTOR)


async def test_a_refused_extension_changes_no_deadline_and_the_inspector_is_told(
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
    await inspector.click("签收")
    due = (await clocks(sessions, case.id))["resolve"].due_at
    await inspector.click("申请延期")
    await inspector.click("3个工作日")
    await inspector.send("材料未齐。")
    await deliver(tg, sessions)
    await leader.click("不同意")
    assert "该延期申请未予批准，已通知申请人。" in leader.last
    await deliver(tg, sessions)
    assert "组长未同意您的延期申请" in inspector.last
    assert (await clocks(sessions, case.id))["resolve"].due_at == due
    assert await reporter_notices(sessions) == ["case_accepted"]
    async with sessions() as session:
        request = (await session.exec(select(ApprovalRequest))).one()
    assert (request.kind, request.status) == (RequestKind.EXTENSION, RequestStatus.REFUSED)
    assert request.id is not None
    await leader.press(RequestDecision(request_id=request.id, approve=True).pack())
    assert leader.alerts[-1] == "该申请已处理（未同意）。"
    assert (await clocks(sessions, case.id))["resolve"].due_at == due


async def test_a_leader_marks_a_case_supervised_and_the_team_is_told(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    boss, leader, inspector = user(tg, LEADER), user(tg, BUSINESS_LEADER), user(tg, INSPECTOR)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    await deliver(tg, sessions)
    await boss.send(f"/case {case.number}")
    assert "流转记录" in boss.last
    await boss.click("督办")
    assert "已将" in boss.last and "列为督办事项" in boss.last
    await deliver(tg, sessions)
    assert f"【督办】{case.number}" in inspector.last
    assert f"【督办】{case.number}" in leader.last
    await leader.send("/queue")
    assert f"【督办】<b>{case.number}</b>" in leader.last
    flagged = await load(sessions, case.number)
    assert flagged.supervised and flagged.supervised_by_id == people.id(LEADER)
    await boss.send(f"/case {case.number}")
    assert "督办" not in boss.messages[-1].button_texts  # once is enough

    await inspector.send(f"/case {case.number}")
    assert inspector.last.startswith("【督办】")
    await boss.send("/stats")
    assert "共受理1件" in boss.last and "督办中1件" in boss.last
    assert "“营商环境”立项监督组：1 / 0 / 0" in boss.last
    await inspector.send("/stats")
    assert "只有委领导和管理员可以查看统计" in inspector.last
    assert_telegram_html(tg)


async def test_case_details_fit_one_telegram_message_however_long_the_history(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    case = await submit(
        sessions, catalog, calendar, clock, people.reporter, description="返还" + "很长的描述" * 399
    )
    assert case.id is not None
    async with sessions() as session:
        actor = await get_actor(session, INSPECTOR)
        await accept_case(
            session, actor, case.id, policy=Policy(catalog, calendar), now=clock.now()
        )
        for n in range(40):
            await add_progress(
                session,
                actor,
                case.id,
                note=f"第{n}次进展" + "核" * 990,
                public=False,
                now=clock.now(),
            )
    leader = user(tg, BUSINESS_LEADER)
    await leader.send(f"/case {case.number}")
    assert len(leader.last) < 4096
    assert "（仅显示最近30条，共45条）" in leader.last and "第39次进展" in leader.last
    assert "全文请点“查看材料”" in leader.last
    assert_telegram_html(tg)
