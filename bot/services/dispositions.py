"""问题线索处置 (集体研判): the assignee proposes, the team leader reviews, a 委领导 approves.

A clue is not resolved (办结) like an appeal: it is disposed of as 谈话函询, 初步核实, 暂存待查 or
予以了结, and after 初步核实 (or 谈话函询) as 立案审查 or 予以了结. Each approved disposition runs
its own clock (``[clue]`` of the config); 立案审查 (with the number of people placed on file)
and 予以了结 close the clue in Lianka — a case placed on file is then handled in the 审查调查
system, outside Lianka. Nobody approves or reviews their own proposal; a 委领导 who reviewed
(standing in for a team with no other leader) does not also approve. A 实名 reporter is told
the result and may object (异议) once; the objection goes to the 委领导.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import ClueConfig
from bot.services.aftercare import start_aftercare
from bot.services.clocks import meet_clock, start_clock
from bot.services.clue_lapse import LAPSE_REASSIGNED, lapse
from bot.services.notices import tell_inspectors, tell_reporter
from bot.services.permissions import clean_note, load_case, require_assignee, works_on
from bot.services.policy import Policy
from bot.services.relay import cancel_open_questions
from bot.services.requests import cancel_pending
from models.case import WORKING_STATUSES, Case, CaseStatus, reported_by, reporter_actor_id
from models.clock import ClockKind
from models.disposition import (
    NEXT,
    PENDING,
    REPORTER_RESULTS,
    ClueDisposition,
    Disposition,
    ProposalStatus,
)
from models.errors import InvalidInput, NotFound, PermissionDenied, StaleAction
from models.event import Actor, ActorType, CaseEvent, EventKind, record_event, transition
from models.notification import Offer
from models.org import Track
from models.reporter import CaseFollower, Reporter
from models.team import Inspector, Role

PEOPLE_MAX = 999
OBJECTION_MAX = 1000

NOT_A_CLUE = "只有问题线索需要提出处置意见。"
ALREADY_OBJECTED = "您已对处置结果提出过异议，我们已收到并将依规处理，不能重复提出。"


def clock_days(kind: Disposition, config: ClueConfig) -> int | None:
    """The working days an approved disposition runs for; None for one that closes the clue."""
    return {
        Disposition.TALK: config.talk_days,
        Disposition.VERIFY: config.verify_days,
        Disposition.HOLD: config.hold_days,
    }.get(kind)


@dataclass(frozen=True, slots=True)
class ClueState:
    """Where a clue's disposition stands: the approved one in force, the proposal waiting for a
    decision, every proposal in order, and what may be proposed next."""

    current: ClueDisposition | None
    pending: ClueDisposition | None
    history: list[ClueDisposition] = field(default_factory=list)

    @property
    def options(self) -> tuple[Disposition, ...]:
        if self.pending is not None:
            return ()
        return NEXT[self.current.kind if self.current else None]

    @property
    def final(self) -> ClueDisposition | None:
        """The approved disposition that closed the clue (立案审查 or 予以了结), if any."""
        if self.current is not None and self.current.kind.closes:
            return self.current
        return None


async def clue_state(
    session: AsyncSession, case_id: int, *, assignee_id: int | None = None
) -> ClueState:
    """The clue's disposition; with ``assignee_id``, a proposal still waiting from someone who
    no longer holds the clue is not pending (it lapses at the next proposal)."""
    rows = list(
        (
            await session.exec(
                select(ClueDisposition)
                .where(ClueDisposition.case_id == case_id)
                .order_by(col(ClueDisposition.id))
            )
        ).all()
    )
    approved = [r for r in rows if r.status is ProposalStatus.APPROVED and r.ended_at is None]
    pending = [r for r in rows if r.status in PENDING and assignee_id in (None, r.proposed_by_id)]
    return ClueState(
        current=approved[-1] if approved else None,
        pending=pending[-1] if pending else None,
        history=rows,
    )


async def _active(session: AsyncSession, role: Role, team_id: int | None = None) -> list[Inspector]:
    query = select(Inspector).where(Inspector.role == role, col(Inspector.active).is_(True))
    if team_id is not None:
        query = query.where(Inspector.team_id == team_id)
    return list((await session.exec(query.order_by(col(Inspector.id)))).all())


NO_APPROVER = "目前没有可以审批的在岗委领导，请联系管理员登记委领导后再提交。"
NO_SECOND_LEADER = (
    "本组没有其他组长审核，由委领导审核时须由另一位委领导审批，目前在岗委领导不足两人。"
    "请联系管理员为本组登记组长。"
)


async def reviewers(
    session: AsyncSession, case: Case, proposal: ClueDisposition, config: ClueConfig
) -> list[Inspector]:
    """Who reviews a proposal: the clue's active team leaders but its proposer; with none, the
    委领导 (``skip_review_without_team_leader`` false) or nobody (true: the review is skipped)."""
    leaders = [
        p
        for p in await _active(session, Role.TEAM_LEADER, case.team_id)
        if p.id != proposal.proposed_by_id
    ]
    if leaders or config.skip_review_without_team_leader:
        return leaders
    return [p for p in await _active(session, Role.LEADER) if p.id != proposal.proposed_by_id]


async def approvers(session: AsyncSession, proposal: ClueDisposition) -> list[Inspector]:
    """Who approves: the active 委领导 but whoever proposed or reviewed it."""
    taken = {proposal.proposed_by_id, proposal.reviewed_by_id}
    return [p for p in await _active(session, Role.LEADER) if p.id not in taken]


async def _first_deciders(
    session: AsyncSession, case: Case, proposal: ClueDisposition, config: ClueConfig
) -> tuple[list[Inspector], bool]:
    """Who is asked first about ``proposal`` (its reviewers; with the review skipped, its
    approvers: True), or why nobody can decide it (``NO_APPROVER``, ``NO_SECOND_LEADER``)."""
    people = await reviewers(session, case, proposal, config)
    if not people:
        people = await approvers(session, proposal)
        if not people:
            raise InvalidInput(NO_APPROVER, detail=f"case {case.id}: no 委领导 to approve")
        return people, True
    if all(p.role is Role.LEADER for p in people) and len(people) < 2:
        # a 委领导 reviews for a team without another team leader: another one must approve
        raise InvalidInput(NO_SECOND_LEADER, detail=f"case {case.id}: one 委领导 only")
    return people, False


async def check_deciders(
    session: AsyncSession, actor: Inspector, case: Case, config: ClueConfig
) -> None:
    """Before 提出处置意见 asks for anything: refused at once (as SECURITY.md says) when a
    proposal of ``actor`` could not be decided by anyone, rather than after the reason is typed."""
    assert actor.id is not None
    draft = ClueDisposition(
        case_id=case.id or 0,
        kind=Disposition.DISMISS,
        status=ProposalStatus.PROPOSED,
        reason="",
        proposed_by_id=actor.id,
        proposed_at=case.created_at,
    )
    await _first_deciders(session, case, draft, config)


def _actor(person: Inspector) -> Actor:
    return Actor(ActorType.INSPECTOR, person.id)


def _facts(proposal: ClueDisposition, **more: object) -> dict[str, object]:
    data: dict[str, object] = {"disposition": proposal.id, "kind": proposal.kind.value}
    if proposal.people is not None:
        data["people"] = proposal.people
    return {**data, **more}


def _params(proposal: ClueDisposition) -> dict[str, Any]:
    """What a notice about a proposal shows (no reporter, never)."""
    return {
        "proposal": {
            "id": proposal.id,
            "kind": proposal.kind.value,
            "label": proposal.kind.label,
            "reason": proposal.reason,
            "people": proposal.people,
            "review_note": proposal.review_note,
            "review_skipped": proposal.review_skipped,
            "decision_note": proposal.decision_note,
            "due_at": proposal.due_at,
        }
    }


def _check_people(kind: Disposition, people: int | None) -> int | None:
    if kind is not Disposition.FILE:
        return None
    if people is None or not 1 <= people <= PEOPLE_MAX:
        raise InvalidInput("立案审查请填写立案人数（至少1人）。")
    return people


async def propose_disposition(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    *,
    kind: Disposition,
    reason: str,
    people: int | None = None,
    policy: Policy,
    now: datetime,
) -> ClueDisposition:
    """The assignee proposes how to dispose of the clue, with a reason (立案审查: with the number
    of people placed on file). It goes to the team leader (or, with none, as the config says)."""
    case = await load_case(session, case_id)
    require_assignee(actor, case, WORKING_STATUSES, "提出处置意见")
    if case.track is not Track.CLUE:
        raise InvalidInput(NOT_A_CLUE)
    state = await clue_state(session, case_id, assignee_id=case.assignee_id)
    await _lapse_others(session, case, state, now)
    if state.pending is not None:
        raise StaleAction(
            f"该线索已有处置意见（{state.pending.kind.label}，{state.pending.status.label}），"
            "请等待审批结果。"
        )
    if kind not in state.options:
        now_label = state.current.kind.label if state.current else "尚未处置"
        raise InvalidInput(f"当前（{now_label}）不能提出“{kind.label}”。")
    assert actor.id is not None and case.id is not None
    proposal = ClueDisposition(
        case_id=case.id,
        kind=kind,
        status=ProposalStatus.PROPOSED,
        reason=clean_note(reason, "处置理由"),
        people=_check_people(kind, people),
        proposed_by_id=actor.id,
        proposed_at=now,
    )
    people_to_ask, skipped = await _first_deciders(session, case, proposal, policy.config.clue)
    if skipped:  # no other team leader, and the config skips the review
        proposal.status = ProposalStatus.REVIEWED
        proposal.review_skipped = True
    session.add(proposal)
    await session.flush()
    event = record_event(
        case,
        EventKind.DISPOSITION_PROPOSED,
        _actor(actor),
        now,
        note=proposal.reason,
        data=_facts(proposal, review_skipped=proposal.review_skipped),
    )
    session.add_all([case, event])
    assert proposal.id is not None
    offer = (
        Offer.DISPOSITION_APPROVAL if proposal.review_skipped else Offer.DISPOSITION_REVIEW
    ).on(proposal.id)
    await tell_inspectors(
        session,
        case,
        people_to_ask,
        "disposition_review" if not proposal.review_skipped else "disposition_approval",
        stage=event.seq,
        now=now,
        offer=offer,
        proposer=actor.name,
        **_params(proposal),
    )
    await session.commit()
    return proposal


async def _lapse_others(session: AsyncSession, case: Case, state: ClueState, now: datetime) -> None:
    """A proposal left waiting by a former assignee lapses when the new one proposes (one
    left from before ``lapse_proposals`` was called on 改派 and 转办)."""
    for row in state.history:
        if row.status in PENDING and row.proposed_by_id != case.assignee_id:
            lapse(session, case, row, why=LAPSE_REASSIGNED, now=now)


async def _load_proposal(
    session: AsyncSession, proposal_id: int, status: ProposalStatus
) -> tuple[ClueDisposition, Case]:
    proposal = await session.get(ClueDisposition, proposal_id, populate_existing=True)
    if proposal is None:
        raise NotFound("未找到该处置意见，此操作已失效。", detail=f"disposition {proposal_id}")
    case = await load_case(session, proposal.case_id)
    if proposal.status is not status:
        raise StaleAction(
            f"该处置意见已处理（{proposal.status.label}）。",
            detail=f"disposition {proposal_id} is {proposal.status}",
        )
    if not still_owed(proposal, case):
        raise StaleAction("该线索已改派或已不在办理中，此处置意见已失效。")
    return proposal, case


def still_owed(proposal: ClueDisposition, case: Case) -> bool:
    """A waiting proposal is still to be decided: its proposer holds the clue, being worked."""
    return case.assignee_id == proposal.proposed_by_id and case.status in WORKING_STATUSES


async def _proposer(session: AsyncSession, proposal: ClueDisposition) -> Inspector:
    person = await session.get(Inspector, proposal.proposed_by_id)
    assert person is not None
    return person


async def check_review(
    session: AsyncSession, actor: Inspector, proposal_id: int, *, policy: Policy
) -> tuple[ClueDisposition, Case]:
    """Before 不同意's reason is asked for, and again when the review is recorded: the proposal
    still waits for review, the clue is still its proposer's, and ``actor`` is a reviewer."""
    proposal, case = await _load_proposal(session, proposal_id, ProposalStatus.PROPOSED)
    if actor.id not in {p.id for p in await reviewers(session, case, proposal, policy.config.clue)}:
        raise PermissionDenied(
            "只有本组组长可以审核此处置意见，且不能审核本人提出的意见。",
            detail=f"disposition {proposal_id}: inspector {actor.id} may not review it",
        )
    return proposal, case


