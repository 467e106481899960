"""The working-day calendar as configured: official data, loaded schedules, config overrides."""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LiankaConfig
from bot.services.policy import Policy
from models.calendar import DayInfo, WorkCalendar
from models.schedule import CalendarDay, CalendarYear


async def load_calendar(session: AsyncSession, config: LiankaConfig) -> WorkCalendar:
    """Schedules loaded into the database, then the config's overrides on top (they win)."""
    days = {
        row.day: DayInfo(row.is_workday, row.name)
        for row in (await session.exec(select(CalendarDay))).all()
    }
    known_years = [row.year for row in (await session.exec(select(CalendarYear))).all()]
    days |= {d.date: DayInfo(d.workday, d.name) for d in config.calendar.days}
    return WorkCalendar(
        days, known_years=known_years, office_day_end=config.deadlines.office_day_end
    )


async def calendar_stamp(session: AsyncSession) -> tuple[int, datetime | None]:
    """What changes when ``lianka calendar load`` adds a year: the count and latest load time."""
    count, latest = (
        await session.exec(select(func.count(), func.max(CalendarYear.loaded_at)))
    ).one()
    return int(count), latest


class CalendarCache:
    """The calendar a long-running process uses, re-read when an admin loads a year's schedule
    (looked at no more than once a minute), so new reports count with it without a restart."""

    def __init__(
        self, config: LiankaConfig, calendar: WorkCalendar, *, every: float = 60.0
    ) -> None:
        self._config = config
        self._policy = Policy(config, calendar)
        self._every = every
        self._checked = float("-inf")
        self._stamp: tuple[int, datetime | None] | None = None

    @property
    def last(self) -> Policy:
        """The policy as last read, without asking the database."""
        return self._policy

    async def current(self, session: AsyncSession) -> WorkCalendar:
        """The calendar, refreshed if a schedule was loaded since it was last read."""
        return (await self.policy(session)).calendar

    async def policy(self, session: AsyncSession) -> Policy:
        """The config with the current calendar, rebuilt when the calendar is re-read."""
        if time.monotonic() - self._checked < self._every:
            return self._policy
        self._checked = time.monotonic()
        stamp = await calendar_stamp(session)
        if stamp != self._stamp:
            self._policy = Policy(self._config, await load_calendar(session, self._config))
        self._stamp = stamp
        return self._policy
