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


async def test_a_team_leaders_own_resolution_and_an_admin_standing_in_for_a_team_without_one(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    from sqlmodel import select

    from bot.services.assignment import reassign_case
    from bot.services.decisions import decide_request
    from bot.services.policy import Policy
    from bot.services.resolution import resolve_case
    from models.request import ApprovalRequest
    from models.team import Inspector, Role
    from tests.casework import accept
    from tests.factories import make_inspector

    config = reviewed(catalog)
    policy = Policy(config, calendar)
    people = await make_people(sessions, clock)
    first = await submit(sessions, config, calendar, clock, people.reporter, named=True)
    second = await submit(sessions, config, calendar, clock, people.reporter, named=False)
    assert first.id is not None and second.id is not None
    async with sessions() as session:
        team_leader = (
            await session.exec(select(Inspector).where(Inspector.role == Role.TEAM_LEADER))
        ).first()
        assert team_leader is not None and team_leader.team_id == first.team_id
        await reassign_case(
            session, team_leader, first.id, inspector_id=team_leader.id or 0, policy=policy,
            now=clock.now(),
        )  # fmt: skip
    await accept(sessions, config, calendar, first.id, clock.now())
    async with sessions() as session:
        leader = await session.get(Inspector, team_leader.id)
        assert leader is not None
        await resolve_case(
            session, leader, first.id, outcome=Outcome.SOLVED, summary="已协调到位。",
            amount_yuan=None, policy=policy, now=clock.now(),
        )  # fmt: skip
    assert (await load(sessions, first.number)).status is CaseStatus.RESOLVED  # 组长负责制

    # the team loses its leader: an admin stands in, and the 办结 event says so
    await accept(sessions, config, calendar, second.id, clock.now())
    async with sessions() as session:
        holder = await session.get(Inspector, (await load(sessions, second.number)).assignee_id)
        assert holder is not None and holder.role is Role.INSPECTOR
        await resolve_case(
            session, holder, second.id, outcome=Outcome.SOLVED, summary="已协调到位。",
            amount_yuan=250_000, policy=policy, now=clock.now(),
        )  # fmt: skip
        gone = await session.get(Inspector, team_leader.id)
        assert gone is not None
        gone.active = False
        session.add(gone)
        admin = await make_inspector(
            session, clock.now(), team_code=None, name="赵管理", role=Role.ADMIN,
            telegram_user_id=8_001,
        )  # fmt: skip
        await session.commit()
        request = (
            await session.exec(select(ApprovalRequest).where(ApprovalRequest.case_id == second.id))
        ).one()
        await decide_request(
            session, admin, request.id or 0, approve=True, policy=policy, now=clock.now()
        )
    done = await load(sessions, second.number)
    assert done.status is CaseStatus.RESOLVED and done.amount_coordinated_yuan == 250_000
    resolved = (await events(sessions, second.id))[-1]
    assert resolved.kind is EventKind.RESOLVED and resolved.data["stand_in"] is True


async def test_the_console_shows_the_team_leader_what_they_sign_off_outcome_amount_and_summary(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    from bot.services.policy import Policy
    from bot.services.resolution import resolve_case
    from models.team import Inspector
    from tests.casework import accept
    from tests.console_support import console_app, sign_in, text_of

    config = reviewed(catalog)
    people = await make_people(sessions, clock)
    case = await submit(sessions, config, calendar, clock, people.reporter, named=True)
    assert case.id is not None
    await accept(sessions, config, calendar, case.id, clock.now())
    async with sessions() as session:
        holder = await session.get(Inspector, people.ids[INSPECTOR])
        assert holder is not None
        await resolve_case(
            session, holder, case.id, outcome=Outcome.SOLVED, summary="出让金已全部返还。",
            amount_yuan=17_000_000, policy=Policy(config, calendar), now=clock.now(),
        )  # fmt: skip
        leader = await session.get(Inspector, people.ids[BUSINESS_LEADER])
    async with console_app(sessions, config, clock=clock) as client:
        signed = await sign_in(client, sessions, role="team_leader", person=leader)
        page = text_of(await (await signed.get(f"/console/cases/{case.id}")).text())
    assert "办结审核申请" in page
    assert "办理结果：问题已解决；协调落实资金：1700万元" in page
    assert "办结情况：出让金已全部返还。" in page
