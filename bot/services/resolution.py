"""办结: the outcome, the reporter told, the 回访 clock started."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.clocks import meet_clock, start_ladder_clock
from bot.services.notices import tell_reporter
from bot.services.permissions import (
    actor_of,
    clean_note,
    load_case,
    refuse_clue_resolution,
    require_assignee,
)
from bot.services.policy import Policy
from bot.services.requests import cancel_pending
from models.case import WORKING_STATUSES, Case, CaseStatus, Outcome
from models.clock import ClockKind
from models.errors import InvalidInput
from models.event import EventKind, transition
from models.intake import AMOUNT_MAX_YUAN
from models.org import Track
from models.relay import RelayMessage, RelayStatus
from models.team import Inspector


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
    回访 clock starts; the reporter gets the outcome and summary. A clue is refused: it takes
    the disposition path (``bot.services.dispositions``). Questions still open and requests still pending lapse."""
    case = await load_case(session, case_id)
    require_assignee(actor, case, WORKING_STATUSES, "办结")
    refuse_clue_resolution(case)  # a clue is disposed of (集体研判), not 办结
    assert case.id is not None
    text = clean_note(summary, "办结情况")
    if amount_yuan is not None and not 0 <= amount_yuan <= AMOUNT_MAX_YUAN:
        raise InvalidInput("金额超出范围，请核对后重新输入。")
    appeal = case.track is Track.APPEAL
    event = transition(
        case,
        CaseStatus.RESOLVED,
        EventKind.RESOLVED,
        actor_of(actor),
        now,
        note=text,
        data={"outcome": outcome.value, "amount_yuan": amount_yuan},
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
    for relay in (
        await session.exec(
            select(RelayMessage).where(
                RelayMessage.case_id == case.id, RelayMessage.status == RelayStatus.OPEN
            )
        )
    ).all():
        relay.status = RelayStatus.CANCELLED
        session.add(relay)
    await cancel_pending(session, case.id, now=now, why="问题已办结")
    await tell_reporter(
        session,
        case,
        "case_resolved",
        stage=event.seq,
        now=now,
        appeal=appeal,
        outcome=outcome.label,
        summary=text if appeal else None,
        amount=amount_yuan if appeal else None,
    )
    await session.commit()
    return case
