"""组长审核 (``[review] appeal``): an inspector's 办结 of an appeal waits for the team leader's
sign-off; the reporter hears nothing until it passes; a refusal sends it back to the inspector;
a team leader's own 办结 needs nobody's. Through the production dispatcher."""

from __future__ import annotations

import pytest

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from models.calendar import WorkCalendar
from models.case import CaseStatus, Outcome
from models.event import EventKind, verify_chain
from tests.inspector_support import (
    BUSINESS_LEADER,
    INSPECTOR,
    REPORTER,
    build,
    deliver,
    events,
    load,
    make_people,
    submit,
    user,
)

pytestmark = pytest.mark.both_databases


def reviewed(config: LiankaConfig) -> LiankaConfig:
    return config.model_copy(update={"review": config.review.model_copy(update={"appeal": True})})


async def resolve_in_chat(inspector, assignment, summary: str) -> None:
    await inspector.click("办结", message=assignment)
    await inspector.click("问题已解决")
    await inspector.send(summary)
    await inspector.send("1700")


async def test_an_inspectors_resolution_waits_for_the_team_leader_and_reaches_the_reporter_after(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    config = reviewed(catalog)
    people = await make_people(sessions, clock)
    tg = build(sessions, config, calendar, clock)
    inspector = user(tg, INSPECTOR, "李监督")
    leader = user(tg, BUSINESS_LEADER, "曾燕")
    reporter = user(tg, REPORTER, "宋利剑")
    case = await submit(sessions, config, calendar, clock, people.reporter, named=True)
    assert case.id is not None
    await deliver(tg, sessions)
    assignment = inspector.messages[-1]
    await inspector.click("签收", message=assignment)
    await deliver(tg, sessions)
    told_before = len(reporter.messages)

    await resolve_in_chat(inspector, assignment, "土地出让金返还已全部拨付到位。")
    assert f"{case.number} 的办结已提交组长审核" in inspector.last
    held = await load(sessions, case.number)
    assert held.status is CaseStatus.ACCEPTED and held.outcome is None
    await deliver(tg, sessions)
    assert len(reporter.messages) == told_before  # nothing yet for the reporter
    assert f"办结审核申请 {case.number}" in leader.last
    assert "办理结果：问题已解决" in leader.last
    assert "办结情况：土地出让金返还已全部拨付到位。" in leader.last

    # a second 办结 while the first waits is refused, the first kept
    await inspector.click("办结", message=assignment)
    await inspector.click("问题已解决")
    await inspector.send("再次提交。")
    await inspector.send("1")
    assert "已提交组长审核，请等待审核结果" in inspector.last

    await leader.click("同意")
    assert f"已审核同意，问题 {case.number} 已办结" in leader.last
    done = await load(sessions, case.number)
    assert done.status is CaseStatus.RESOLVED and done.outcome is Outcome.SOLVED
    assert done.amount_coordinated_yuan == 17_000_000
    await deliver(tg, sessions)
    assert "已办结" in reporter.last and "土地出让金返还已全部拨付到位。" in reporter.last
    assert "组长已同意您的办结审核申请" in inspector.last
    kinds = [e.kind for e in await events(sessions, case.id)]
    assert kinds[-2:] == [EventKind.RESOLUTION_SUBMITTED, EventKind.RESOLVED]
    resolved = (await events(sessions, case.id))[-1]
    assert resolved.actor_id != resolved.data["proposed_by"]  # signed off by the team leader
    assert verify_chain(done, await events(sessions, case.id)) == []


async def test_a_refused_review_goes_back_to_the_inspector_and_the_reporter_hears_nothing(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    config = reviewed(catalog)
    people = await make_people(sessions, clock)
    tg = build(sessions, config, calendar, clock)
    inspector = user(tg, INSPECTOR, "李监督")
    leader = user(tg, BUSINESS_LEADER, "曾燕")
    reporter = user(tg, REPORTER, "宋利剑")
    case = await submit(sessions, config, calendar, clock, people.reporter, named=True)
    await deliver(tg, sessions)
    assignment = inspector.messages[-1]
    await inspector.click("签收", message=assignment)
    await deliver(tg, sessions)
    told_before = len(reporter.messages)
    await resolve_in_chat(inspector, assignment, "已协调。")
    await deliver(tg, sessions)
    await leader.click("不同意")
    await deliver(tg, sessions)
    assert "组长未同意您的办结审核申请" in inspector.last
    assert "请完善后重新提交办结" in inspector.last
    assert len(reporter.messages) == told_before
    back = await load(sessions, case.number)
    assert back.status is CaseStatus.ACCEPTED and back.outcome is None

    # resubmitted, then passed
    await resolve_in_chat(inspector, assignment, "土地出让金返还已全部拨付到位，企业已确认。")
    await deliver(tg, sessions)
    await leader.click("同意")
    assert (await load(sessions, case.number)).status is CaseStatus.RESOLVED


async def test_without_review_in_the_config_the_resolution_reaches_the_reporter_at_once(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    assert catalog.review.appeal is False
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    inspector = user(tg, INSPECTOR, "李监督")
    case = await submit(sessions, catalog, calendar, clock, people.reporter, named=True)
    await deliver(tg, sessions)
    assignment = inspector.messages[-1]
    await inspector.click("签收", message=assignment)
    await resolve_in_chat(inspector, assignment, "已协调到位。")
    assert f"{case.number} 已办结，已告知反映人" in inspector.last
    assert (await load(sessions, case.number)).status is CaseStatus.RESOLVED