async def review_disposition(
    session: AsyncSession,
    actor: Inspector,
    proposal_id: int,
    *,
    agree: bool,
    note: str | None = None,
    policy: Policy,
    now: datetime,
) -> ClueDisposition:
    """组长审核: agreed, the proposal goes to the 委领导; not agreed (with a note), back to the
    assignee. Only a reviewer (``reviewers``) decides, never the proposer."""
    proposal, case = await check_review(session, actor, proposal_id, policy=policy)
    assert actor.id is not None
    taken = {proposal.proposed_by_id, actor.id}
    if agree and not [p for p in await _active(session, Role.LEADER) if p.id not in taken]:
        raise InvalidInput(NO_APPROVER, detail=f"disposition {proposal_id}: nobody approves")
    text = clean_note(note or "", "审核意见") if (note or not agree) else None
    proposal.reviewed_by_id, proposal.reviewed_at, proposal.review_note = actor.id, now, text
    proposal.status = ProposalStatus.REVIEWED if agree else ProposalStatus.SENT_BACK
    kind = EventKind.DISPOSITION_REVIEWED if agree else EventKind.DISPOSITION_SENT_BACK
    event = record_event(case, kind, _actor(actor), now, note=text, data=_facts(proposal))
    session.add_all([proposal, case, event])
    assert proposal.id is not None
    if agree:
        await tell_inspectors(
            session, case, await approvers(session, proposal), "disposition_approval",
            stage=event.seq, now=now, offer=Offer.DISPOSITION_APPROVAL.on(proposal.id),
            proposer=(await _proposer(session, proposal)).name, reviewer=actor.name,
            **_params(proposal),
        )  # fmt: skip
    else:
        await tell_inspectors(
            session, case, [await _proposer(session, proposal)], "disposition_decided",
            stage=event.seq, now=now, approved=False, by="组长", **_params(proposal),
        )  # fmt: skip
    await session.commit()
    return proposal


