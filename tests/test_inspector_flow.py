"""An appeal worked to the end in chat, through the production dispatcher: assigned, materials
viewed, signed for, a question answered, progress, an extension approved, resolved with an amount.
The reporter gets each notice an appeal allows, and nobody sees anybody's Telegram account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from models.calendar import WorkCalendar
from models.case import CaseStatus, Outcome
from models.clock import ClockState
from models.event import EventKind, verify_chain
from models.relay import RelayMessage, RelayStatus
from tests.inspector_support import (
    BUSINESS_LEADER,
    INSPECTOR,
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


async def test_an_appeal_is_worked_to_the_end_in_chat(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    inspector = user(tg, INSPECTOR, "李监督")
    leader = user(tg, BUSINESS_LEADER, "曾燕")
    reporter = user(tg, REPORTER, "宋利剑")
    case = await submit(sessions, catalog, calendar, clock, people.reporter, named=True, photo=True)
    assert case.id is not None

    await deliver(tg, sessions)
    assignment = inspector.messages[-1]
    assert f"新交办问题 {case.number}" in assignment.text
    assert assignment.button_texts == [
        "签收",
        "退回",
        "查看材料",
        "提问",
        "记录进展",
        "申请延期",
        "反馈整改",
        "核验整改",
        "办结",
    ]
    assert "宋利剑" not in assignment.text and "13812345678" not in assignment.text

    # 查看材料: the description, the contact of a named appeal (logged), the photo by file_id
    await inspector.click("查看材料")
    assert "宋利剑，13812345678" in inspector.replies[0]
    assert "土地出让金返还" in inspector.replies[0]
    photos = [s for s in tg.session.sent if s.method == "sendPhoto" and s.chat_id == INSPECTOR]
    assert [p.document for p in photos] == ["ph-evidence"]
    assert [e.kind for e in await events(sessions, case.id)][-1] is EventKind.IDENTITY_VIEWED

    # 签收: accepted, 受理告知 to the reporter, 办结 clock of 15 working days
    await inspector.click("签收", message=assignment)
    assert "已签收" in inspector.replies[0]
    await deliver(tg, sessions)
    assert "已受理" in reporter.last and "“营商环境”立项监督组" in reporter.last
    times = await clocks(sessions, case.id)
    assert times["accept"].state is ClockState.MET
    assert times["first_reply"].state is ClockState.MET
    # Thu 26 Nov + 15 working days = Thu 17 Dec 2026, 18:00 Shanghai
    assert times["resolve"].due_at == datetime(2026, 12, 17, 10, 0, tzinfo=UTC)

    # 提问: relayed to the reporter with 回复; the 办结 clock waits
    await inspector.click("提问", message=assignment)
    await inspector.send("请提供管委会承诺返还出让金的书面文件。")
    assert "已转达" in inspector.last
    await deliver(tg, sessions)
    assert "请提供管委会承诺返还出让金的书面文件。" in reporter.last
    assert "李监督" not in reporter.last and str(INSPECTOR) not in reporter.last
    assert (await clocks(sessions, case.id))["resolve"].state is ClockState.PAUSED

    # a working day later the reporter answers; the deadline moves by that day
    clock.advance(timedelta(days=1))
    await reporter.click("回复")
    await reporter.send("书面承诺函已于今年3月签署，原件在企业财务部。")
    assert "已转达" in reporter.last
    await deliver(tg, sessions)
    assert "书面承诺函已于今年3月签署" in inspector.last
    assert "宋利剑" not in inspector.last and str(REPORTER) not in inspector.last
    resolve = (await clocks(sessions, case.id))["resolve"]
    assert resolve.state is ClockState.RUNNING
    assert resolve.due_at == datetime(2026, 12, 18, 10, 0, tzinfo=UTC)
    async with sessions() as session:
        relay = (await session.exec(select(RelayMessage))).one()
    assert relay.status is RelayStatus.ANSWERED

    # 记录进展, told to the reporter
    await inspector.click("记录进展", message=assignment)
    await inspector.send("已约谈经开区财政局，资金拨付方案已报区政府。")
    await inspector.click("告知反映人")
    assert "已告知反映人" in inspector.last
    await deliver(tg, sessions)
    assert "办理中" in reporter.last and "资金拨付方案已报区政府" in reporter.last

    # 申请延期 5 working days; the team leader approves in chat
    await inspector.click("申请延期", message=assignment)
    await inspector.click("5个工作日")
    await inspector.send("需等待区政府常务会研究资金拨付。")
    await deliver(tg, sessions)
    assert "延期申请" in leader.last and "5个工作日" in leader.last
    await leader.click("同意")
    assert "已同意延期5个工作日" in leader.last
    await deliver(tg, sessions)
    assert "已同意" in inspector.last
    assert "延期5个工作日" in reporter.last and "2026年12月25日" in reporter.last
    assert (await clocks(sessions, case.id))["resolve"].due_at == datetime(
        2026, 12, 25, 10, 0, tzinfo=UTC
    )

    # 办结 with the outcome, a summary and 1700 万元 coordinated
    await inspector.click("办结", message=assignment)
    await inspector.click("问题已解决")
    await inspector.send("土地出让金返还及配套费已全部拨付到位。")
    await inspector.send("1700")
    assert f"{case.number} 已办结" in inspector.last
    await deliver(tg, sessions)
    assert "已办结" in reporter.last and "协调落实资金：1700万元" in reporter.last
    assert "土地出让金返还及配套费已全部拨付到位。" in reporter.last

    done = await load(sessions, case.number)
    assert done.status is CaseStatus.RESOLVED
    assert done.outcome is Outcome.SOLVED and done.amount_coordinated_yuan == 17_000_000
    times = await clocks(sessions, case.id)
    assert times["resolve"].state is ClockState.MET
    assert times["followup"].state is ClockState.RUNNING
    assert times["followup"].due_at == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)

    assert await reporter_notices(sessions) == [
        "case_accepted",
        "case_question",
        "case_progress",
        "case_extended",
        "case_resolved",
    ]
    history = await events(sessions, case.id)
    assert [e.kind for e in history] == [
        EventKind.SUBMITTED,
        EventKind.ROUTED,
        EventKind.ASSIGNED,
        EventKind.IDENTITY_VIEWED,
        EventKind.ACCEPTED,
        EventKind.FIRST_REPLY,
        EventKind.QUESTION,
        EventKind.ANSWER,
        EventKind.PROGRESS,
        EventKind.EXTENSION_REQUESTED,
        EventKind.EXTENSION_APPROVED,
        EventKind.RESOLVED,
    ]
    assert verify_chain(done, history) == []
    methods = tg.session.method_names()
    assert "ForwardMessage" not in methods and "CopyMessage" not in methods
    assert_telegram_html(tg)


async def test_a_clue_is_worked_confidentially_and_the_reporter_hears_only_accepted_and_done(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    leader = user(tg, SOE_LEADER)
    inspector = user(tg, SOE_INSPECTOR)
    reporter = user(tg, REPORTER)
    case = await submit(
        sessions,
        catalog,
        calendar,
        clock,
        people.reporter,
        category="soe_corruption",
        description=SOE,
        named=True,
    )
    assert case.id is not None
    await deliver(tg, sessions)
    await leader.click("分派")
    await leader.click("周监督（0）")
    await deliver(tg, sessions)
    assignment = inspector.messages[-1]
    assert "反映人信息保密" in assignment.text and "坤天" not in assignment.text

    await inspector.click("查看材料", message=assignment)
    assert "宋利剑" not in inspector.replies[0] and "13812345678" not in inspector.replies[0]
    assert "反映人信息保密" in inspector.replies[0]

    await inspector.click("签收", message=assignment)
    await deliver(tg, sessions)
    assert "问题线索" in reporter.last and "已受理" in reporter.last
    assert "立项监督组" not in reporter.last  # nothing about who handles a clue

    await inspector.click("提问", message=assignment)
    await inspector.send("请说明好处费的支付时间和方式。")
    await deliver(tg, sessions)
    await reporter.click("回复")
    await reporter.send("2025年春节前，以现金方式支付。")
    await deliver(tg, sessions)
    assert "以现金方式支付" in inspector.last

    await inspector.click("记录进展", message=assignment)
    await inspector.send("已调取分包合同，正在核查资金流向。")
    assert "仅内部记录" in inspector.last  # a clue's notes are never shown to the reporter

    await inspector.click("申请延期", message=assignment)
    await inspector.send("10")
    await inspector.send("需会同审计部门核查。")
    await deliver(tg, sessions)
    await leader.click("同意")
    assert "已同意延期10个工作日" in leader.last and "反映人" not in leader.last

    await inspector.click("提出处置意见", message=assignment)  # a clue is disposed of (集体研判)
    await inspector.click("予以了结")
    await inspector.send("经核查，好处费系正常劳务报酬，已移交区纪委监委第二审查调查室备查。")
    await deliver(tg, sessions)
    await leader.click("同意")
    await deliver(tg, sessions)
    await user(tg, LEADER).click("同意")
    await deliver(tg, sessions)
    assert "问题线索" in reporter.last and "经核查，予以了结" in reporter.last
    assert "审查调查室" not in reporter.last  # the reason is not told (the config's default)

    done = await load(sessions, case.number)
    assert done.status is CaseStatus.CLOSED and done.outcome is None
    assert done.amount_coordinated_yuan is None
    assert await reporter_notices(sessions) == ["case_accepted", "case_question", "clue_result"]
    history = await events(sessions, case.id)
    assert EventKind.IDENTITY_VIEWED not in [e.kind for e in history]
    assert not any(e.public for e in history if e.kind is EventKind.PROGRESS)
    assert_telegram_html(tg)


@pytest.mark.parametrize(
    ("button", "reporter_reads"),
    [
        ("反映不实", "办理结果：经核查，反映问题不属实"),
        ("其他", None),  # nothing to name: the reporter reads the 办理情况 alone
    ],  # 已整改 needs a 反馈整改 verified first: tests/test_rectification_flow.py
    ids=["unfounded", "other"],
)
async def test_the_reporter_reads_the_outcome_in_plain_words(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    button: str,
    reporter_reads: str | None,
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    inspector, reporter = user(tg, INSPECTOR), user(tg, REPORTER)
    await submit(sessions, catalog, calendar, clock, people.reporter)
    await deliver(tg, sessions)
    assignment = inspector.messages[-1]
    await inspector.click("签收", message=assignment)
    await inspector.click("办结", message=assignment)
    await inspector.click(button)
    await inspector.send("经实地核查，土地出让金已于10月全额返还企业。")
    await inspector.click("跳过")
    await deliver(tg, sessions)
    told = reporter.last
    assert "已办结" in told and "经实地核查，土地出让金已于10月全额返还企业。" in told
    if reporter_reads is None:
        assert "办理结果：" not in told
    else:
        assert reporter_reads in told
    assert f"办理结果：{button}" not in told  # the staff's short label
