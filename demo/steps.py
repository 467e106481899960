"""The lifecycle steps of a demo case, one small function each, on a ``Ledger``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from bot.config import LiankaConfig
from bot.services.dispositions import clock_days
from demo.plan import Step, StepKind
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus, Satisfaction
from models.clock import CaseClock, ClockKind
from models.disposition import ClueDisposition, Disposition, ProposalStatus
from models.event import Actor, ActorType, EventKind, record_event, transition
from models.org import Track
from models.policy import DeadlineLadder
from models.request import ApprovalRequest, RequestKind
from models.team import Inspector


class Ledger(Protocol):
    """Where the steps read and write clocks and new rows: the database session (the use-case
    path) or memory (the bulk path)."""

    config: LiankaConfig
    calendar: WorkCalendar
    category_codes: dict[int, str]

    def add(self, row: Any) -> None: ...

    async def start_clock(
        self, case: Case, kind: ClockKind, workdays: int, at: datetime
    ) -> CaseClock: ...

    async def meet_clock(self, case: Case, kind: ClockKind, at: datetime) -> None: ...

    async def cancel_clock(self, case: Case, kind: ClockKind) -> None: ...

    async def extend_clock(self, case: Case, kind: ClockKind, days: int, at: datetime) -> None: ...

    async def team_leader(self, team_id: int) -> Inspector: ...

    async def team_inspectors(self, team_id: int) -> list[Inspector]: ...

    async def leader(self) -> Inspector: ...

    async def assign(
        self, case: Case, inspector: Inspector, at: datetime, actor: Actor
    ) -> None: ...

    async def add_disposition(self, proposal: ClueDisposition) -> None:
        """Keep a new proposal (with its id, which its events name) and remember it by case."""

    def dispositions(self, case: Case) -> list[ClueDisposition]:
        """The case's proposals so far, oldest first."""
        ...

    async def case_id(self, number: str) -> int:
        """The id of the case with this 受理编号 (an earlier case of the demo)."""
        ...


def _inspector(case: Case) -> Actor:
    return Actor(ActorType.INSPECTOR, case.assignee_id)


def ladder_of(ledger: Ledger, case: Case) -> DeadlineLadder:
    return ledger.config.ladder_for(ledger.category_codes[case.category_id])


async def assign(ledger: Ledger, case: Case, step: Step) -> None:
    """The team leader (信访室 for unrouted cases) assigns the case to one of the team's
    inspectors."""
    assert case.team_id is not None
    leader = await ledger.team_leader(case.team_id)
    members = await ledger.team_inspectors(case.team_id)
    inspector = members[step.pick % len(members)]
    await ledger.assign(case, inspector, step.at, Actor(ActorType.INSPECTOR, leader.id))


async def accept(ledger: Ledger, case: Case, step: Step) -> None:
    """签收: the inspector signs for the case, the reporter is told (受理告知), 办结 starts."""
    ledger.add(
        transition(
            case, CaseStatus.ACCEPTED, EventKind.ACCEPTED, _inspector(case), step.at, public=True
        )
    )
    case.accepted_at = case.first_reply_at = step.at
    await ledger.meet_clock(case, ClockKind.ACCEPT, step.at)
    await ledger.meet_clock(case, ClockKind.FIRST_REPLY, step.at)
    await ledger.start_clock(case, ClockKind.RESOLVE, ladder_of(ledger, case).resolve, step.at)


async def progress(ledger: Ledger, case: Case, step: Step) -> None:
    """记录进展: the work starts (or goes on) with a note."""
    if case.status in (CaseStatus.ACCEPTED, CaseStatus.REOPENED):
        event = transition(
            case,
            CaseStatus.IN_PROGRESS,
            EventKind.PROGRESS,
            _inspector(case),
            step.at,
            note=step.note,
            public=True,
        )
    else:
        event = record_event(
            case, EventKind.PROGRESS, _inspector(case), step.at, note=step.note, public=True
        )
    ledger.add(event)


