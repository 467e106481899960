"""The working-day calendar as configured: official data, loaded schedules, config overrides."""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LiankaConfig
from bot.services.policy import Policy
from models.calendar import DayInfo, WorkCalendar
from models.errors import InvalidInput, PermissionDenied
from models.schedule import CalendarDay, CalendarYear
from models.team import Inspector, Role

EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
PROVISIONAL_SOURCE = (
    "暂定：按法定节假日（元旦、春节、清明节、劳动节、端午节、中秋节、国庆节）推算，"
    "节日逢周末的在其后工作日补假，未含调休上班；国务院节假日安排载入后替换"
)
PACKAGE_SOURCE = "chinesecalendar 官方数据"


async def load_calendar(
    session: AsyncSession,
    config: LiankaConfig,
    *,
    with_year: tuple[int, Mapping[date, DayInfo]] | None = None,
) -> WorkCalendar:
    """Schedules loaded into the database, then the config's overrides on top (they win);
    ``with_year`` counts one year with the given schedule in place of what is stored (what
    loading it would change)."""
    days = {
        row.day: DayInfo(row.is_workday, row.name)
        for row in (await session.exec(select(CalendarDay))).all()
    }
    known_years = [row.year for row in (await session.exec(select(CalendarYear))).all()]
    if with_year is not None:
        year, replacement = with_year
        days = {day: info for day, info in days.items() if day.year != year} | dict(replacement)
        known_years.append(year)
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


async def year_source(session: AsyncSession, calendar: WorkCalendar, year: int) -> str:
    """Where a year's working days come from: a loaded schedule, the package's official data,
    or the provisional rule."""
    loaded = await session.get(CalendarYear, year)
    if loaded is not None:
        return f"已载入：{loaded.source}"
    if calendar.is_official(year):
        return PACKAGE_SOURCE
    return PROVISIONAL_SOURCE


class DayKind(enum.StrEnum):
    WORKDAY = "workday"  # 工作日
    REST = "rest"  # 休息日
    HOLIDAY = "holiday"  # 法定节假日
    MAKE_UP = "makeup"  # 调休上班

    @property
    def label(self) -> str:
        return {
            DayKind.WORKDAY: "工作日",
            DayKind.REST: "休息日",
            DayKind.HOLIDAY: "法定节假日",
            DayKind.MAKE_UP: "调休上班",
        }[self]


@dataclass(frozen=True, slots=True)
class CalendarCell:
    day: date
    kind: DayKind
    name: str | None


@dataclass(frozen=True, slots=True)
class MonthGrid:
    """A month as weeks from Monday to Sunday; None pads the first and last week."""

    month: int
    weeks: list[list[CalendarCell | None]]


@dataclass(frozen=True, slots=True)
class DaySpan:
    """Consecutive days off of one holiday, or one holiday's make-up working day(s)."""

    kind: DayKind
    name: str
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


@dataclass(frozen=True, slots=True)
class YearCalendar:
    year: int
    official: bool
    source: str
    workdays: int
    months: list[MonthGrid]
    spans: list[DaySpan]  # the holidays and make-up working days, in order
    may_load: bool  # the reader is an admin, who may load a year's schedule


def day_kind(calendar: WorkCalendar, day: date) -> DayKind:
    """A working weekend day is 调休上班; a named day off is a holiday."""
    if calendar.is_workday(day):
        return DayKind.MAKE_UP if day.weekday() >= 5 else DayKind.WORKDAY
    return DayKind.HOLIDAY if calendar.day_name(day) else DayKind.REST


def _month(calendar: WorkCalendar, year: int, month: int) -> MonthGrid:
    first = date(year, month, 1)
    weeks: list[list[CalendarCell | None]] = [[None] * first.weekday()]
    day = first
    while day.month == month:
        if len(weeks[-1]) == 7:
            weeks.append([])
        weeks[-1].append(CalendarCell(day, day_kind(calendar, day), calendar.day_name(day)))
        day += timedelta(days=1)
    weeks[-1] += [None] * (7 - len(weeks[-1]))
    return MonthGrid(month, weeks)


async def get_year_calendar(
    session: AsyncSession, actor: Inspector, config: LiankaConfig, year: int
) -> YearCalendar:
    """A year's working days, holidays and make-up days, and whether its official schedule is
    loaded or the year is provisional; any active staff member may read it."""
    if not actor.active:
        raise PermissionDenied(detail=f"calendar refused: inspector {actor.id} inactive")
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise InvalidInput(f"请填写{EARLIEST_YEAR}年至{LATEST_YEAR}年之间的年份。")
    calendar = await load_calendar(session, config)
    months = [_month(calendar, year, month) for month in range(1, 13)]
    cells = [cell for grid in months for week in grid.weeks for cell in week if cell is not None]
    return YearCalendar(
        year=year,
        official=calendar.is_official(year),
        source=await year_source(session, calendar, year),
        workdays=sum(calendar.is_workday(cell.day) for cell in cells),
        months=months,
        spans=_spans(cells),
        may_load=actor.role is Role.ADMIN,
    )


def _spans(cells: list[CalendarCell]) -> list[DaySpan]:
    spans: list[DaySpan] = []
    for cell in cells:
        if cell.kind not in (DayKind.HOLIDAY, DayKind.MAKE_UP) or not cell.name:
            continue
        last = spans[-1] if spans else None
        if (
            last is not None
            and (last.kind, last.name) == (cell.kind, cell.name)
            and last.last + timedelta(days=1) == cell.day
        ):
            spans[-1] = DaySpan(cell.kind, cell.name, last.first, cell.day)
        else:
            spans.append(DaySpan(cell.kind, cell.name, cell.day, cell.day))
    return spans
