"""Starting, meeting, pausing and extending the deadlines of a case (its ``CaseClock`` rows).

The sweep (``sweep_deadlines``) acts on what these set: ``next_action_at`` is the next moment the
clock needs attention (the warning, then the deadline, then the escalation).
"""

from __future__ import annotations

from datetime import datetime, time

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LiankaConfig
from models.calendar import WorkCalendar
from models.case import Case
from models.clock import CaseClock, ClockKind, ClockStage, ClockState
from models.org import Category
from models.types import utc

MORNING = time(9, 0)


def warning_time(
    calendar: WorkCalendar, started_at: datetime, due_at: datetime, warn_before: int
) -> datetime:
    """The end of the office day ``warn_before`` working days before the deadline; for a clock
    too short for that, 09:00 on the due day; never before the clock started."""
    due_local = due_at.astimezone(calendar.tz).date()
    start_local = started_at.astimezone(calendar.tz).date()
    budget = calendar.workdays_between(start_local, due_local)
    if warn_before > 0 and budget > warn_before:
        warn_day = calendar.add_workdays(start_local, budget - warn_before)
        warn_at = datetime.combine(warn_day, calendar.office_day_end, calendar.tz)
    else:
        warn_at = datetime.combine(due_local, MORNING, calendar.tz)
    return utc(max(warn_at, started_at))


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
    workdays: int,
    calendar: WorkCalendar,
    now: datetime,
    *,
    warn_before: int,
) -> CaseClock:
    """(Re)start a clock: due at the end of the office day ``workdays`` working days from now."""
    assert case.id is not None
    deadline = calendar.deadline(now, workdays)
    clock = await get_clock(session, case.id, kind)
    if clock is None:
        clock = CaseClock(case_id=case.id, kind=kind, started_at=now, workdays=workdays, due_at=now)
    clock.state = ClockState.RUNNING
    clock.stage = ClockStage.NONE
    clock.started_at = utc(now)
    clock.workdays = workdays
    clock.extended_days = 0
    clock.due_at = deadline.due_at
    clock.provisional = deadline.provisional
    clock.paused_at = None
    clock.met_at = None
    clock.next_action_at = warning_time(calendar, now, deadline.due_at, warn_before)
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
    config: LiankaConfig,
    calendar: WorkCalendar,
    now: datetime,
) -> CaseClock:
    """(Re)start one of the case's clocks with the working days its category's ladder gives
    that step (签收, 受理告知, 办结, or the wait before the 回访 question)."""
    category = await session.get(Category, case.category_id)
    assert category is not None
    workdays: int = getattr(config.ladder_for(category.code), LADDER_STEP[kind])
    return await start_clock(
        session, case, kind, workdays, calendar, now, warn_before=config.deadlines.warn_before
    )


async def meet_clock(
    session: AsyncSession, case_id: int, kind: ClockKind, now: datetime
) -> CaseClock | None:
    """The step was done: stop the clock and remember when (for the on-time rates)."""
    clock = await get_clock(session, case_id, kind)
    if clock is None or clock.state in (ClockState.MET, ClockState.CANCELLED):
        return clock
    clock.state = ClockState.MET
    clock.met_at = utc(now)
    clock.next_action_at = None
    clock.paused_at = None
    session.add(clock)
    return clock


async def cancel_clock(session: AsyncSession, case_id: int, kind: ClockKind) -> None:
    """The case left the step another way (withdrawn, re-routed): the clock no longer runs."""
    clock = await get_clock(session, case_id, kind)
    if clock is not None and clock.state in (ClockState.RUNNING, ClockState.PAUSED):
        clock.state = ClockState.CANCELLED
        clock.next_action_at = None
        session.add(clock)


async def pause_clock(session: AsyncSession, case_id: int, kind: ClockKind, now: datetime) -> None:
    """Waiting for the reporter: the clock stops counting until ``resume_clock``."""
    clock = await get_clock(session, case_id, kind)
    if clock is not None and clock.state is ClockState.RUNNING:
        clock.state = ClockState.PAUSED
        clock.paused_at = utc(now)
        clock.next_action_at = None
        session.add(clock)


def _shift(
    calendar: WorkCalendar, clock: CaseClock, workdays: int, now: datetime, warn_before: int
) -> None:
    """Move the deadline ``workdays`` working days later; if that puts it back in the future,
    the ladder starts again (a fresh warning, then overdue)."""
    due_day = calendar.add_workdays(clock.due_at.astimezone(calendar.tz).date(), workdays)
    clock.due_at = utc(datetime.combine(due_day, calendar.office_day_end, calendar.tz))
    start_day = clock.started_at.astimezone(calendar.tz).date()
    clock.provisional = bool(calendar.provisional_years(start_day, due_day))
    if clock.due_at > now:
        clock.stage = ClockStage.NONE
        clock.next_action_at = warning_time(calendar, now, clock.due_at, warn_before)
    else:
        # still past due (e.g. overdue while waiting for the reporter): the sweep looks again
        # at once and carries on up the ladder from where the clock stands
        clock.next_action_at = utc(now)


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
    if clock is None or clock.state is not ClockState.PAUSED or clock.paused_at is None:
        return clock
    paused_days = calendar.workdays_between(
        clock.paused_at.astimezone(calendar.tz).date(), now.astimezone(calendar.tz).date()
    )
    clock.state = ClockState.RUNNING
    clock.paused_at = None
    _shift(calendar, clock, paused_days, now, warn_before)
    session.add(clock)
    return clock


async def extend_clock(
    session: AsyncSession,
    case_id: int,
    kind: ClockKind,
    workdays: int,
    calendar: WorkCalendar,
    now: datetime,
    *,
    warn_before: int,
) -> CaseClock:
    """An approved 延期: the deadline moves ``workdays`` working days later."""
    clock = await get_clock(session, case_id, kind)
    if clock is None:
        raise LookupError(f"case {case_id} has no {kind} clock")
    clock.workdays += workdays
    clock.extended_days += workdays
    _shift(calendar, clock, workdays, now, warn_before)
    session.add(clock)
    return clock