async def extend(ledger: Ledger, case: Case, step: Step) -> None:
    """申请延期, approved by the team leader: the 办结 deadline moves ``step.days`` working days."""
    assert case.id is not None and case.assignee_id is not None and case.team_id is not None
    leader = await ledger.team_leader(case.team_id)
    assert leader.id is not None
    request = ApprovalRequest.filed(
        case.id,
        RequestKind.EXTENSION,
        by=case.assignee_id,
        reason=step.note or "",
        at=step.at,
        days=step.days,
    )
    request.decide(by=leader.id, approve=True, at=step.at)
    ledger.add(request)
    ledger.add(
        record_event(
            case,
            EventKind.EXTENSION_REQUESTED,
            _inspector(case),
            step.at,
            note=step.note,
            data={"days": step.days},
        )
    )
    ledger.add(
        record_event(
            case,
            EventKind.EXTENSION_APPROVED,
            Actor(ActorType.INSPECTOR, leader.id),
            step.at,
            data={"days": step.days},
            public=True,
        )
    )
    await ledger.extend_clock(case, ClockKind.RESOLVE, step.days, step.at)


async def resolve(ledger: Ledger, case: Case, step: Step) -> None:
    """办结 with an outcome and the amount coordinated; 回访 follows for appeals."""
    assert step.outcome is not None
    ledger.add(
        transition(
            case,
            CaseStatus.RESOLVED,
            EventKind.RESOLVED,
            _inspector(case),
            step.at,
            note=step.note,
            data={"outcome": step.outcome.value, "amount_yuan": step.amount_yuan},
            public=True,
        )
    )
    case.outcome = step.outcome
    case.outcome_summary = step.note
    case.amount_coordinated_yuan = step.amount_yuan
    case.resolved_at = step.at
    await ledger.meet_clock(case, ClockKind.RESOLVE, step.at)
    if case.track is Track.APPEAL:
        ladder = ladder_of(ledger, case)
        await ledger.start_clock(
            case, ClockKind.FOLLOWUP, ladder.followup_ask + ladder.followup_wait, step.at
        )


async def follow_up(ledger: Ledger, case: Case, step: Step) -> None:
    """回访: 满意/基本满意 closes, no answer closes as 未评价, 不满意 reopens (重办)."""
    assert step.satisfaction is not None
    reporter = Actor(ActorType.REPORTER, case.reporter_id)
    case.satisfaction = step.satisfaction
    case.satisfaction_note = step.note
    await ledger.meet_clock(case, ClockKind.FOLLOWUP, step.at)
    if step.satisfaction is Satisfaction.UNRATED:
        ledger.add(
            transition(
                case,
                CaseStatus.CLOSED,
                EventKind.CLOSED,
                Actor(ActorType.SYSTEM),
                step.at,
                note="回访未答复，按未评价结案。",
                public=True,
            )
        )
        case.closed_at = step.at
        return
    data = {"satisfaction": step.satisfaction.value}
    if step.satisfaction is not Satisfaction.UNSATISFIED:
        ledger.add(
            transition(
                case,
                CaseStatus.CLOSED,
                EventKind.FOLLOWUP_ANSWERED,
                reporter,
                step.at,
                data=data,
                public=True,
            )
        )
        case.closed_at = step.at
        return
    ledger.add(
        record_event(
            case,
            EventKind.FOLLOWUP_ANSWERED,
            reporter,
            step.at,
            note=step.note,
            data=data,
            public=True,
        )
    )
    ledger.add(
        transition(
            case,
            CaseStatus.REOPENED,
            EventKind.REOPENED,
            reporter,
            step.at,
            note=step.note,
            public=True,
        )
    )
    case.reopen_count += 1
    await ledger.start_clock(case, ClockKind.RESOLVE, ladder_of(ledger, case).resolve, step.at)


async def close(ledger: Ledger, case: Case, step: Step) -> None:
    """A clue is closed after 办结; the reporter is not asked for satisfaction."""
    ledger.add(
        transition(case, CaseStatus.CLOSED, EventKind.CLOSED, Actor(ActorType.SYSTEM), step.at)
    )
    case.closed_at = step.at


async def supervise(ledger: Ledger, case: Case, step: Step) -> None:
    """督办: a leader flags the case."""
    leader = await ledger.leader()
    case.supervised = True
    case.supervised_at = step.at
    case.supervised_by_id = leader.id
    ledger.add(
        record_event(
            case,
            EventKind.SUPERVISED,
            Actor(ActorType.INSPECTOR, leader.id),
            step.at,
            note=step.note,
        )
    )


