"""The lifecycle steps of a demo case, one small function each, on a ``Ledger``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from bot.config import LiankaConfig
from bot.services.dispositions import clock_days
from demo.plan import Step, StepKind
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus, Satisfaction, aftercare_reachable, reporter_actor_id
from models.clock import CaseClock, ClockKind, ClockStage, ClockState
from models.disposition import ClueDisposition, Disposition, ProposalStatus
from models.event import SYSTEM, Actor, ActorType, EventKind, chained, moved
from models.org import Track
from models.policy import DeadlineLadder
from models.rectification import Rectification
from models.reporter import Reporter
from models.request import ApprovalRequest, RequestKind
from models.team import Inspector
from models.types import utc

Row = TypeVar("Row")


class Ledger(Protocol):
    """Where the steps read and write clocks and new rows: the database session (the use-case
    path) or memory (the bulk path)."""

    config: LiankaConfig
    calendar: WorkCalendar
    category_codes: dict[int, str]
    ladders: dict[int, DeadlineLadder]  # by category id: ``config.ladder_for`` its code

    def add(self, row: Any) -> None: ...

    def made(self, model: type[Row]) -> type[Row]:
        """What new rows of ``model`` are made of: the model (the use-case path), or the bulk
        path's plain stand-in for it (``demo.rows.plain``: its methods, no ORM bookkeeping)."""
        return model

    def keep_event(self, values: dict[str, Any]) -> None:
        """An event's column values (``chained``), kept with the case's other new rows."""

    def record(
        self,
        case: Case,
        kind: EventKind,
        actor: Actor,
        at: datetime,
        *,
        note: str | None = None,
        data: dict[str, Any] | None = None,
        public: bool = False,
        from_status: CaseStatus | None = None,
        to_status: CaseStatus | None = None,
    ) -> None:
        """``record_event``: the case's next event (both ledgers: ``keep_event`` keeps it)."""
        values = chained(
            case, kind, actor, at, note=note, data=data, public=public,
            from_status=from_status, to_status=to_status,
        )  # fmt: skip
        self.keep_event(values)

    def move(
        self,
        case: Case,
        target: CaseStatus,
        kind: EventKind,
        actor: Actor,
        at: datetime,
        *,
        note: str | None = None,
        data: dict[str, Any] | None = None,
        public: bool = False,
    ) -> None:
        """``transition``: the case moves to ``target`` and its event is kept."""
        self.keep_event(moved(case, target, kind, actor, at, note=note, data=data, public=public))

    async def start_clock(
        self,
        case: Case,
        kind: ClockKind,
        workdays: int,
        at: datetime,
        *,
        warn_before: int | None = None,
    ) -> CaseClock:
        """Start (or restart) the case's clock; ``warn_before`` working days of warning, the
        ``[deadlines]`` one unless given."""
        ...

    async def get_clock(self, case: Case, kind: ClockKind) -> CaseClock | None: ...

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

    async def prompting(self, case: Case) -> Case | None:
        """The case whose 防打击报复回访 opened this clue (``routing.prompting_case``)."""
        ...

    async def reporter(self, case: Case) -> Reporter | None:
        """The case's reporter (named, or opened from the seal of an anonymous case)."""
        ...

    async def add_rectification(self, rectification: Rectification) -> None:
        """Keep a new 整改 and remember it by case."""

    async def open_rectification(self, case: Case) -> Rectification | None:
        """The case's 整改 waiting for its 核验, if any."""
        ...


def _inspector(case: Case) -> Actor:
    return Actor(ActorType.INSPECTOR, case.assignee_id)


def ladder_of(ledger: Ledger, case: Case) -> DeadlineLadder:
    return ledger.ladders[case.category_id]


def ladders(config: LiankaConfig, category_codes: dict[int, str]) -> dict[int, DeadlineLadder]:
    """Each category's deadline ladder (``ladder_for``), by its id, worked out once."""
    return {id_: config.ladder_for(code) for id_, code in category_codes.items()}