async def decide_disposition(
    session: AsyncSession,
    actor: Inspector,
    proposal_id: int,
    *,
    approve: bool,
    note: str | None = None,
    policy: Policy,
    now: datetime,
) -> ClueDisposition:
    """委领导审批: approved, the disposition takes effect (its clock starts; 立案审查 and 予以了结
    close the clue and the 实名 reporter is told); not approved, the clue stays as it was. Only
    a 委领导 who neither proposed nor reviewed it decides."""
    proposal, case = await _load_proposal(session, proposal_id, ProposalStatus.REVIEWED)
    if actor.id not in {p.id for p in await approvers(session, proposal)}:
        raise PermissionDenied(
            "只有委领导可以审批处置意见，且不能审批本人提出或审核的意见。",
            detail=f"disposition {proposal_id}: inspector {actor.id} may not approve it",
        )
    assert actor.id is not None and case.id is not None
    proposal.decided_by_id, proposal.decided_at = actor.id, now
    proposal.decision_note = clean_note(note, "审批意见") if note else None
    if not approve:
        proposal.status = ProposalStatus.REFUSED
        event = record_event(
            case, EventKind.DISPOSITION_REFUSED, _actor(actor), now,
            note=proposal.decision_note, data=_facts(proposal),
        )  # fmt: skip
        session.add_all([proposal, case, event])
    else:
        event = await _take_effect(session, actor, proposal, case, policy=policy, now=now)
    told = [await _proposer(session, proposal)]
    if proposal.reviewed_by_id is not None:
        reviewer = await session.get(Inspector, proposal.reviewed_by_id)
        told += [reviewer] if reviewer is not None and reviewer.role is not Role.LEADER else []
    await tell_inspectors(
        session, case, told, "disposition_decided", stage=event.seq, now=now,
        approved=approve, by="委领导", **_params(proposal),
    )  # fmt: skip
    await session.commit()
    return proposal


