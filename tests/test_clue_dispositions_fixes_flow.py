"""组长审核 in chat through the production dispatcher: 不同意 asks for a reason only of a
reviewer of a proposal still waiting; anyone else (the proposer, another team's leader) and a
proposal that lapsed meanwhile are answered at once, before anything is typed."""

from __future__ import annotations

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.assignment import reassign_case
from bot.services.policy import Policy
from models.calendar import WorkCalendar
from models.event import EventKind
from models.team import Inspector
from tests.inspector_support import (
    BUSINESS_LEADER,
    SOE,
    SOE_INSPECTOR,
    SOE_LEADER,
    build,
    deliver,
    events,
    make_people,
    submit,
    user,
)
from tests.intake_helpers import assert_telegram_html

ASKED = "请输入不同意的理由"


async def test_only_a_reviewer_of_a_waiting_proposal_is_asked_why_they_disagree(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    inspector, team_leader = user(tg, SOE_INSPECTOR), user(tg, SOE_LEADER)
    other_leader = user(tg, BUSINESS_LEADER)
    case = await submit(
        sessions, catalog, calendar, clock, people.reporter, category="soe_corruption",
        description=SOE, named=True,
    )  # fmt: skip
    await deliver(tg, sessions)
    await team_leader.click("分派")
    await team_leader.click("周监督（0）")
    await deliver(tg, sessions)
    await inspector.click("签收")
    await inspector.click("提出处置意见")
    await inspector.click("谈话函询")
    await inspector.send("问题较轻，建议谈话函询。")
    await deliver(tg, sessions)
    review = team_leader.messages[-1]
    disagree = next(b for b in review.inline_buttons if b.text == "不同意").callback_data
    assert disagree is not None

    for outsider in (other_leader, inspector):  # a forged or passed-on press
        await outsider.press(disagree)
        assert not any(ASKED in text for text in outsider.replies)
        assert any("只有本组组长可以审核" in alert for alert in outsider.alerts)
        await outsider.send("理由：不同意。")  # nothing waits for a reason from them
        assert not any("退回承办人" in text for text in outsider.replies)

    async with sessions() as session:  # the clue changes hands: the proposal lapses
        await reassign_case(
            session, await _person(sessions, people.id(SOE_LEADER)), case.id or 0,
            inspector_id=people.id(SOE_LEADER), policy=Policy(catalog, calendar), now=clock.now(),
        )  # fmt: skip
    await team_leader.click("不同意", message=review)
    assert not any(ASKED in text for text in team_leader.replies)
    assert any("已失效" in alert for alert in team_leader.alerts)
    kinds = [e.kind for e in await events(sessions, case.id or 0)]
    assert EventKind.DISPOSITION_SENT_BACK not in kinds
    assert kinds.count(EventKind.DISPOSITION_LAPSED) == 1
    assert_telegram_html(tg)


async def _person(sessions: SessionFactory, person_id: int) -> Inspector:
    async with sessions() as session:
        found = await session.get(Inspector, person_id)
    assert found is not None
    return found


async def test_a_proposal_nobody_could_decide_is_refused_before_anything_is_typed(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    """吴组长, the 国资国企 team's only 组长, works a clue himself while one 委领导 is registered:
    a 委领导 would review it, and nobody else approve. He is told so at 提出处置意见, not after
    choosing a disposition and typing its reason (which was then refused, and again on every
    retry)."""
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    team_leader = user(tg, SOE_LEADER)
    await submit(
        sessions, catalog, calendar, clock, people.reporter, category="soe_corruption",
        description=SOE, named=True,
    )  # fmt: skip
    await deliver(tg, sessions)
    await team_leader.click("分派")
    await team_leader.click("吴组长（0）")
    await deliver(tg, sessions)
    await team_leader.click("签收")
    await team_leader.click("提出处置意见")
    assert "目前在岗委领导不足两人" in tg.session.callback_answers[-1].text
    context = tg.dispatcher.fsm.get_context(tg.bot, chat_id=SOE_LEADER, user_id=SOE_LEADER)
    assert await context.get_state() is None
