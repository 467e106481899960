"""The deadlines of a case (签收, 受理告知, 办结, 回访, 督办回复, 整改, 防打击报复回访), one row per clock,
and how they move.

A clock is due at the end of the office day a number of working days after it starts; it warns
``warn_before`` working days earlier, pauses while the reporter is asked, and moves when a
延期 is approved. Everything here is pure: a ``WorkCalendar`` and ``now`` come in, the row
changes, nothing is read or written elsewhere (``bot.services.clocks`` loads and saves the row).

The deadline sweep reads only rows whose ``next_action_at`` has come, so its cost follows what is
due, not what is open.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, time
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.case import (
    AWAITING_ACCEPTANCE,
    FINISHED_STATUSES,
    OPEN_STATUSES,
    WORKING_STATUSES,
    CaseStatus,
)
from models.types import UTCDateTime, enum_type, utc

if TYPE_CHECKING:
    from models.calendar import Deadline, WorkCalendar

MORNING = time(9, 0)
"""When a warning too late for the day before, and the 回访 question, go out."""


class ClockKind(enum.StrEnum):
    ACCEPT = "accept"  # 签收
    FIRST_REPLY = "first_reply"  # 受理告知
    RESOLVE = "resolve"  # 办结
    FOLLOWUP = "followup"  # 回访
    DISPOSITION = "disposition"  # 线索处置: an approved 谈话函询 / 初步核实 / 暂存待查
    SUPERVISION = "supervision"  # 督办回复, by the 督办期限
    RECTIFICATION = "rectify"  # 整改, by the deadline set at 反馈整改 (核验 meets it)
    AFTERCARE = "aftercare"  # 防打击报复回访: asked ``[aftercare] days`` after 办结

    @property
    def label(self) -> str:
        return CLOCK_LABELS[self]


CLOCK_LABELS = {
    ClockKind.ACCEPT: "签收",
    ClockKind.FIRST_REPLY: "受理告知",
    ClockKind.RESOLVE: "办结",
    ClockKind.FOLLOWUP: "回访",
    ClockKind.DISPOSITION: "线索处置",
    ClockKind.SUPERVISION: "督办回复",
    ClockKind.RECTIFICATION: "整改",
    ClockKind.AFTERCARE: "回访（打击报复）",
}


DEADLINE_CLOCKS = (
    ClockKind.ACCEPT,
    ClockKind.FIRST_REPLY,
    ClockKind.RESOLVE,
    ClockKind.DISPOSITION,
    ClockKind.SUPERVISION,
    ClockKind.RECTIFICATION,
)
"""The clocks with a deadline ladder (warning, overdue, escalation); 回访 has its own steps."""

VALID_STATUSES: dict[ClockKind, frozenset[CaseStatus]] = {
    ClockKind.ACCEPT: AWAITING_ACCEPTANCE,
    ClockKind.FIRST_REPLY: AWAITING_ACCEPTANCE | {CaseStatus.ACCEPTED, CaseStatus.IN_PROGRESS},
    ClockKind.RESOLVE: WORKING_STATUSES,
    ClockKind.FOLLOWUP: frozenset({CaseStatus.RESOLVED}),
    # an approved 初步核实 (谈话函询, 暂存待查) runs on while the clue changes hands (转办, 退回)
    ClockKind.DISPOSITION: OPEN_STATUSES,
    ClockKind.SUPERVISION: OPEN_STATUSES,
    ClockKind.RECTIFICATION: WORKING_STATUSES,
    # asked after the 回访 of satisfaction has closed the case: 重办 (REOPENED) cancels it
    ClockKind.AFTERCARE: FINISHED_STATUSES,
}
"""The case statuses in which a clock of each kind still counts; in any other the sweep
cancels it (the case left the step another way)."""


class ClockState(enum.StrEnum):
    RUNNING = "running"
    PAUSED = "paused"  # waiting for the reporter's answer
    MET = "met"  # the step was done
    CANCELLED = "cancelled"  # the case left the step another way (withdrawn, re-routed …)

    @property
    def label(self) -> str:
        return CLOCK_STATE_LABELS[self]


CLOCK_STATE_LABELS = {
    ClockState.RUNNING: "计时中",
    ClockState.PAUSED: "暂停（等待反映人答复）",
    ClockState.MET: "已完成",
    ClockState.CANCELLED: "已取消",
}


class ClockStage(enum.IntEnum):
    """How far up the ladder a clock has gone; each step notifies once."""

    NONE = 0
    WARNED = 1  # one working day before
    OVERDUE = 2  # at the deadline
    ESCALATED = 3  # to the leader, 2 working days later


CURRENT_PREDICATE = "state IN ('paused', 'running')"
"""The clocks a list line may show (running or paused), as ``ix_case_clocks_current``'s
predicate (``case_lists.is_current_clock`` names it)."""


class CaseClock(SQLModel, table=True):
    """One deadline of one case."""

    __tablename__ = "case_clocks"

    __table_args__ = (
        sa.UniqueConstraint("case_id", "kind"),
        sa.Index("ix_case_clocks_due", "state", "next_action_at"),
        # the provisional clocks by state (the sweep's notice to admins, the schedule's recount):
        # partial, so the others write nothing to it; the predicate as the readers say it (0028)
        sa.Index(
            "ix_case_clocks_provisional",
            "state",
            sqlite_where=sa.text("provisional IS 1"),
            postgresql_where=sa.text("provisional IS true"),
        ),
        # what is overdue (report, 工作台, 超期 filter, counts) reads only the running clocks
        sa.Index(
            "ix_case_clocks_running_due",
            "due_at",
            sqlite_where=sa.text("state = 'running'"),
            postgresql_where=sa.text("state = 'running'"),
            postgresql_include=["case_id", "kind"],  # found in the index alone (0025)
        ),
        # the clock a list line shows (running or paused), by case, in the index alone (0025)
        sa.Index(
            "ix_case_clocks_current",
            "case_id",
            sqlite_where=sa.text(CURRENT_PREDICATE),
            postgresql_where=sa.text(CURRENT_PREDICATE),
            postgresql_include=["kind", "state", "due_at"],
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # found by the unique (case_id, kind) index: no index of its own (migration 0028)
    case_id: int = Field(foreign_key="cases.id")
    kind: ClockKind = Field(sa_type=enum_type(ClockKind, 12))
    state: ClockState = Field(default=ClockState.RUNNING, sa_type=enum_type(ClockState, 12))
    stage: int = ClockStage.NONE
    started_at: datetime = Field(sa_type=UTCDateTime)
    workdays: int  # the budget, extensions included
    due_at: datetime = Field(sa_type=UTCDateTime)
    provisional: bool = False  # counted over a year without the official schedule
    next_action_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    paused_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    met_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    extended_days: int = 0
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)

    def start(
        self, workdays: int, *, calendar: WorkCalendar, now: datetime, warn_before: int
    ) -> None:
        """(Re)start: due at the end of the office day ``workdays`` working days from now, the
        ladder from the beginning, the earlier extensions forgotten."""
        deadline = calendar.deadline(now, workdays)
        warning = warning_time(calendar, now, deadline.due_at, warn_before)
        self.begin(now, workdays, deadline, warning)

    def begin(
        self, now: datetime, workdays: int, deadline: Deadline, next_action_at: datetime
    ) -> None:
        """``start`` with its deadline and first action already worked out (the demo's bulk
        path remembers them by the day)."""
        self.state = ClockState.RUNNING
        self.stage = ClockStage.NONE
        self.started_at = utc(now)
        self.workdays = workdays
        self.extended_days = 0
        self.due_at = deadline.due_at
        self.provisional = deadline.provisional
        self.paused_at = None
        self.met_at = None
        self.next_action_at = next_action_at

    @property
    def stopped(self) -> bool:
        """Met or cancelled: nothing moves the clock any more but a restart."""
        return self.state in (ClockState.MET, ClockState.CANCELLED)

    def overdue_at(self, now: datetime) -> bool:
        """Past its deadline at ``now``: running past it, or paused (waiting for the reporter's
        answer) when it had already passed — waiting gives no time back, and ``resume`` brings
        it back as late. A clock paused with time left is not overdue while it waits. The rule
        every overdue count and flag uses (``overdue_clock``, ``overdue_case_ids``)."""
        if self.state is ClockState.RUNNING:
            return self.due_at <= now
        if self.state is ClockState.PAUSED:
            return self.paused_at is not None and self.due_at <= self.paused_at
        return False

    def meet(self, now: datetime) -> bool:
        """The step was done: the clock stops and remembers when (for the on-time rates).
        False, and nothing changes, when it had stopped already."""
        if self.stopped:
            return False
        self.state = ClockState.MET
        self.met_at = utc(now)
        self.next_action_at = None
        self.paused_at = None
        return True

    def cancel(self) -> bool:
        """The case left the step another way (withdrawn, re-routed): the clock no longer runs.
        False, and nothing changes, when it had stopped already."""
        if self.stopped:
            return False
        self.state = ClockState.CANCELLED
        self.next_action_at = None
        return True

    def pause(self, now: datetime) -> bool:
        """Waiting for the reporter: the clock stops counting until ``resume``. False when it
        was not running."""
        if self.state is not ClockState.RUNNING:
            return False
        self.state = ClockState.PAUSED
        self.paused_at = utc(now)
        self.next_action_at = None
        return True

    def resume(self, *, calendar: WorkCalendar, now: datetime, warn_before: int) -> bool:
        """The reporter answered: the deadline moves by the working days the clock was paused.
        A clock paused with time left never comes back overdue (a question asked on the due
        day, answered that evening): it gets until the end of the next working day at least.
        False when it was not paused."""
        if self.state is not ClockState.PAUSED or self.paused_at is None:
            return False
        today = now.astimezone(calendar.tz).date()
        due_day = self.due_at.astimezone(calendar.tz).date()
        paused_days = calendar.workdays_between(
            self.paused_at.astimezone(calendar.tz).date(), today
        )
        moved = datetime.combine(
            calendar.add_workdays(due_day, paused_days), calendar.office_day_end, calendar.tz
        )
        if self.paused_at < self.due_at and moved <= now:
            paused_days = calendar.workdays_between(due_day, today) + 1
        self.state = ClockState.RUNNING
        self.paused_at = None
        self._shift(paused_days, calendar=calendar, now=now, warn_before=warn_before)
        return True

    def extend(
        self, workdays: int, *, calendar: WorkCalendar, now: datetime, warn_before: int
    ) -> None:
        """An approved 延期: the budget grows and the deadline moves ``workdays`` working days."""
        self.workdays += workdays
        self.extended_days += workdays
        self._shift(workdays, calendar=calendar, now=now, warn_before=warn_before)

    def _shift(
        self, workdays: int, *, calendar: WorkCalendar, now: datetime, warn_before: int
    ) -> None:
        """Move the deadline ``workdays`` working days later; if that puts it back in the
        future, the ladder starts again (a fresh warning, then overdue)."""
        due_day = calendar.add_workdays(self.due_at.astimezone(calendar.tz).date(), workdays)
        self.due_at = utc(datetime.combine(due_day, calendar.office_day_end, calendar.tz))
        start_day = self.started_at.astimezone(calendar.tz).date()
        self.provisional = bool(calendar.provisional_years(start_day, due_day))
        if self.due_at > now:
            self.stage = ClockStage.NONE
            self.next_action_at = warning_time(calendar, now, self.due_at, warn_before)
        else:
            # still past due (e.g. overdue while waiting for the reporter): the sweep looks
            # again at once and carries on up the ladder from where the clock stands
            self.next_action_at = utc(now)


def _running_late(now: datetime) -> tuple[sa.ColumnElement[bool], ...]:
    """A running clock past its deadline (``CaseClock.overdue_at``'s first half)."""
    table = CaseClock.__table__.c  # type: ignore[attr-defined]
    return (table.state == ClockState.RUNNING, table.due_at <= now)


def _paused_late() -> tuple[sa.ColumnElement[bool], ...]:
    """A clock paused when its deadline had passed (``CaseClock.overdue_at``'s second half)."""
    table = CaseClock.__table__.c  # type: ignore[attr-defined]
    return (table.state == ClockState.PAUSED, table.due_at <= table.paused_at)


def overdue_clock(now: datetime) -> sa.ColumnElement[bool]:
    """``CaseClock.overdue_at`` in SQL, for a statement that reads the clocks anyway."""
    return sa.or_(sa.and_(*_running_late(now)), sa.and_(*_paused_late()))


def overdue_case_ids(now: datetime, kinds: Iterable[ClockKind]) -> sa.CompoundSelect[tuple[int]]:
    """The ids of the cases with a clock of ``kinds`` overdue at ``now`` (``overdue_at``): the
    running clocks past their deadline (few, ``ix_case_clocks_running_due``) and the paused ones
    (few, ``ix_case_clocks_due`` by state), each read by its own index."""
    table = CaseClock.__table__.c  # type: ignore[attr-defined]
    chosen = table.kind.in_(list(kinds))
    return sa.union_all(
        sa.select(table.case_id).where(*_running_late(now), chosen),
        sa.select(table.case_id).where(*_paused_late(), chosen),
    )


def new_clock(
    case_id: int,
    kind: ClockKind,
    workdays: int,
    *,
    calendar: WorkCalendar,
    now: datetime,
    warn_before: int,
) -> CaseClock:
    """A clock started now (see ``CaseClock.start``)."""
    clock = CaseClock(case_id=case_id, kind=kind, started_at=now, workdays=workdays, due_at=now)
    clock.start(workdays, calendar=calendar, now=now, warn_before=warn_before)
    return clock


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


def escalation_time(calendar: WorkCalendar, due_at: datetime, escalate_after: int) -> datetime:
    """The end of the office day ``escalate_after`` working days after the deadline's day."""
    if escalate_after <= 0:
        return due_at
    due_day = due_at.astimezone(calendar.tz).date()
    day = calendar.add_workdays(due_day, escalate_after)
    return utc(datetime.combine(day, calendar.office_day_end, calendar.tz))


def followup_ask_time(calendar: WorkCalendar, clock: CaseClock) -> datetime:
    """09:00 on the day the follow-up is due, never before 办结."""
    due_day = clock.due_at.astimezone(calendar.tz).date()
    return utc(max(datetime.combine(due_day, MORNING, calendar.tz), clock.started_at))
