"""问题线索处置 by 集体研判: the assignee proposes, the team leader reviews, a 委领导 approves; each
approved disposition runs its own clock; 立案审查 and 予以了结 close the clue; the 实名 reporter is
told and may object once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.acceptance import accept_case
from bot.services.assignment import reassign_case
from bot.services.audit import verify_audit
from bot.services.clue_figures import filed_counts
from bot.services.dispositions import (
    NO_SECOND_LEADER,
    clue_state,
    decide_disposition,
    object_to_result,
    propose_disposition,
    review_disposition,
)
from bot.services.policy import Policy
from bot.services.resolution import resolve_case
from bot.services.sweep import sweep_deadlines
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus, Outcome
from models.clock import ClockKind, ClockState
from models.disposition import ClueDisposition, Disposition, ProposalStatus
from models.errors import InvalidInput, PermissionDenied, StaleAction
from models.event import CaseEvent, EventKind
from models.notification import Notification
from models.team import Inspector, Role
from notifications.render import telegram_html
from tests.factories import make_inspector
from tests.inspector_support import (
    LEADER,
    SOE,
    SOE_INSPECTOR,
    SOE_LEADER,
    People,
    clocks,
    make_people,
    submit,
)

pytestmark = pytest.mark.both_databases


@dataclass
class Clue:
    sessions: SessionFactory
    policy: Policy
    clock: FrozenClock
    people: People
    case: Case

    async def person(self, telegram_id: int) -> Inspector:
        async with self.sessions() as session:
            found = await session.get(Inspector, self.people.id(telegram_id))
        assert found is not None
        return found

    async def to_team_leader(self) -> None:
        """The team leader gives the clue to themselves (改派): the team's only team leader
        then holds it, and what they propose goes to the 委领导 to review."""
        async with self.sessions() as session:
            await reassign_case(
                session, await self.person(SOE_LEADER), self.case.id or 0,
                inspector_id=self.people.id(SOE_LEADER), policy=self.policy, now=self.clock.now(),
            )  # fmt: skip

    async def propose(
        self, kind: Disposition, reason: str, *, by: int = SOE_INSPECTOR, people: int | None = None
    ) -> ClueDisposition:
        async with self.sessions() as session:
            return await propose_disposition(
                session, await self.person(by), self.case.id or 0, kind=kind, reason=reason,
                people=people, policy=self.policy, now=self.clock.now(),
            )  # fmt: skip

    async def review(
        self, proposal: ClueDisposition, *, by: int = SOE_LEADER, agree: bool = True
    ) -> ClueDisposition:
        async with self.sessions() as session:
            return await review_disposition(
                session, await self.person(by), proposal.id or 0, agree=agree,
                note=None if agree else "核实范围不清，请补充。", policy=self.policy,
                now=self.clock.now(),
            )  # fmt: skip

    async def decide(
        self, proposal: ClueDisposition, *, by: int = LEADER, approve: bool = True
    ) -> ClueDisposition:
        async with self.sessions() as session:
            return await decide_disposition(
                session, await self.person(by), proposal.id or 0, approve=approve,
                policy=self.policy, now=self.clock.now(),
            )  # fmt: skip

    async def load(self) -> Case:
        async with self.sessions() as session:
            found = await session.get(Case, self.case.id)
        assert found is not None
        return found

    async def kinds(self) -> list[EventKind]:
        async with self.sessions() as session:
            rows = await session.exec(
                select(CaseEvent)
                .where(CaseEvent.case_id == self.case.id)
                .order_by(col(CaseEvent.seq))
            )
            return [event.kind for event in rows.all()]

    async def notices(self, kind: str) -> list[Notification]:
        async with self.sessions() as session:
            rows = await session.exec(
                select(Notification).where(Notification.kind == kind).order_by(col(Notification.id))
            )
            return list(rows.all())


async def accepted_clue(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    *,
    named: bool = True,
) -> Clue:
    """A 实名 (or anonymous) clue of the 国资国企 team, assigned by its leader and signed for."""
    people = await make_people(sessions, clock)
    policy = Policy(catalog, calendar)
    case = await submit(
        sessions, catalog, calendar, clock, people.reporter, category="soe_corruption",
        description=SOE, named=named,
    )  # fmt: skip
    clue = Clue(sessions, policy, clock, people, case)
    async with sessions() as session:
        if case.assignee_id is None:
            await reassign_case(
                session, await clue.person(SOE_LEADER), case.id or 0,
                inspector_id=people.id(SOE_INSPECTOR), policy=policy, now=clock.now(),
            )  # fmt: skip
    async with sessions() as session:
        await accept_case(
            session, await clue.person(SOE_INSPECTOR), case.id or 0, policy=policy,
            now=clock.now(),
        )  # fmt: skip
    clue.case = await clue.load()
    return clue


async def test_a_clue_checked_then_placed_on_file_closes_with_its_people_counted(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    clue = await accepted_clue(sessions, catalog, calendar, clock)
    start = clock.now()
    verify = await clue.propose(Disposition.VERIFY, "反映问题具体，有可查性，建议初步核实。")
    assert verify.status is ProposalStatus.PROPOSED
    assert len(await clue.notices("disposition_review")) == 1
    await clue.review(verify)
    assert len(await clue.notices("disposition_approval")) == 1
    approved = await clue.decide(verify)
    assert approved.status is ProposalStatus.APPROVED and approved.due_at is not None
    running = (await clocks(sessions, clue.case.id or 0))["disposition"]
    assert running.state is ClockState.RUNNING and running.workdays == catalog.clue.verify_days
    assert (await clocks(sessions, clue.case.id or 0))["resolve"].state is ClockState.MET
    assert (await clue.load()).status is CaseStatus.ACCEPTED  # still being worked

    clock.advance(timedelta(days=10))
    filed = await clue.propose(Disposition.FILE, "初核属实，建议立案审查。", people=2)
    await clue.review(filed)
    await clue.decide(filed)
    case = await clue.load()
    assert case.status is CaseStatus.CLOSED and case.closed_at is not None
    assert (await clocks(sessions, clue.case.id or 0))["disposition"].state is ClockState.MET
    async with sessions() as session:
        state = await clue_state(session, case.id or 0)
        assert state.final is not None and state.final.kind is Disposition.FILE
        assert await filed_counts(session, start, clock.now() + timedelta(seconds=1)) == (1, 2)
        assert await filed_counts(session, start, start + timedelta(days=1)) == (0, 0)
    result = await clue.notices("clue_result")
    assert len(result) == 1 and (result[0].params or {})["result"] == "已立案审查"
    assert (await clue.kinds())[-8:] == [
        EventKind.DISPOSITION_PROPOSED, EventKind.DISPOSITION_REVIEWED,
        EventKind.DISPOSITION_APPROVED, EventKind.DISPOSITION_PROPOSED,
        EventKind.DISPOSITION_REVIEWED, EventKind.DISPOSITION_APPROVED, EventKind.CLOSED,
        EventKind.CLUE_RESULT_TOLD,
    ]  # fmt: skip

    async with sessions() as session:
        await object_to_result(
            session, case.id or 0, text="被反映人仍在原岗位，处理过轻。",
            reporter_id=clue.people.reporter.id, policy=clue.policy, now=clock.now(),
        )  # fmt: skip
    assert len(await clue.notices("clue_objection")) == 1
    with pytest.raises(StaleAction, match="不能重复提出"):
        async with sessions() as session:
            await object_to_result(
                session, case.id or 0, text="再次提出。", reporter_id=clue.people.reporter.id,
                policy=clue.policy, now=clock.now(),
            )  # fmt: skip
    assert len(await clue.notices("clue_objection")) == 1
    async with sessions() as session:
        assert (await verify_audit(session)).ok


async def test_nobody_approves_or_reviews_their_own_proposal_and_a_refusal_changes_nothing(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    clue = await accepted_clue(sessions, catalog, calendar, clock)
    talk = await clue.propose(Disposition.TALK, "问题较轻，建议谈话函询。")
    with pytest.raises(PermissionDenied):
        await clue.review(talk, by=SOE_INSPECTOR)  # the proposer
    with pytest.raises(StaleAction):
        await clue.decide(talk)  # not reviewed yet
    await clue.review(talk)
    before = await clue.kinds()
    for who in (SOE_INSPECTOR, SOE_LEADER):
        with pytest.raises(PermissionDenied) as not_theirs:
            await clue.decide(talk, by=who)
        assert "只有委领导" in not_theirs.value.message
    assert await clue.kinds() == before
    refused = await clue.decide(talk, approve=False)
    assert refused.status is ProposalStatus.REFUSED
    async with sessions() as session:
        state = await clue_state(session, clue.case.id or 0)
    assert state.current is None and state.pending is None
    assert "disposition" not in await clocks(sessions, clue.case.id or 0)
    assert (await clue.load()).status is CaseStatus.ACCEPTED
    with pytest.raises(StaleAction) as stale:
        await clue.decide(talk)
    assert "已处理（委领导未批准）" in stale.value.message


async def second_leader(clue: Any) -> None:
    """A second 委领导 (Telegram id 909), so one may review and the other approve."""
    async with clue.sessions() as session:
        person = await make_inspector(
            session, clue.clock.now(), team_code=None, name="李副书记", role=Role.LEADER,
            telegram_user_id=909,
        )  # fmt: skip
    assert person.id is not None
    clue.people.ids[909] = person.id


async def test_a_team_leader_who_holds_the_clue_does_not_review_it_and_a_leader_steps_in(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    clue = await accepted_clue(sessions, catalog, calendar, clock)
    await clue.to_team_leader()
    before = await clue.kinds()
    with pytest.raises(InvalidInput) as refused:  # one 委领导 cannot both review and approve
        await clue.propose(Disposition.HOLD, "线索暂不具备核查条件。", by=SOE_LEADER)
    assert refused.value.message == NO_SECOND_LEADER and await clue.kinds() == before
    await second_leader(clue)
    hold = await clue.propose(Disposition.HOLD, "线索暂不具备核查条件。", by=SOE_LEADER)
    with pytest.raises(PermissionDenied):
        await clue.review(hold, by=SOE_LEADER)
    review = await clue.notices("disposition_review")
    assert {n.recipient_id for n in review} == {clue.people.id(LEADER), clue.people.id(909)}
    await clue.review(hold, by=LEADER)
    with pytest.raises(PermissionDenied):  # the 委领导 who reviewed does not approve too
        await clue.decide(hold)
    assert (await clue.decide(hold, by=909)).status is ProposalStatus.APPROVED


async def test_without_another_team_leader_the_config_may_skip_the_review(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    skipping = catalog.model_copy(
        update={"clue": catalog.clue.model_copy(update={"skip_review_without_team_leader": True})}
    )
    clue = await accepted_clue(sessions, skipping, calendar, clock)
    clue.policy = Policy(skipping, calendar)
    await clue.to_team_leader()
    dismiss = await clue.propose(Disposition.DISMISS, "反映问题不实。", by=SOE_LEADER)
    assert dismiss.status is ProposalStatus.REVIEWED and dismiss.review_skipped
    await clue.decide(dismiss)
    assert (await clue.load()).status is CaseStatus.CLOSED
    told = await clue.notices("clue_result")
    assert (told[0].params or {})[
        "result"
    ] == "经核查，予以了结"  # the reason is not told by default


async def test_only_the_next_dispositions_may_be_proposed_and_a_clue_is_never_resolved(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    clue = await accepted_clue(sessions, catalog, calendar, clock)
    with pytest.raises(InvalidInput, match="不能提出“立案审查”"):
        await clue.propose(Disposition.FILE, "直接立案。", people=1)
    talk = await clue.propose(Disposition.TALK, "谈话函询。")
    await clue.review(talk)
    await clue.decide(talk)
    with pytest.raises(InvalidInput, match="当前（谈话函询）不能提出“立案审查”"):
        await clue.propose(Disposition.FILE, "立案。", people=1)
    verify = await clue.propose(Disposition.VERIFY, "函询说明不清，转初步核实。")
    with pytest.raises(StaleAction, match="请等待审批结果"):
        await clue.propose(Disposition.DISMISS, "予以了结。")
    await clue.review(verify)
    await clue.decide(verify)
    with pytest.raises(InvalidInput, match="立案人数"):
        await clue.propose(Disposition.FILE, "初核属实，建议立案。")
    with pytest.raises(InvalidInput) as no_resolution:
        async with sessions() as session:
            await resolve_case(
                session, await clue.person(SOE_INSPECTOR), clue.case.id or 0,
                outcome=Outcome.OTHER, summary="已办结。", amount_yuan=None, policy=clue.policy,
                now=clock.now(),
            )  # fmt: skip
    assert "提出处置意见" in no_resolution.value.message
    assert (await clue.load()).status is CaseStatus.ACCEPTED


async def test_an_anonymous_clue_reporter_gets_the_short_notice_and_cannot_object(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    clue = await accepted_clue(sessions, catalog, calendar, clock, named=False)
    dismiss = await clue.propose(Disposition.DISMISS, "经了解，反映问题不属实。")
    await clue.review(dismiss)
    await clue.decide(dismiss)
    assert await clue.notices("clue_result") == []
    assert len(await clue.notices("case_resolved")) == 1
    with pytest.raises(InvalidInput, match="实名"):
        async with sessions() as session:
            await object_to_result(
                session, clue.case.id or 0, text="不服。", reporter_id=None, policy=clue.policy,
                now=clock.now(),
            )  # fmt: skip


async def test_the_disposition_clock_has_the_working_days_the_config_gives(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    clue = await accepted_clue(sessions, catalog, calendar, clock)
    hold = await clue.propose(Disposition.HOLD, "暂不具备核查条件。")
    await clue.review(hold)
    approved = await clue.decide(hold)
    async with sessions() as session:
        kept = await session.get(ClueDisposition, approved.id)
    assert kept is not None and kept.due_at is not None
    due = kept.due_at.astimezone(calendar.tz).date()
    assert calendar.workdays_between(clock.now().astimezone(calendar.tz).date(), due) == (
        catalog.clue.hold_days
    )
    clock_row = (await clocks(sessions, clue.case.id or 0))[ClockKind.DISPOSITION.value]
    assert clock_row.due_at == kept.due_at
    picked_up = await clue.propose(Disposition.VERIFY, "新情况，转初步核实。")
    assert picked_up.status is ProposalStatus.PROPOSED


async def test_a_proposal_left_by_a_former_assignee_lapses_when_the_new_one_proposes(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    clue = await accepted_clue(sessions, catalog, calendar, clock)
    left = await clue.propose(Disposition.TALK, "建议谈话函询。")
    await clue.to_team_leader()
    with pytest.raises(StaleAction):
        await clue.review(left, by=LEADER)  # the clue moved on: the old proposal is not decided
    await second_leader(clue)  # the team's leader proposes: two 委领导 review and approve
    fresh = await clue.propose(Disposition.VERIFY, "新承办人：建议初步核实。", by=SOE_LEADER)
    async with sessions() as session:
        old = await session.get(ClueDisposition, left.id)
        state = await clue_state(session, clue.case.id or 0)
    assert old is not None and old.status is ProposalStatus.LAPSED
    assert state.pending is not None and state.pending.id == fresh.id


async def test_the_sweep_warns_and_marks_an_overdue_disposition_and_hides_the_clue_from_leaders(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    clue = await accepted_clue(sessions, catalog, calendar, clock)
    talk = await clue.propose(Disposition.TALK, "建议谈话函询。")
    await clue.review(talk)
    approved = await clue.decide(talk)
    assert approved.due_at is not None
    await sweep_deadlines(sessions, catalog, calendar, approved.due_at - timedelta(hours=1))
    warned = await clue.notices("disposition_warning")
    assert [n.recipient_id for n in warned] == [clue.people.id(SOE_INSPECTOR)]
    assert "提出下一步处置意见" in telegram_html(warned[0])
    late = approved.due_at + timedelta(days=10)
    await sweep_deadlines(sessions, catalog, calendar, late)
    assert await clue.notices("disposition_overdue")
    escalated = await clue.notices("disposition_escalated")
    assert escalated and all(n.case_id is None for n in escalated)
    assert all(clue.case.number not in telegram_html(n) for n in escalated)