async def _take_effect(
    session: AsyncSession,
    actor: Inspector,
    proposal: ClueDisposition,
    case: Case,
    *,
    policy: Policy,
    now: datetime,
) -> CaseEvent:
    """The approved disposition replaces the one in force and starts its clock; one that closes
    the clue closes it and tells the reporter."""
    assert case.id is not None
    previous = (await clue_state(session, case.id)).current
    if previous is not None:
        previous.ended_at = now
        session.add(previous)
    proposal.status = ProposalStatus.APPROVED
    await meet_clock(session, case.id, ClockKind.RESOLVE, now=now)  # 处置 decided
    data = _facts(proposal)
    days = clock_days(proposal.kind, policy.config.clue)
    if days is not None:
        clock = await start_clock(
            session, case, ClockKind.DISPOSITION, workdays=days, calendar=policy.calendar,
            now=now, warn_before=policy.config.deadlines.warn_before,
        )  # fmt: skip
        proposal.due_at = clock.due_at
        data["due_at"] = clock.due_at.isoformat()
        event = record_event(
            case, EventKind.DISPOSITION_APPROVED, _actor(actor), now,
            note=proposal.decision_note, data=data,
        )  # fmt: skip
        session.add_all([proposal, case, event])
        return event
    await meet_clock(session, case.id, ClockKind.DISPOSITION, now=now)
    event = transition(
        case, CaseStatus.RESOLVED, EventKind.DISPOSITION_APPROVED, _actor(actor), now,
        note=proposal.decision_note, data=data,
    )  # fmt: skip
    closed = transition(
        case, CaseStatus.CLOSED, EventKind.CLOSED, _actor(actor), now,
        data={"disposition": proposal.id}, public=True,
    )  # fmt: skip
    case.resolved_at = case.closed_at = now
    session.add_all([proposal, case, event, closed])
    await start_aftercare(session, case, policy=policy, now=now)  # 防打击报复回访
    await _lapse_open_work(session, case, now)
    await _tell_result(session, case, proposal, policy.config.clue, now)
    return event


