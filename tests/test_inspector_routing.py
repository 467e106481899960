"""Every case reaches the right team and someone who works it: each shape of routing rule, a team
whose leader assigns by hand, the dispatcher routing what no rule matched, re-assignment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.case_lists import list_queue
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus
from models.clock import CaseClock, ClockKind, ClockState
from models.event import EventKind
from models.policy import RoutingRule
from models.team import Inspector, Role, Team
from tests.inspector_support import (
    BUSINESS_LEADER,
    DISPATCH_LEADER,
    INSPECTOR,
    PROJECTS_INSPECTOR,
    REFUND,
    RUDE,
    SAFETY,
    SAFETY_INSPECTOR,
    SECOND_INSPECTOR,
    SOE,
    SOE_INSPECTOR,
    SOE_LEADER,
    build,
    deliver,
    events,
    load,
    make_people,
    submit,
    user,
)

RURAL_INSPECTOR = 704
FOUR_STYLES_LEADER = 705


@pytest.mark.parametrize(
    ("zone", "category", "description", "rule", "team_code", "inspector"),
    [
        # zone + keywords, ahead of the category rules
        ("jkq", "other", REFUND, "经开区资金返还", "business_env", INSPECTOR),
        # category only
        ("anju", "work_safety", SAFETY, "安全生产", "safety", SAFETY_INSPECTOR),
    ],
    ids=["zone-and-keyword-rule", "category-rule"],
)
async def test_a_rule_routes_the_case_and_the_team_assigns_it_automatically(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    zone: str,
    category: str,
    description: str,
    rule: str,
    team_code: str,
    inspector: int,
) -> None:
    people = await make_people(sessions, clock, zone_code=zone)
    tg = build(sessions, catalog, calendar, clock)
    case = await submit(
        sessions,
        catalog,
        calendar,
        clock,
        people.reporter,
        category=category,
        description=description,
    )
    await deliver(tg, sessions)
    worker = user(tg, inspector)
    assert f"新交办问题 {case.number}" in worker.last
    stored = await load(sessions, case.number)
    assert stored.routed_by == rule
    assert (stored.status, stored.assignee_id) == (CaseStatus.ASSIGNED, people.id(inspector))

    await worker.click("签收")
    assert (await load(sessions, case.number)).status is CaseStatus.ACCEPTED


async def test_a_team_whose_leader_assigns_gets_the_case_in_the_leaders_chat(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    case = await submit(
        sessions,
        catalog,
        calendar,
        clock,
        people.reporter,
        category="soe_corruption",
        description=SOE,
    )
    await deliver(tg, sessions)
    leader = user(tg, SOE_LEADER)
    assert f"待分派问题 {case.number}" in leader.last
    await leader.click("分派")
    assert "请选择" in leader.last
    await leader.click("周监督（0）")
    assert "已分派给周监督" in leader.last
    await deliver(tg, sessions)
    assert f"新交办问题 {case.number}" in user(tg, SOE_INSPECTOR).last
    stored = await load(sessions, case.number)
    assert (stored.status, stored.assignee_id) == (CaseStatus.ASSIGNED, people.id(SOE_INSPECTOR))


async def test_an_unmatched_case_is_routed_by_the_dispatcher_to_a_team(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock, zone_code="yufeng")
    tg = build(sessions, catalog, calendar, clock)
    case = await submit(
        sessions, catalog, calendar, clock, people.reporter, category="other", description=RUDE
    )
    await deliver(tg, sessions)
    dispatcher = user(tg, DISPATCH_LEADER)
    assert "未匹配分办规则" in dispatcher.last
    await dispatcher.click("分派")
    await dispatcher.click("分办：“重点项目建设”立项监督组")
    assert "已分办至“重点项目建设”立项监督组，由钱监督承办" in dispatcher.last
    await deliver(tg, sessions)
    assert f"新交办问题 {case.number}" in user(tg, PROJECTS_INSPECTOR).last
    stored = await load(sessions, case.number)
    assert stored.status is CaseStatus.ASSIGNED and stored.routed_by == "人工分办"
    assert stored.assignee_id == people.id(PROJECTS_INSPECTOR)
    assert [e.kind for e in await events(sessions, stored.id or 0)][-2:] == [
        EventKind.ROUTED,
        EventKind.ASSIGNED,
    ]


async def test_the_team_leader_reassigns_and_the_first_inspector_is_told(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(
        sessions, clock, extra=((SECOND_INSPECTOR, "business_env", Role.INSPECTOR, "赵监督"),)
    )
    tg = build(sessions, catalog, calendar, clock)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    await deliver(tg, sessions)
    first = user(tg, INSPECTOR)
    assert f"新交办问题 {case.number}" in first.last
    leader = user(tg, BUSINESS_LEADER)
    await leader.send(f"/case {case.number}")
    assert "承办人：李监督" in leader.last
    await leader.click("改派")
    await leader.click("赵监督（0）")
    await deliver(tg, sessions)
    assert "改派他人承办" in first.last
    assert f"新交办问题 {case.number}" in user(tg, SECOND_INSPECTOR).last
    await first.click("签收")
    assert "不在您的办理范围" in first.telegram.session.callback_answers[-1].text
    assert (await load(sessions, case.number)).assignee_id == people.id(SECOND_INSPECTOR)


async def test_a_step_left_open_on_a_case_reassigned_meanwhile_ends_with_its_refusal(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    """李监督 is at 办结's amount when the 组长 改派 the case: the amount is refused (not hers any
    more), once; the step ends, so what she types next is not read as an amount again."""
    people = await make_people(
        sessions, clock, extra=((SECOND_INSPECTOR, "business_env", Role.INSPECTOR, "赵监督"),)
    )
    tg = build(sessions, catalog, calendar, clock)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    await deliver(tg, sessions)
    first = user(tg, INSPECTOR)
    assignment = first.messages[-1]
    await first.click("签收", message=assignment)
    await first.click("办结", message=assignment)
    await first.click("问题已解决")
    await first.send("经协调，管委会已返还土地出让金。")
    assert "金额" in first.last  # at the amount step
    leader = user(tg, BUSINESS_LEADER)
    await leader.send(f"/case {case.number}")
    await leader.click("改派")
    await leader.click("赵监督（0）")
    await first.send("12.5")
    assert first.last == "该问题不在您的办理范围内，无权操作。"
    context = tg.dispatcher.fsm.get_context(tg.bot, chat_id=INSPECTOR, user_id=INSPECTOR)
    assert await context.get_state() is None
    await first.send("好的")
    assert "金额格式不正确" not in first.last


async def test_the_queue_lists_the_teams_open_cases_in_pages(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    numbers = [
        (await submit(sessions, catalog, calendar, clock, people.reporter)).number
        for _ in range(10)
    ]
    leader = user(tg, BUSINESS_LEADER)
    await leader.send("/queue")
    first_page = leader.last
    assert "共10件，第1/2页" in first_page
    assert numbers[0] in first_page and "签收期限：2026-11-27 18:00" in first_page
    assert "改派 " + numbers[0] in leader.messages[-1].button_texts
    await leader.click("下一页 ›")
    assert "第2/2页" in leader.last and numbers[-1] in leader.last
    await user(tg, INSPECTOR).send("/queue")
    assert "我承办的问题</b>（共10件" in user(tg, INSPECTOR).last


@pytest.mark.both_databases
async def test_the_queue_puts_supervised_cases_first_then_the_nearest_deadline_across_pages(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    cases = [await submit(sessions, catalog, calendar, clock, people.reporter) for _ in range(10)]
    start = clock.now()
    async with sessions() as session:
        # deadlines in an order of their own: case i is due 10 - i hours from now; the fourth
        # is 督办; the sixth has no running clock (its count shows no deadline, listed last)
        for i, case in enumerate(cases):
            clock_row = (
                await session.exec(
                    select(CaseClock).where(
                        CaseClock.case_id == case.id, CaseClock.kind == ClockKind.ACCEPT
                    )
                )
            ).one()
            clock_row.due_at = start + timedelta(hours=10 - i)
            if i == 5:
                clock_row.state = ClockState.MET
            session.add(clock_row)
        supervised = await session.get(Case, cases[3].id)
        assert supervised is not None
        supervised.supervised = True
        session.add(supervised)
        await session.commit()
    expected = [cases[3].number] + [
        c.number for c in reversed(cases) if c.number not in (cases[3].number, cases[5].number)
    ]
    expected.append(cases[5].number)
    async with sessions() as session:
        leader = await session.get(Inspector, people.id(BUSINESS_LEADER))
        assert leader is not None
        pages = [await list_queue(session, leader, page, start) for page in (0, 1)]
    assert [p.total for p in pages] == [10, 10] and pages[1].page == 1
    assert [line.number for p in pages for line in p.lines] == expected
    assert pages[0].lines[0].supervised and pages[1].lines[-1].due_at is None


CUSTOM_RULES = (
    RoutingRule(name="消防关键词", team="safety", keywords=("消防",)),
    RoutingRule(name="玉丰镇", team="rural", zones=("yufeng",)),
    RoutingRule(
        name="四风·经开区", team="four_styles", categories=("four_styles",), zones=("jkq",)
    ),
)


@pytest.mark.parametrize(
    ("zone", "category", "description", "rule", "team_code", "recipient", "message"),
    [
        ("anju", "other", SAFETY, "消防关键词", "safety", SAFETY_INSPECTOR, "新交办问题"),
        ("yufeng", "other", RUDE, "玉丰镇", "rural", RURAL_INSPECTOR, "新交办问题"),
        (
            "jkq",
            "four_styles",
            "某局干部接受企业宴请，饭后收受购物卡。",
            "四风·经开区",
            "four_styles",
            FOUR_STYLES_LEADER,
            "待分派问题",
        ),
    ],
    ids=["keyword-only-rule", "zone-only-rule", "category-and-zone-rule"],
)
async def test_every_shape_of_configured_rule_routes_to_its_team(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    zone: str,
    category: str,
    description: str,
    rule: str,
    team_code: str,
    recipient: int,
    message: str,
) -> None:
    config = catalog.model_copy(update={"routing": CUSTOM_RULES})
    people = await make_people(
        sessions,
        clock,
        zone_code=zone,
        extra=(
            (RURAL_INSPECTOR, "rural", Role.INSPECTOR, "冯监督"),
            (FOUR_STYLES_LEADER, "four_styles", Role.TEAM_LEADER, "陈组长"),
        ),
    )
    tg = build(sessions, config, calendar, clock)
    case = await submit(
        sessions,
        config,
        calendar,
        clock,
        people.reporter,
        category=category,
        description=description,
    )
    await deliver(tg, sessions)
    assert f"{message} {case.number}" in user(tg, recipient).last
    stored = await load(sessions, case.number)
    assert stored.routed_by == rule
    async with sessions() as session:
        team = await session.get(Team, stored.team_id)
    assert team is not None and team.code == team_code