async def withdraw(ledger: Ledger, case: Case, step: Step) -> None:
    """The reporter withdraws before acceptance: the running clocks stop."""
    ledger.add(
        transition(
            case,
            CaseStatus.WITHDRAWN,
            EventKind.WITHDRAWN,
            Actor(ActorType.REPORTER, case.reporter_id),
            step.at,
            note=step.note,
            public=True,
        )
    )
    await ledger.cancel_clock(case, ClockKind.ACCEPT)
    await ledger.cancel_clock(case, ClockKind.FIRST_REPLY)


# --- 问题线索处置 (集体研判), as bot.services.dispositions writes it --------------------------


def _facts(proposal: ClueDisposition) -> dict[str, object]:
    data: dict[str, object] = {"disposition": proposal.id, "kind": proposal.kind.value}
    if proposal.people is not None:
        data["people"] = proposal.people
    return data


def _pending(ledger: Ledger, case: Case, status: ProposalStatus) -> ClueDisposition:
    proposal = ledger.dispositions(case)[-1]
    assert proposal.status is status, (case.number, proposal.status)
    return proposal


async def propose(ledger: Ledger, case: Case, step: Step) -> None:
    """提出处置意见: the assignee proposes a disposition with a reason (立案审查: with 人)."""
    assert step.disposition is not None and case.id is not None and case.assignee_id is not None
    proposal = ClueDisposition(
        case_id=case.id,
        kind=step.disposition,
        status=ProposalStatus.PROPOSED,
        reason=step.note or "",
        people=step.people if step.disposition is Disposition.FILE else None,
        proposed_by_id=case.assignee_id,
        proposed_at=step.at,
    )
    await ledger.add_disposition(proposal)
    ledger.add(
        record_event(
            case,
            EventKind.DISPOSITION_PROPOSED,
            _inspector(case),
            step.at,
            note=proposal.reason,
            data={**_facts(proposal), "review_skipped": False},
        )
    )


async def review(ledger: Ledger, case: Case, step: Step) -> None:
    """组长审核: the team leader agrees; the proposal goes to the 委领导."""
    assert case.team_id is not None
    proposal = _pending(ledger, case, ProposalStatus.PROPOSED)
    leader = await ledger.team_leader(case.team_id)
    proposal.reviewed_by_id, proposal.reviewed_at = leader.id, step.at
    proposal.status = ProposalStatus.REVIEWED
    ledger.add(
        record_event(
            case,
            EventKind.DISPOSITION_REVIEWED,
            Actor(ActorType.INSPECTOR, leader.id),
            step.at,
            data=_facts(proposal),
        )
    )


async def approve(ledger: Ledger, case: Case, step: Step) -> None:
    """委领导审批, approved: the disposition replaces the one in force; 谈话函询, 初步核实 and
    暂存待查 run the ``[clue]`` clock, 立案审查 and 予以了结 close the clue (a 实名 reporter is
    told the result)."""
    proposal = _pending(ledger, case, ProposalStatus.REVIEWED)
    leader = await ledger.leader()
    actor = Actor(ActorType.INSPECTOR, leader.id)
    for previous in ledger.dispositions(case)[:-1]:
        if previous.status is ProposalStatus.APPROVED and previous.ended_at is None:
            previous.ended_at = step.at
    proposal.decided_by_id, proposal.decided_at = leader.id, step.at
    proposal.status = ProposalStatus.APPROVED
    await ledger.meet_clock(case, ClockKind.RESOLVE, step.at)  # 处置 decided
    data = _facts(proposal)
    days = clock_days(proposal.kind, ledger.config.clue)
    if days is not None:
        clock = await ledger.start_clock(case, ClockKind.DISPOSITION, days, step.at)
        proposal.due_at = clock.due_at
        data["due_at"] = clock.due_at.isoformat()
        ledger.add(record_event(case, EventKind.DISPOSITION_APPROVED, actor, step.at, data=data))
        return
    await ledger.meet_clock(case, ClockKind.DISPOSITION, step.at)
    ledger.add(
        transition(
            case, CaseStatus.RESOLVED, EventKind.DISPOSITION_APPROVED, actor, step.at, data=data
        )
    )
    ledger.add(
        transition(
            case,
            CaseStatus.CLOSED,
            EventKind.CLOSED,
            actor,
            step.at,
            data={"disposition": proposal.id},
            public=True,
        )
    )
    case.resolved_at = case.closed_at = step.at
    if not case.anonymous:
        ledger.add(
            record_event(
                case,
                EventKind.CLUE_RESULT_TOLD,
                Actor(ActorType.SYSTEM),
                step.at,
                public=True,
                data={"disposition": proposal.id},
            )
        )