async def assign(ledger: Ledger, case: Case, step: Step) -> None:
    """The team leader (信访室 for unrouted cases) assigns the case to one of the team's
    inspectors."""
    assert case.team_id is not None
    leader = await ledger.team_leader(case.team_id)
    members = await ledger.team_inspectors(case.team_id)
    first = await ledger.prompting(case)  # a 防打击报复回访 clue: never its first inspector
    members = [m for m in members if first is None or m.id != first.assignee_id] or members
    inspector = members[step.pick % len(members)]
    await ledger.assign(case, inspector, step.at, Actor(ActorType.INSPECTOR, leader.id))


async def accept(ledger: Ledger, case: Case, step: Step) -> None:
    """签收: the inspector signs for the case, the reporter is told (受理告知), 办结 starts."""
    ledger.move(
        case, CaseStatus.ACCEPTED, EventKind.ACCEPTED, _inspector(case), step.at, public=True
    )
    case.accepted_at = case.first_reply_at = step.at
    await ledger.meet_clock(case, ClockKind.ACCEPT, step.at)
    await ledger.meet_clock(case, ClockKind.FIRST_REPLY, step.at)
    await ledger.start_clock(case, ClockKind.RESOLVE, ladder_of(ledger, case).resolve, step.at)


async def progress(ledger: Ledger, case: Case, step: Step) -> None:
    """记录进展: the work starts (or goes on) with a note."""
    if case.status in (CaseStatus.ACCEPTED, CaseStatus.REOPENED):
        ledger.move(
            case,
            CaseStatus.IN_PROGRESS,
            EventKind.PROGRESS,
            _inspector(case),
            step.at,
            note=step.note,
            public=True,
        )
    else:
        ledger.record(
            case, EventKind.PROGRESS, _inspector(case), step.at, note=step.note, public=True
        )


async def extend(ledger: Ledger, case: Case, step: Step) -> None:
    """申请延期, approved by the team leader: the 办结 deadline moves ``step.days`` working days."""
    assert case.id is not None and case.assignee_id is not None and case.team_id is not None
    leader = await ledger.team_leader(case.team_id)
    assert leader.id is not None
    request = ledger.made(ApprovalRequest).filed(
        case.id,
        RequestKind.EXTENSION,
        by=case.assignee_id,
        reason=step.note or "",
        at=step.at,
        days=step.days,
    )
    request.decide(by=leader.id, approve=True, at=step.at)
    ledger.add(request)
    ledger.record(
        case,
        EventKind.EXTENSION_REQUESTED,
        _inspector(case),
        step.at,
        note=step.note,
        data={"days": step.days},
    )
    ledger.record(
        case,
        EventKind.EXTENSION_APPROVED,
        Actor(ActorType.INSPECTOR, leader.id),
        step.at,
        data={"days": step.days},
        public=True,
    )
    await ledger.extend_clock(case, ClockKind.RESOLVE, step.days, step.at)


