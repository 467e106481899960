"""The working-day calendar as configured: official data, loaded schedules, config overrides."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LiankaConfig
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