# --- 重复件, as bot.services.repeats writes it ---------------------------------------------


async def flag_repeat(ledger: Ledger, case: Case, step: Step) -> None:
    """At intake: linked to the earlier case of the same enterprise and category."""
    assert step.ref is not None
    case.repeat_of_id = await ledger.case_id(step.ref)
    ledger.add(
        record_event(
            case,
            EventKind.REPEAT_FLAGGED,
            Actor(ActorType.SYSTEM),
            step.at,
            data={"of": step.ref, "reason": "enterprise", "score": 1.0},
        )
    )


async def _merger(ledger: Ledger, case: Case) -> Actor:
    """Who merges: the team leader (the same team holds both cases)."""
    assert case.team_id is not None
    return Actor(ActorType.INSPECTOR, (await ledger.team_leader(case.team_id)).id)


async def merge(ledger: Ledger, case: Case, step: Step) -> None:
    """合并办理: the repeat closes into the earlier case and its clocks stop."""
    assert step.ref is not None
    from_status = case.status
    case.status = CaseStatus.CLOSED
    case.closed_at = step.at
    case.merged_into_id = await ledger.case_id(step.ref)
    ledger.add(
        record_event(
            case,
            EventKind.MERGED,
            await _merger(ledger, case),
            step.at,
            note=f"已并入受理编号 {step.ref} 一并办理",
            data={"into": step.ref},
            public=True,
            from_status=from_status,
            to_status=CaseStatus.CLOSED,
        )
    )
    for kind in ClockKind:
        await ledger.cancel_clock(case, kind)


async def merged_in(ledger: Ledger, case: Case, step: Step) -> None:
    """The earlier case records the merged repeat as progress (what it reported)."""
    ledger.add(
        record_event(
            case,
            EventKind.PROGRESS,
            await _merger(ledger, case),
            step.at,
            note=f"重复件 {step.ref} 合并办理，反映内容：{step.note}",
            data={"merged_from": step.ref, "materials": 0},
        )
    )


StepFunction = Callable[[Ledger, Case, Step], Any]

STEPS: dict[StepKind, StepFunction] = {
    StepKind.ASSIGN: assign,  # bot.services.routing.assign_case (the real use case already)
    StepKind.ACCEPT: accept,  # → bot.services.cases.accept_case
    StepKind.PROGRESS: progress,  # → bot.services.cases.add_progress
    StepKind.EXTEND: extend,  # → cases.request_extension, then cases.decide_request
    StepKind.RESOLVE: resolve,  # → bot.services.cases.resolve_case
    StepKind.FOLLOWUP: follow_up,  # → followup.rate_case / reopen_unsatisfied; 未评价: the sweep
    StepKind.CLOSE: close,  # → the sweep's closing of clues after 办结
    StepKind.SUPERVISE: supervise,  # → bot.services.cases.supervise_case
    StepKind.WITHDRAW: withdraw,  # → bot.services.reporters.withdraw_case
    StepKind.PROPOSE: propose,  # → bot.services.dispositions.propose_disposition
    StepKind.REVIEW: review,  # → dispositions.review_disposition
    StepKind.APPROVE: approve,  # → dispositions.decide_disposition
    StepKind.FLAG_REPEAT: flag_repeat,  # → bot.services.repeats.flag_repeat (in submit_case)
    StepKind.MERGE: merge,  # → repeats.merge_repeat, on the repeat
    StepKind.MERGED_IN: merged_in,  # → repeats.merge_repeat, on the earlier case
}
"""The one place that says which function performs each lifecycle step."""
