"""A running bot counts with a year's schedule as soon as an admin loads it, without a restart."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import select

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.calendar import CalendarCache, load_calendar
from models.schedule import CalendarDay, CalendarYear

# 2031 is not in chinesecalendar: Monday 6 October 2031 is a plain weekday in the provisional rule.
NATIONAL_DAY_2031 = date(2031, 10, 6)


async def test_a_loaded_year_is_used_once_the_cache_looks_again(
    sessions: SessionFactory, catalog: LiankaConfig
) -> None:
    async with sessions() as session:
        cache = CalendarCache(catalog, await load_calendar(session, catalog), every=0)
        before = await cache.current(session)
    assert before.is_workday(NATIONAL_DAY_2031)
    assert not before.is_official(2031)

    async with sessions() as session:
        session.add(CalendarYear(year=2031, source="国办发明电", loaded_at=datetime.now(UTC)))
        session.add(CalendarDay(day=NATIONAL_DAY_2031, is_workday=False, name="国庆节"))
        await session.commit()

    async with sessions() as session:
        after = await cache.current(session)
    assert not after.is_workday(NATIONAL_DAY_2031)
    assert after.is_official(2031)


async def test_the_cache_does_not_query_more_than_it_is_told_to(
    sessions: SessionFactory, catalog: LiankaConfig
) -> None:
    async with sessions() as session:
        calendar = await load_calendar(session, catalog)
        cache = CalendarCache(catalog, calendar, every=3600)
        first = await cache.current(session)
        session.add(CalendarYear(year=2031, source="x", loaded_at=datetime.now(UTC)))
        await session.commit()
        assert (await session.exec(select(CalendarYear))).all()
        assert await cache.current(session) is first  # within the hour: no second look
