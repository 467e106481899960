"""What users noticed of the clue disposition (集体研判) after it landed, each fixed: an overdue
线索处置 counts wherever a deadline counts; a proposal left on a clue that changed hands lapses
(with an event) and leaves the 线索审批 page; an approved 初步核实 keeps its deadline through a
转办 and the next 签收; the intake tells the reporter the 受理 date the commission is bound by."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.acceptance import accept_case
from bot.services.agenda import send_agenda
from bot.services.assignment import reassign_case
from bot.services.audit import verify_audit
from bot.services.case_lists import case_lines, count_hidden_clues, count_stats
from bot.services.clue_view import awaiting_approval
from bot.services.decisions import decide_request
from bot.services.dispositions import clue_state
from bot.services.intake import submit_case
from bot.services.policy import Policy
from bot.services.requests import transfer_case
from bot.services.supervision import overdue_notice
from bot.services.sweep import sweep_deadlines
from models.calendar import WorkCalendar
from models.case import Case
from models.clock import ClockKind, ClockState
from models.disposition import ClueDisposition, Disposition, ProposalStatus
from models.errors import StaleAction
from models.event import CaseEvent, EventKind
from models.intake import CaseDraft
from models.team import Team
from reports.figures import Scope, compute_figures
from reports.periods import Period, PeriodKind
from tests.factories import make_reporter
from tests.inspector_support import (
    LEADER,
    PROJECTS_INSPECTOR,
    SOE_INSPECTOR,
    SOE_LEADER,
    clocks,
    make_people,
)
from tests.test_clue_dispositions import Clue, accepted_clue, second_leader

pytestmark = pytest.mark.both_databases


async def test_an_overdue_clue_disposition_counts_in_the_notice_the_agenda_and_the_leaders_counts(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    clue = await accepted_clue(sessions, catalog, calendar, clock)
    talk = await clue.propose(Disposition.TALK, "问题较轻，建议谈话函询。")
    await clue.review(talk)
    approved = await clue.decide(talk)
    assert approved.due_at is not None
    late = approved.due_at + timedelta(hours=1)  # the evening of the due day, a working day
    async with sessions() as session:
        figures = await overdue_notice(session, late)
        leader = await clue.person(LEADER)
        hidden = await count_hidden_clues(session, leader, late)
        stats = await count_stats(session, leader, late)
        case = await session.get(Case, clue.case.id)
        assert case is not None
        (line,) = await case_lines(session, [case], late)
        month = Period(PeriodKind.MONTH, date(2026, 11, 1), date(2026, 11, 30))
        report = await compute_figures(session, month, Scope(), calendar, late)
    assert (figures.total, figures.clues, figures.appeals) == (1, 1, 0)  # once, not per clock
    assert report.overdue_count == 1  # the report's 超期 figure
    assert (hidden.total, hidden.overdue) == (1, 1)
    soe = [row for row in stats.by_team if row[1]]
    assert [row[3] for row in soe] == [1]  # the team's overdue figure
    assert line.due_kind is ClockKind.DISPOSITION and line.due_at == approved.due_at
    assert line.overdue

    async with sessions() as session:
        agenda = await send_agenda(session, calendar, late)
    sent = {to.id: told for to, told in agenda.sent.items()}
    items = sent[clue.people.id(SOE_LEADER)].overdue
    assert [(item.number, item.what) for item in items] == [(clue.case.number, "线索处置")]
    assert len(sent[clue.people.id(SOE_INSPECTOR)].overdue) == 1


async def test_a_disposition_running_before_its_deadline_is_listed_with_it_not_as_resolve(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    clue = await accepted_clue(sessions, catalog, calendar, clock)
    async with sessions() as session:
        case = await session.get(Case, clue.case.id)
        assert case is not None
        (before,) = await case_lines(session, [case], clock.now())
    assert before.due_kind is ClockKind.RESOLVE  # no disposition yet: the 办结 deadline
    hold = await clue.propose(Disposition.HOLD, "暂不具备核查条件。")
    await clue.review(hold)
    approved = await clue.decide(hold)
    async with sessions() as session:
        case = await session.get(Case, clue.case.id)
        assert case is not None
        (after,) = await case_lines(session, [case], clock.now())
        figures = await overdue_notice(session, clock.now())
    assert after.due_kind is ClockKind.DISPOSITION and after.due_at == approved.due_at
    assert not after.overdue and figures.total == 0


async def lapse_events(sessions: SessionFactory, case_id: int) -> list[CaseEvent]:
    async with sessions() as session:
        rows = await session.exec(
            select(CaseEvent)
            .where(CaseEvent.case_id == case_id, CaseEvent.kind == EventKind.DISPOSITION_LAPSED)
            .order_by(col(CaseEvent.seq))
        )
        return list(rows.all())


async def test_a_proposal_waiting_for_approval_lapses_when_the_clue_is_reassigned(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    clue = await accepted_clue(sessions, catalog, calendar, clock)
    talk = await clue.review(await clue.propose(Disposition.TALK, "建议谈话函询。"))
    leader = await clue.person(LEADER)
    async with sessions() as session:
        assert [w.proposal.id for w in await awaiting_approval(session, leader)] == [talk.id]
    async with sessions() as session:
        await reassign_case(
            session, await clue.person(SOE_LEADER), clue.case.id or 0,
            inspector_id=clue.people.id(SOE_LEADER), policy=clue.policy, now=clock.now(),
        )  # fmt: skip
    async with sessions() as session:
        assert await awaiting_approval(session, leader) == []
        kept = await session.get(ClueDisposition, talk.id)
    assert kept is not None and kept.status is ProposalStatus.LAPSED
    (lapsed,) = await lapse_events(sessions, clue.case.id or 0)
    assert lapsed.data["disposition"] == talk.id and lapsed.note == "问题线索已改派"

    async with sessions() as session:  # given back to its proposer: it does not come back
        await reassign_case(
            session, await clue.person(SOE_LEADER), clue.case.id or 0,
            inspector_id=clue.people.id(SOE_INSPECTOR), policy=clue.policy, now=clock.now(),
        )  # fmt: skip
    with pytest.raises(StaleAction) as stale:
        await clue.decide(talk)
    assert "已失效" in stale.value.message
    async with sessions() as session:
        assert await awaiting_approval(session, leader) == []
        assert (await clue_state(session, clue.case.id or 0)).pending is None
        assert (await verify_audit(session)).ok


async def transfer_to_projects(clue: Clue) -> None:
    """The assignee asks for 转办 to the 重点项目组 and the team leader approves it."""
    async with clue.sessions() as session:
        team = (await session.exec(select(Team).where(Team.code == "key_projects"))).one()
        request = await transfer_case(
            session, await clue.person(SOE_INSPECTOR), clue.case.id or 0, team_id=team.id or 0,
            reason="涉及重点项目，建议转重点项目组。", now=clue.clock.now(),
        )  # fmt: skip
    async with clue.sessions() as session:
        await decide_request(
            session, await clue.person(SOE_LEADER), request.id or 0, approve=True,
            policy=clue.policy, now=clue.clock.now(),
        )  # fmt: skip


async def test_a_proposal_lapses_with_an_event_when_the_clue_is_transferred(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    clue = await accepted_clue(sessions, catalog, calendar, clock)
    talk = await clue.review(await clue.propose(Disposition.TALK, "建议谈话函询。"))
    await transfer_to_projects(clue)
    async with sessions() as session:
        assert await awaiting_approval(session, await clue.person(LEADER)) == []
        kept = await session.get(ClueDisposition, talk.id)
    assert kept is not None and kept.status is ProposalStatus.LAPSED and kept.ended_at
    (lapsed,) = await lapse_events(sessions, clue.case.id or 0)
    assert lapsed.note == "问题线索已转办或退回"


async def test_an_approved_verification_keeps_its_deadline_through_a_transfer_and_the_next_signing(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    clue = await accepted_clue(sessions, catalog, calendar, clock)
    verify = await clue.review(await clue.propose(Disposition.VERIFY, "建议初步核实。"))
    approved = await clue.decide(verify)
    due = approved.due_at
    assert due is not None
    clock.advance(timedelta(days=3))
    await transfer_to_projects(clue)
    # in transit (待签收 by the new team), past the warning time: the clock is not dropped
    await sweep_deadlines(sessions, catalog, calendar, due - timedelta(hours=2))
    running = (await clocks(sessions, clue.case.id or 0))["disposition"]
    assert running.state is ClockState.RUNNING and running.due_at == due
    assert await clue.notices("disposition_warning")

    async with sessions() as session:
        case = await session.get(Case, clue.case.id)
        assert case is not None and case.assignee_id == clue.people.id(PROJECTS_INSPECTOR)
    async with sessions() as session:
        accepted = await accept_case(
            session, await clue.person(PROJECTS_INSPECTOR), clue.case.id or 0,
            policy=clue.policy, now=due - timedelta(hours=1),
        )  # fmt: skip
    assert accepted.due_kind is ClockKind.DISPOSITION and accepted.resolve_due_at == due
    after = await clocks(sessions, clue.case.id or 0)
    assert after["disposition"].state is ClockState.RUNNING and after["disposition"].due_at == due
    assert after["resolve"].state is not ClockState.RUNNING  # no second deadline beside it
    async with sessions() as session:
        state = await clue_state(session, clue.case.id or 0)
        case = await session.get(Case, clue.case.id)
        assert case is not None
        (line,) = await case_lines(session, [case], due - timedelta(hours=1))
    assert state.current is not None and state.current.kind is Disposition.VERIFY
    assert line.due_kind is ClockKind.DISPOSITION and line.due_at == due
    await second_leader(clue)  # the 重点项目组 has no leader: two 委领导 review and approve
    filed = await clue.propose(
        Disposition.FILE, "初核属实，建议立案审查。", by=PROJECTS_INSPECTOR, people=1
    )
    assert filed.status is ProposalStatus.PROPOSED  # the new assignee goes on from 初步核实


async def test_the_reporter_is_told_the_acceptance_date_the_commission_is_bound_by(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    """受理 is told at 签收, which meets the 受理告知 deadline (3 working days after submission);
    the 签收 clock restarts at every assignment, so its first date is no promise."""
    await make_people(sessions, clock)
    policy = Policy(catalog, calendar)
    draft = CaseDraft("soe_corruption", "某国企负责人在工程分包中收受好处费。", anonymous=True)
    async with sessions() as session:  # 国资国企组 assigns by hand: the case waits for its leader
        reporter = await make_reporter(session, clock.now(), web=True)
        submitted = await submit_case(session, reporter, draft, policy=policy, now=clock.now())
    kept = await clocks(sessions, submitted.case.id or 0)
    assert submitted.accept_due_at == kept["first_reply"].due_at
    assert submitted.accept_due_at > kept["accept"].due_at
    told = submitted.accept_due_at.astimezone(calendar.tz).date()
    assert calendar.workdays_between(clock.now().astimezone(calendar.tz).date(), told) == (
        catalog.ladder_for("soe_corruption").first_reply
    )