async def _lapse_open_work(session: AsyncSession, case: Case, now: datetime) -> None:
    """Questions still open and requests still pending lapse with the clue closed."""
    assert case.id is not None
    await cancel_open_questions(session, case.id)
    await cancel_pending(session, case.id, now=now, why="问题线索已处置")


def reporter_result(proposal: ClueDisposition, config: ClueConfig) -> str:
    """What a 实名 reporter reads of the result: short, never who was talked to or checked; for
    予以了结 the approved reason only if the config allows."""
    text = REPORTER_RESULTS[proposal.kind]
    if proposal.kind is Disposition.DISMISS and config.tell_reason:
        text += f"。{proposal.reason}"
    return text


async def _tell_result(
    session: AsyncSession, case: Case, proposal: ClueDisposition, config: ClueConfig, now: datetime
) -> None:
    """A 实名 reporter gets the result (with 提出异议); an anonymous one the short 已办结 as before."""
    if case.anonymous:
        await tell_reporter(
            session, case, "case_resolved", stage=case.event_count, now=now, appeal=False,
            outcome=None, summary=None, amount=None,
        )  # fmt: skip
        return
    assert case.id is not None
    event = record_event(
        case, EventKind.CLUE_RESULT_TOLD, Actor(ActorType.SYSTEM), now, public=True,
        data={"disposition": proposal.id},
    )  # fmt: skip
    session.add_all([case, event])
    await tell_reporter(
        session, case, "clue_result", stage=event.seq, now=now,
        result=reporter_result(proposal, config), objection_days=config.objection_days,
        offer=Offer.CLUE_OBJECTION.on(case.id),
    )  # fmt: skip


