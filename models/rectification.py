"""反馈整改: what a responsible unit must rectify on an appeal, by when, and whether it was checked.

The assignee records the 整改事项, the 责任单位 and the working days it has; a ``rectification``
clock (``models.clock``) runs to the deadline with the usual ladder (warning, overdue,
escalation). The assignee then verifies (核验): passed, the rectification is ``verified`` and
``late`` says whether that came after the deadline; not passed, it stays open and the clock runs
on. A case leaving its team or its step (退回, 转办, 合并办理, 撤回) lapses an open one. At most
one rectification of a case is open at a time (a unique partial index).
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, enum_type, utc

REQUIREMENT_MAX = 1000
UNIT_MAX = 100
NOTE_MAX = 1000


class RectificationState(enum.StrEnum):
    OPEN = "open"  # set, not yet verified as done
    VERIFIED = "verified"  # 核验通过
    LAPSED = "lapsed"  # the case left the step (退回, 转办, 合并办理, 撤回)

    @property
    def label(self) -> str:
        return RECTIFICATION_STATE_LABELS[self]


RECTIFICATION_STATE_LABELS = {
    RectificationState.OPEN: "整改中",
    RectificationState.VERIFIED: "已核验",
    RectificationState.LAPSED: "已失效",
}


class Rectification(SQLModel, table=True):
    """One 整改 required on a case, and its 核验."""

    __tablename__ = "rectifications"

    __table_args__ = (
        sa.Index(
            "uq_rectifications_open",
            "case_id",
            unique=True,
            sqlite_where=sa.text("state = 'open'"),
            postgresql_where=sa.text("state = 'open'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    requirement: str = Field(sa_type=sa.Text)  # 整改事项
    unit: str = Field(max_length=UNIT_MAX)  # 责任单位
    working_days: int
    due_at: datetime = Field(sa_type=UTCDateTime)
    provisional: bool = False  # counted over a year without the official schedule
    set_by_id: int = Field(foreign_key="inspectors.id")
    set_at: datetime = Field(sa_type=UTCDateTime)
    state: RectificationState = Field(
        default=RectificationState.OPEN, sa_type=enum_type(RectificationState, 12)
    )
    verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    verified_by_id: int | None = Field(default=None, foreign_key="inspectors.id")
    verify_note: str | None = Field(default=None, sa_type=sa.Text)
    late: bool | None = None  # set at 核验: verified after ``due_at``
    lapsed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    def verify(self, by: int, note: str, now: datetime) -> None:
        """核验通过: verified now, late when after the deadline."""
        self.state = RectificationState.VERIFIED
        self.verified_at = utc(now)
        self.verified_by_id = by
        self.verify_note = note
        self.late = utc(now) > self.due_at

    def lapse(self, now: datetime) -> None:
        self.state = RectificationState.LAPSED
        self.lapsed_at = utc(now)
