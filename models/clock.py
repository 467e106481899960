"""The deadlines of a case (签收, 受理告知, 办结, 回访), one row per clock.

The deadline sweep reads only rows whose ``next_action_at`` has come, so its cost follows what is
due, not what is open.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, enum_type


class ClockKind(enum.StrEnum):
    ACCEPT = "accept"  # 签收
    FIRST_REPLY = "first_reply"  # 受理告知
    RESOLVE = "resolve"  # 办结
    FOLLOWUP = "followup"  # 回访

    @property
    def label(self) -> str:
        return CLOCK_LABELS[self]


CLOCK_LABELS = {
    ClockKind.ACCEPT: "签收",
    ClockKind.FIRST_REPLY: "受理告知",
    ClockKind.RESOLVE: "办结",
    ClockKind.FOLLOWUP: "回访",
}


class ClockState(enum.StrEnum):
    RUNNING = "running"
    PAUSED = "paused"  # waiting for the reporter's answer
    MET = "met"  # the step was done
    CANCELLED = "cancelled"  # the case left the step another way (withdrawn, re-routed …)


class ClockStage(enum.IntEnum):
    """How far up the ladder a clock has gone; each step notifies once."""

    NONE = 0
    WARNED = 1  # one working day before
    OVERDUE = 2  # at the deadline
    ESCALATED = 3  # to the leader, 2 working days later


class CaseClock(SQLModel, table=True):
    """One deadline of one case."""

    __tablename__ = "case_clocks"

    __table_args__ = (
        sa.UniqueConstraint("case_id", "kind"),
        sa.Index("ix_case_clocks_due", "state", "next_action_at"),
        # the sweep's look for provisional deadlines reads only the provisional clocks
        sa.Index("ix_case_clocks_provisional", "provisional", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
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