async def resolve(ledger: Ledger, case: Case, step: Step) -> None:
    """办结 with an outcome and the amount coordinated; 回访 follows for appeals."""
    assert step.outcome is not None
    ledger.move(
        case,
        CaseStatus.RESOLVED,
        EventKind.RESOLVED,
        _inspector(case),
        step.at,
        note=step.note,
        data={"outcome": step.outcome.value, "amount_yuan": step.amount_yuan},
        public=True,
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
    await start_aftercare(ledger, case, step.at)


async def follow_up(ledger: Ledger, case: Case, step: Step) -> None:
    """回访: 满意/基本满意 closes, no answer closes as 未评价, 不满意 reopens (重办)."""
    assert step.satisfaction is not None
    reporter = Actor(ActorType.REPORTER, case.reporter_id)
    case.satisfaction = step.satisfaction
    case.satisfaction_note = step.note
    await ledger.meet_clock(case, ClockKind.FOLLOWUP, step.at)
    if step.satisfaction is Satisfaction.UNRATED:
        ledger.move(
            case,
            CaseStatus.CLOSED,
            EventKind.CLOSED,
            Actor(ActorType.SYSTEM),
            step.at,
            note="回访未答复，按未评价结案。",
            public=True,
        )
        case.closed_at = step.at
        return
    data = {"satisfaction": step.satisfaction.value}
    if step.satisfaction is not Satisfaction.UNSATISFIED:
        ledger.move(
            case,
            CaseStatus.CLOSED,
            EventKind.FOLLOWUP_ANSWERED,
            reporter,
            step.at,
            data=data,
            public=True,
        )
        case.closed_at = step.at
        return
    ledger.record(
        case, EventKind.FOLLOWUP_ANSWERED, reporter, step.at, note=step.note, data=data, public=True
    )
    ledger.move(
        case,
        CaseStatus.REOPENED,
        EventKind.REOPENED,
        reporter,
        step.at,
        note=step.note,
        public=True,
    )
    case.reopen_count += 1
    await ledger.start_clock(case, ClockKind.RESOLVE, ladder_of(ledger, case).resolve, step.at)
    await ledger.cancel_clock(case, ClockKind.AFTERCARE)  # the next 办结 starts it again


async def close(ledger: Ledger, case: Case, step: Step) -> None:
    """A clue is closed after 办结; the reporter is not asked for satisfaction."""
    ledger.move(case, CaseStatus.CLOSED, EventKind.CLOSED, Actor(ActorType.SYSTEM), step.at)
    case.closed_at = step.at


async def supervise(ledger: Ledger, case: Case, step: Step) -> None:
    """督办: a leader flags the case."""
    leader = await ledger.leader()
    case.supervised = True
    case.supervised_at = step.at
    case.supervised_by_id = leader.id
    ledger.record(
        case, EventKind.SUPERVISED, Actor(ActorType.INSPECTOR, leader.id), step.at, note=step.note
    )


async def withdraw(ledger: Ledger, case: Case, step: Step) -> None:
    """The reporter withdraws before acceptance: the running clocks stop."""
    ledger.move(
        case,
        CaseStatus.WITHDRAWN,
        EventKind.WITHDRAWN,
        Actor(ActorType.REPORTER, case.reporter_id),
        step.at,
        note=step.note,
        public=True,
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
    proposal = ledger.made(ClueDisposition)(
        case_id=case.id,
        kind=step.disposition,
        status=ProposalStatus.PROPOSED,
        reason=step.note or "",
        people=step.people if step.disposition is Disposition.FILE else None,
        proposed_by_id=case.assignee_id,
        proposed_at=step.at,
    )
    await ledger.add_disposition(proposal)
    ledger.record(
        case,
        EventKind.DISPOSITION_PROPOSED,
        _inspector(case),
        step.at,
        note=proposal.reason,
        data={**_facts(proposal), "review_skipped": False},
    )


async def review(ledger: Ledger, case: Case, step: Step) -> None:
    """组长审核: the team leader agrees; the proposal goes to the 委领导."""
    assert case.team_id is not None
    proposal = _pending(ledger, case, ProposalStatus.PROPOSED)
    leader = await ledger.team_leader(case.team_id)
    proposal.reviewed_by_id, proposal.reviewed_at = leader.id, step.at
    proposal.status = ProposalStatus.REVIEWED
    ledger.record(
        case,
        EventKind.DISPOSITION_REVIEWED,
        Actor(ActorType.INSPECTOR, leader.id),
        step.at,
        data=_facts(proposal),
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
        ledger.record(case, EventKind.DISPOSITION_APPROVED, actor, step.at, data=data)
        return
    await ledger.meet_clock(case, ClockKind.DISPOSITION, step.at)
    ledger.move(
        case, CaseStatus.RESOLVED, EventKind.DISPOSITION_APPROVED, actor, step.at, data=data
    )
    ledger.move(
        case,
        CaseStatus.CLOSED,
        EventKind.CLOSED,
        actor,
        step.at,
        data={"disposition": proposal.id},
        public=True,
    )
    case.resolved_at = case.closed_at = step.at
    await start_aftercare(ledger, case, step.at)
    if not case.anonymous:
        ledger.record(
            case,
            EventKind.CLUE_RESULT_TOLD,
            Actor(ActorType.SYSTEM),
            step.at,
            public=True,
            data={"disposition": proposal.id},
        )


# --- 重复件, as bot.services.repeats writes it ---------------------------------------------


async def flag_repeat(ledger: Ledger, case: Case, step: Step) -> None:
    """At intake: linked to the earlier case of the same enterprise and category."""
    assert step.ref is not None
    case.repeat_of_id = await ledger.case_id(step.ref)
    ledger.record(
        case,
        EventKind.REPEAT_FLAGGED,
        Actor(ActorType.SYSTEM),
        step.at,
        data={"of": step.ref, "reason": "enterprise", "score": 1.0},
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
    ledger.record(
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
    await _lapse_rectification(ledger, case, step.at, why="已合并办理")
    for kind in ClockKind:
        await ledger.cancel_clock(case, kind)


async def merged_in(ledger: Ledger, case: Case, step: Step) -> None:
    """The earlier case records the merged repeat as progress (what it reported)."""
    ledger.record(
        case,
        EventKind.PROGRESS,
        await _merger(ledger, case),
        step.at,
        note=f"重复件 {step.ref} 合并办理，反映内容：{step.note}",
        data={"merged_from": step.ref, "materials": 0},
    )


# --- 反馈整改 and 核验, as bot.services.rectification writes them -------------------------------


async def rectify(ledger: Ledger, case: Case, step: Step) -> None:
    """反馈整改: the assignee records what the unit must rectify within ``step.days`` working
    days; the 整改 clock starts (the reporter is told: a notification, left out here)."""
    assert case.id is not None and case.assignee_id is not None
    assert step.note is not None and step.unit is not None
    config = ledger.config.rectification
    clock = await ledger.start_clock(
        case, ClockKind.RECTIFICATION, step.days, step.at, warn_before=config.warn_before
    )
    rectification = ledger.made(Rectification)(
        case_id=case.id, requirement=step.note, unit=step.unit, working_days=step.days,
        due_at=clock.due_at, provisional=clock.provisional, set_by_id=case.assignee_id,
        set_at=utc(step.at),
    )  # fmt: skip
    await ledger.add_rectification(rectification)
    ledger.record(
        case,
        EventKind.RECTIFICATION_SET,
        _inspector(case),
        step.at,
        note=step.note,
        data={"unit": step.unit, "workdays": step.days, "due_at": clock.due_at.isoformat()},
        public=True,
    )


async def verify(ledger: Ledger, case: Case, step: Step) -> None:
    """核验: passed, the 整改 is verified (late after its 期限) and its clock met; not passed,
    it stays open with the note in the trail and the clock runs on."""
    assert case.assignee_id is not None and step.note is not None
    rectification = await ledger.open_rectification(case)
    assert rectification is not None, case.number
    clock = await ledger.get_clock(case, ClockKind.RECTIFICATION)
    if clock is not None and clock.state in (ClockState.RUNNING, ClockState.PAUSED):
        rectification.due_at = clock.due_at
    data: dict[str, object] = {
        "unit": rectification.unit,
        "due_at": rectification.due_at.isoformat(),
    }
    kind = EventKind.RECTIFICATION_REJECTED
    if step.passed:
        rectification.verify(case.assignee_id, step.note, step.at)
        await ledger.meet_clock(case, ClockKind.RECTIFICATION, step.at)
        data["late"] = rectification.late
        kind = EventKind.RECTIFICATION_VERIFIED
    else:
        data["late"] = utc(step.at) > rectification.due_at
    ledger.record(case, kind, _inspector(case), step.at, note=step.note, data=data)


async def _lapse_rectification(ledger: Ledger, case: Case, at: datetime, *, why: str) -> None:
    """The case left the step: an open 整改 lapses and its clock stops."""
    rectification = await ledger.open_rectification(case)
    if rectification is None:
        return
    rectification.lapse(at)
    await ledger.cancel_clock(case, ClockKind.RECTIFICATION)
    ledger.record(
        case,
        EventKind.RECTIFICATION_LAPSED,
        SYSTEM,
        at,
        note=why,
        data={"unit": rectification.unit},
    )


# --- 防打击报复回访, as bot.services.aftercare and the sweep write it --------------------------


async def _reachable(ledger: Ledger, case: Case) -> Reporter | None:
    reporter = await ledger.reporter(case)
    return reporter if reporter is not None and aftercare_reachable(reporter, case) else None


async def start_aftercare(ledger: Ledger, case: Case, at: datetime) -> None:
    """At 办结: the 防打击报复回访 clock, ``[aftercare] days`` out, for a reporter who can be
    reached (``aftercare.start_aftercare``)."""
    settings = ledger.config.aftercare
    if settings.enabled and await _reachable(ledger, case) is not None:
        await ledger.start_clock(case, ClockKind.AFTERCARE, settings.days, at, warn_before=0)


async def aftercare_ask(ledger: Ledger, case: Case, step: Step) -> None:
    """The sweep asks (没有 · 有) and keeps the question open ``answer_days``; a reporter who
    can no longer be reached is not asked (the question notification is left out here)."""
    clock = await ledger.get_clock(case, ClockKind.AFTERCARE)
    if clock is None or clock.state is not ClockState.RUNNING:
        return
    if await _reachable(ledger, case) is None:
        clock.state, clock.next_action_at = ClockState.CANCELLED, None
        return
    days = ledger.config.aftercare.answer_days
    deadline = ledger.calendar.deadline(step.at, days)
    clock.stage = ClockStage.WARNED
    clock.started_at = utc(step.at)
    clock.workdays = days
    clock.due_at = deadline.due_at
    clock.provisional = deadline.provisional
    clock.next_action_at = deadline.due_at
    ledger.record(case, EventKind.AFTERCARE_ASKED, SYSTEM, step.at, data={"answer_days": days})


async def aftercare_answer(ledger: Ledger, case: Case, step: Step) -> None:
    """没有 or 有: the answer on the case (not on its timeline), the question closed; a 有
    opens a clue, planned as a case of its own (``demo.plan``) with an ``AFTERCARE_CLUE``
    step."""
    clock = await ledger.get_clock(case, ClockKind.AFTERCARE)
    if clock is None or clock.state is not ClockState.RUNNING:
        return  # never asked (an unreachable reporter)
    reporter = await ledger.reporter(case)
    assert reporter is not None
    actor = Actor(ActorType.REPORTER, reporter_actor_id(case, reporter.id))
    ledger.record(case, EventKind.AFTERCARE_ANSWERED, actor, step.at, data={"answer": step.answer})
    await ledger.meet_clock(case, ClockKind.AFTERCARE, step.at)


async def aftercare_unanswered(ledger: Ledger, case: Case, step: Step) -> None:
    """The sweep, ``answer_days`` after asking: 未答复, the clock met."""
    clock = await ledger.get_clock(case, ClockKind.AFTERCARE)
    if clock is None or clock.state is not ClockState.RUNNING:
        return
    clock.stage = ClockStage.OVERDUE
    clock.state = ClockState.MET
    clock.met_at = utc(step.at)
    clock.next_action_at = None
    ledger.record(case, EventKind.AFTERCARE_UNANSWERED, SYSTEM, step.at, data={})


async def aftercare_clue(ledger: Ledger, case: Case, step: Step) -> None:
    """On the clue a 有 opened (received through the intake as the same reporter, linked by
    ``prompted_by_id``): which case prompted it. (The 委领导 are told: a notification, left
    out here.)"""
    reporter = await ledger.reporter(case)
    assert reporter is not None and step.ref is not None
    actor = Actor(ActorType.REPORTER, reporter_actor_id(case, reporter.id))
    ledger.record(case, EventKind.AFTERCARE_CLUE, actor, step.at, data={"prompted_by": step.ref})


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
    StepKind.RECTIFY: rectify,  # → bot.services.rectification.set_rectification
    StepKind.VERIFY: verify,  # → rectification.verify_rectification
    StepKind.AFTERCARE_ASK: aftercare_ask,  # → the sweep (sweep_plan._plan_aftercare)
    StepKind.AFTERCARE_ANSWER: aftercare_answer,  # → aftercare.answer_none / report_retaliation
    StepKind.AFTERCARE_UNANSWERED: aftercare_unanswered,  # → the sweep: 未答复
    StepKind.AFTERCARE_CLUE: aftercare_clue,  # → aftercare.report_retaliation, on the clue
}
"""The one place that says which function performs each lifecycle step."""
