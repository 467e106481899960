"""Official holiday schedules loaded by the admin (``lianka calendar load``), kept in the database."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class CalendarYear(SQLModel, table=True):
    """A year whose official schedule was loaded: its deadlines are no longer provisional."""

    __tablename__ = "calendar_years"

    year: int = Field(primary_key=True)
    source: str = Field(max_length=200)
    loaded_at: datetime = Field(sa_type=UTCDateTime)


class CalendarDay(SQLModel, table=True):
    """A holiday or a make-up working day (调休) of a loaded year."""

    __tablename__ = "calendar_days"

    day: date = Field(primary_key=True)
    is_workday: bool
    name: str | None = Field(default=None, max_length=40)
