"""Starting, meeting, pausing and extending the deadlines of a case (its ``CaseClock`` rows).

How a clock moves is the domain's (``models.clock.CaseClock``); these load the row, call it and
add it to the session. The sweep (``sweep_deadlines``) acts on what these set:
``next_action_at`` is the next moment the clock needs attention (the warning, then the deadline,
then the escalation).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LiankaConfig
from models.calendar import WorkCalendar
from models.case import Case
from models.clock import CaseClock, ClockKind, new_clock
from models.org import Category


async def get_clock(session: AsyncSession, case_id: int, kind: ClockKind) -> CaseClock | None:
    return (
        await session.exec(
            select(CaseClock).where(CaseClock.case_id == case_id, CaseClock.kind == kind)
        )
    ).first()


async def start_clock(
    session: AsyncSession,
    case: Case,
    kind: ClockKind,
    *,
    workdays: int,
    calendar: WorkCalendar,
    now: datetime,
    warn_before: int,
    new: bool = False,
) -> CaseClock:
    """(Re)start a clock: due at the end of the office day ``workdays`` working days from now.
    ``new``: the case was created in this transaction and has no clocks yet (none is looked up)."""
    assert case.id is not None
    clock = None if new else await get_clock(session, case.id, kind)
    if clock is None:
        clock = new_clock(
            case.id, kind, workdays, calendar=calendar, now=now, warn_before=warn_before
        )
    else:
        clock.start(workdays, calendar=calendar, now=now, warn_before=warn_before)
    session.add(clock)
    return clock


LADDER_STEP = {
    ClockKind.ACCEPT: "accept",
    ClockKind.FIRST_REPLY: "first_reply",
    ClockKind.RESOLVE: "resolve",
    ClockKind.FOLLOWUP: "followup_ask",
}


async def start_ladder_clock(
    session: AsyncSession,
    case: Case,
    kind: ClockKind,
    *,
    config: LiankaConfig,
    calendar: WorkCalendar,
    now: datetime,
    new: bool = False,
) -> CaseClock:
    """(Re)start one of the case's clocks with the working days its category's ladder gives
    that step (签收, 受理告知, 办结, or the wait before the 回访 question); ``new`` as for
    ``start_clock``."""
    category = await session.get(Category, case.category_id)
    assert category is not None
    workdays: int = getattr(config.ladder_for(category.code), LADDER_STEP[kind])
    return await start_clock(
        session,
        case,
        kind,
        workdays=workdays,
        calendar=calendar,
        now=now,
        warn_before=config.deadlines.warn_before,
        new=new,
    )


async def meet_clock(
    session: AsyncSession, case_id: int, kind: ClockKind, now: datetime
) -> CaseClock | None:
    """The step was done: stop the clock and remember when (for the on-time rates)."""
    clock = await get_clock(session, case_id, kind)
    if clock is not None and clock.meet(now):
        session.add(clock)
    return clock


async def cancel_clock(session: AsyncSession, case_id: int, kind: ClockKind) -> None:
    """The case left the step another way (withdrawn, re-routed): the clock no longer runs."""
    clock = await get_clock(session, case_id, kind)
    if clock is not None and clock.cancel():
        session.add(clock)


async def pause_clock(session: AsyncSession, case_id: int, kind: ClockKind, now: datetime) -> None:
    """Waiting for the reporter: the clock stops counting until ``resume_clock``."""
    clock = await get_clock(session, case_id, kind)
    if clock is not None and clock.pause(now):
        session.add(clock)


async def resume_clock(
    session: AsyncSession,
    case_id: int,
    kind: ClockKind,
    calendar: WorkCalendar,
    now: datetime,
    *,
    warn_before: int,
) -> CaseClock | None:
    """The reporter answered: the deadline moves by the working days the clock was paused."""
    clock = await get_clock(session, case_id, kind)
    if clock is not None and clock.resume(calendar=calendar, now=now, warn_before=warn_before):
        session.add(clock)
    return clock


async def extend_clock(
    session: AsyncSession,
    case_id: int,
    kind: ClockKind,
    workdays: int,
    *,
    calendar: WorkCalendar,
    now: datetime,
    warn_before: int,
) -> CaseClock:
    """An approved 延期: the deadline moves ``workdays`` working days later."""
    clock = await get_clock(session, case_id, kind)
    if clock is None:
        raise LookupError(f"case {case_id} has no {kind} clock")
    clock.extend(workdays, calendar=calendar, now=now, warn_before=warn_before)
    session.add(clock)
    return clock
