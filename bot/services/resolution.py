"""办结: the outcome, the reporter told, the 回访 and 防打击报复回访 clocks started; with 组长审核, first the team
leader's sign-off."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.aftercare import start_aftercare
from bot.services.clocks import meet_clock, start_ladder_clock
from bot.services.notices import tell_reporter
from bot.services.permissions import (
    actor_of,
    clean_note,
    load_case,
    moved_on,
    refuse_clue_resolution,
    require_assignee,
)
from bot.services.policy import Policy
from bot.services.rectification import require_settled
from bot.services.relay import cancel_open_questions
from bot.services.requests import cancel_pending, file_request, has_pending
from models.case import WORKING_STATUSES, Case, CaseStatus, Outcome
from models.clock import ClockKind
from models.errors import InvalidInput
from models.event import Actor, EventKind, transition
from models.intake import AMOUNT_MAX_YUAN
from models.org import Track
from models.request import ApprovalRequest, RequestKind
from models.team import Inspector, Role
from notifications.texts import reporter_outcome


async def resolve_case(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    *,
    outcome: Outcome,
    summary: str,
    amount_yuan: int | None,
    policy: Policy,
    now: datetime,
) -> Case:
    """办结: the outcome, a summary and the amount coordinated (元); the 办结 clock is met and the
    回访 clock starts; the reporter gets the outcome and summary. Refused while a 整改 waits for
    its 核验, and 已整改 only after one passed (``rectification.require_settled``). A clue is refused: it takes
    the disposition path (``bot.services.dispositions``). Questions still open and requests
    still pending lapse. With 组长审核 on (``[review] appeal``) an inspector's 办结 of an appeal
    is a request the team leader signs off first (``needs_review``): the case is returned still
    in hand, nothing told to the reporter."""
    case = await load_case(session, case_id)
    require_assignee(actor, case, WORKING_STATUSES, "办结")
    refuse_clue_resolution(case)  # a clue is disposed of (集体研判), not 办结
    assert case.id is not None and actor.id is not None
    await require_settled(session, case, outcome)  # 整改 verified first (反馈整改)
    text = clean_note(summary, "办结情况")
    if amount_yuan is not None and not 0 <= amount_yuan <= AMOUNT_MAX_YUAN:
        raise InvalidInput("金额超出范围，请核对后重新输入。")
    if needs_review(case, actor, policy):
        if await has_pending(session, case.id, (RequestKind.RESOLUTION,)):
            raise InvalidInput("该问题的办结已提交组长审核，请等待审核结果。")
        request = ApprovalRequest.filed(
            case.id, RequestKind.RESOLUTION, by=actor.id, reason=text, at=now
        )
        proposal = {"outcome": outcome.value, "amount_yuan": amount_yuan}
        request.proposal = proposal
        await file_request(
            session, case, actor, request, kind=EventKind.RESOLUTION_SUBMITTED, data=proposal,
            now=now, target=outcome.label,
        )  # fmt: skip
        return case
    await _resolve(
        session, case, actor_of(actor), Proposal(outcome, text, amount_yuan), policy=policy, now=now
    )
    await session.commit()
    return case


def needs_review(case: Case, actor: Inspector, policy: Policy) -> bool:
    """组长审核 applies: an appeal, with ``[review] appeal`` on, resolved by someone other than a
    team leader (a team leader answers for their own 办结)."""
    return (
        case.track is Track.APPEAL
        and policy.config.review.appeal
        and actor.role is not Role.TEAM_LEADER
    )


@dataclass(frozen=True, slots=True)
class Proposal:
    """What a 办结 says: the outcome, the summary and the amount coordinated (元)."""

    outcome: Outcome
    summary: str
    amount_yuan: int | None

    @classmethod
    def of(cls, request: ApprovalRequest) -> Proposal:
        proposal = request.proposal or {}
        return cls(Outcome(proposal["outcome"]), request.reason, proposal.get("amount_yuan"))


async def approve_resolution(
    session: AsyncSession, request: ApprovalRequest, case: Case, *, who: Actor, policy: Policy,
    now: datetime, extra: dict[str, Any],
) -> None:  # fmt: skip
    """组长审核 passed: the 办结 the assignee proposed, in the team leader's name (the event
    says who proposed it, and ``extra``: an admin's stand-in). The caller recorded the decision
    on ``request`` and commits."""
    if case.status not in WORKING_STATUSES:
        raise moved_on(case, "办结")
    proposal = Proposal.of(request)
    await require_settled(session, case, proposal.outcome)
    session.add(request)
    await _resolve(
        session, case, who, proposal, policy=policy, now=now,
        extra={"request": request.id, "proposed_by": request.requested_by_id, **extra},
    )  # fmt: skip


async def _resolve(
    session: AsyncSession,
    case: Case,
    who: Actor,
    proposal: Proposal,
    *,
    policy: Policy,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> None:
    assert case.id is not None
    appeal = case.track is Track.APPEAL
    outcome, text, amount_yuan = proposal.outcome, proposal.summary, proposal.amount_yuan
    event = transition(
        case,
        CaseStatus.RESOLVED,
        EventKind.RESOLVED,
        who,
        now,
        note=text,
        data={"outcome": outcome.value, "amount_yuan": amount_yuan, **(extra or {})},
        public=True,
    )
    case.outcome = outcome
    case.outcome_summary = text
    case.amount_coordinated_yuan = amount_yuan
    case.resolved_at = now
    session.add_all([case, event])
    await meet_clock(session, case.id, ClockKind.RESOLVE, now=now)
    await start_ladder_clock(
        session, case, ClockKind.FOLLOWUP, config=policy.config, calendar=policy.calendar, now=now
    )
    await start_aftercare(session, case, policy=policy, now=now)  # 防打击报复回访
    await cancel_open_questions(session, case.id)
    await cancel_pending(session, case.id, now=now, why="问题已办结")
    await tell_reporter(
        session,
        case,
        "case_resolved",
        stage=event.seq,
        now=now,
        appeal=appeal,
        outcome=reporter_outcome(outcome),
        summary=text if appeal else None,
        amount=amount_yuan if appeal else None,
    )