async def objectable(session: AsyncSession, case: Case, policy: Policy, now: datetime) -> bool:
    """Whether the clue's reporter may still object: a 实名 clue closed by a disposition, no
    objection yet, within ``objection_days`` working days."""
    try:
        await _final_for_objection(session, case, policy, now)
    except (InvalidInput, StaleAction):
        return False
    return True


async def _final_for_objection(
    session: AsyncSession, case: Case, policy: Policy, now: datetime
) -> ClueDisposition:
    if case.track is not Track.CLUE or case.anonymous or case.id is None:
        raise InvalidInput("只有实名反映的问题线索可以对处置结果提出异议。")
    final = (await clue_state(session, case.id)).final
    if final is None or case.status is not CaseStatus.CLOSED:
        raise StaleAction("该问题线索尚未处置完毕，暂不能提出异议。")
    if final.objected_at is not None:
        raise StaleAction(ALREADY_OBJECTED)
    assert final.decided_at is not None
    calendar = policy.calendar
    told = final.decided_at.astimezone(calendar.tz).date()
    if calendar.workdays_between(told, now.astimezone(calendar.tz).date()) > (
        policy.config.clue.objection_days
    ):
        raise StaleAction(
            f"已超过提出异议的期限（告知处置结果后{policy.config.clue.objection_days}个工作日内）。"
        )
    return final


async def object_to_result(
    session: AsyncSession,
    case_id: int,
    *,
    text: str,
    reporter_id: int | None,
    policy: Policy,
    now: datetime,
) -> ClueDisposition:
    """The reporter's one 异议 on a clue's result (the caller has checked it is theirs: the chat
    that reported it, or the receipt code): recorded, and sent to the 委领导."""
    case = await load_case(session, case_id)
    final = await _final_for_objection(session, case, policy, now)
    final.objection = clean_note(text, "异议内容", OBJECTION_MAX)
    final.objected_at = now
    event = record_event(
        case, EventKind.CLUE_OBJECTED, Actor(ActorType.REPORTER, reporter_actor_id(case, reporter_id)),
        now, note=final.objection, data={"disposition": final.id}, public=True,
    )  # fmt: skip
    session.add_all([final, case, event])
    await tell_inspectors(
        session, case, await _active(session, Role.LEADER), "clue_objection",
        stage=event.seq, now=now, objection=final.objection, **_params(final),
    )  # fmt: skip
    await session.commit()
    return final


def may_propose(actor: Inspector, case: Case, state: ClueState) -> bool:
    """提出处置意见: the clue's assignee, working it, with nothing waiting for a decision."""
    return (
        case.track is Track.CLUE
        and works_on(actor, case)
        and case.status in WORKING_STATUSES
        and bool(state.options)
    )


async def objection_case(
    session: AsyncSession, telegram_user_id: int, case_id: int, policy: Policy, now: datetime
) -> tuple[Case, Reporter]:
    """The closed clue this Telegram account reported, or follows by its receipt code (a web
    report followed in the chat: SECURITY.md's "reporter (receipt code)"), and may still object
    to (提出异议, once for the case, whoever of them does)."""
    reporter = (
        await session.exec(select(Reporter).where(Reporter.telegram_user_id == telegram_user_id))
    ).first()
    case = await session.get(Case, case_id)
    refused = PermissionDenied(detail=f"objection to case {case_id} by a non-reporter")
    if reporter is None or case is None:
        raise refused
    following = await session.get(CaseFollower, (case_id, reporter.id))
    if not reported_by(case, reporter.id) and following is None:
        raise refused
    await _final_for_objection(session, case, policy, now)
    return case, reporter
