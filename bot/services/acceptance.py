"""签收: the assignee accepts the case and the 办结 clock starts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.clocks import get_clock, meet_clock, start_ladder_clock
from bot.services.notices import team_name, tell_reporter
from bot.services.permissions import actor_of, load_case, require_assignee
from bot.services.policy import Policy
from models.case import Case, CaseStatus
from models.clock import CaseClock, ClockKind
from models.event import EventKind, record_event, transition
from models.org import Category, Track
from models.team import Inspector


@dataclass(frozen=True, slots=True)
class Accepted:
    case: Case
    resolve_due_at: datetime
    resolve_provisional: bool
    due_kind: ClockKind = ClockKind.RESOLVE  # 线索处置: a clue's approved disposition runs on


async def accept_case(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    *,
    policy: Policy,
    now: datetime,
) -> Accepted:
    """签收: assigned → accepted; the 签收 clock is met, the 办结 clock starts (unless the case
    already has one running from before a re-assignment in the team, or is a clue whose approved
    disposition's 线索处置 clock runs on from before a 转办 or 退回), and the reporter is told
    it is accepted (受理告知, which meets the first-reply clock): on the first acceptance, and for
    an appeal again after it moved to another team."""
    case = await load_case(session, case_id)
    require_assignee(actor, case, frozenset({CaseStatus.ASSIGNED}), "签收")
    assert case.id is not None
    who = actor_of(actor)
    event = transition(case, CaseStatus.ACCEPTED, EventKind.ACCEPTED, who, now, public=True)
    session.add(event)
    tell = case.first_reply_at is None or (case.accepted_at is None and case.track is Track.APPEAL)
    case.accepted_at = now
    await meet_clock(session, case.id, ClockKind.ACCEPT, now=now)
    category = await session.get(Category, case.category_id)
    assert category is not None
    resolve = await _running(session, case.id, ClockKind.DISPOSITION)  # a clue's, approved
    resolve = resolve or await get_clock(session, case.id, ClockKind.RESOLVE)
    if resolve is None or resolve.stopped:
        resolve = await start_ladder_clock(
            session,
            case,
            ClockKind.RESOLVE,
            config=policy.config,
            calendar=policy.calendar,
            now=now,
        )
    if case.first_reply_at is None:
        event = record_event(case, EventKind.FIRST_REPLY, who, now, public=True)
        session.add(event)
        case.first_reply_at = now
        await meet_clock(session, case.id, ClockKind.FIRST_REPLY, now=now)
    if tell:
        await tell_reporter(
            session,
            case,
            "case_accepted",
            stage=event.seq,
            now=now,
            team=await team_name(session, case.team_id),
            category=category.name,
            resolve_due=resolve.due_at,
            provisional=resolve.provisional,
        )
    session.add(case)
    await session.commit()
    return Accepted(case, resolve.due_at, resolve.provisional, resolve.kind)


async def _running(session: AsyncSession, case_id: int, kind: ClockKind) -> CaseClock | None:
    clock = await get_clock(session, case_id, kind)
    return clock if clock is not None and not clock.stopped else None
