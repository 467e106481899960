"""Report periods in Asia/Shanghai calendar terms: a week (Mon–Sun), a month, a quarter, a
half-year, a year, or custom. Dates shown to people are written the Chinese way without zero
padding: 2026年7月2日, 7月2日."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from models.calendar import SHANGHAI, WorkCalendar


class PeriodKind(enum.StrEnum):
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    HALF = "half"  # 上半年 (January–June) or 下半年 (July–December)
    YEAR = "year"
    CUSTOM = "custom"


MONTHS = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.HALF: 6, PeriodKind.YEAR: 12}


def cn_date(day: date, *, year: bool = True) -> str:
    """``2026年7月2日`` (or ``7月2日``): no zero padding in a date people read."""
    text = f"{day.month}月{day.day}日"
    return f"{day.year}年{text}" if year else text


@dataclass(frozen=True, slots=True)
class Period:
    """The local days ``first`` to ``last``, both included."""

    kind: PeriodKind
    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"a period cannot end ({self.last}) before it starts ({self.first})")

    @property
    def start(self) -> datetime:
        """00:00 of the first day in Shanghai, as UTC."""
        return datetime.combine(self.first, time(0), SHANGHAI).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """00:00 of the day after the last, in Shanghai, as UTC (exclusive)."""
        return datetime.combine(self.last + timedelta(days=1), time(0), SHANGHAI).astimezone(UTC)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def key(self) -> str:
        """A stable name for files and idempotency keys, e.g. ``month-2026-11``."""
        if self.kind is PeriodKind.MONTH and self.is_whole_month:
            return f"month-{self.first:%Y-%m}"
        if self.kind is PeriodKind.QUARTER and self.is_whole_quarter:
            return f"quarter-{self.first.year}-q{(self.first.month - 1) // 3 + 1}"
        if self.kind is PeriodKind.HALF and self.is_whole_half:
            return f"half-{self.first.year}-h{(self.first.month - 1) // 6 + 1}"
        if self.kind is PeriodKind.YEAR and self.is_whole_year:
            return f"year-{self.first.year}"
        if self.kind is PeriodKind.WEEK and self.days == 7:
            iso = self.first.isocalendar()
            return f"week-{iso.year}-w{iso.week:02d}"
        return f"{self.kind.value}-{self.first:%Y%m%d}-{self.last:%Y%m%d}"

    def _is_whole(self, months: int) -> bool:
        """Whole calendar months from a month that starts a unit of ``months``."""
        return (
            self.first.day == 1
            and (self.first.month - 1) % months == 0
            and self.last == _month_end(_add_months(self.first, months - 1))
        )

    @property
    def is_whole_month(self) -> bool:
        return self._is_whole(1)

    @property
    def is_whole_quarter(self) -> bool:
        return self._is_whole(3)

    @property
    def is_whole_half(self) -> bool:
        return self._is_whole(6)

    @property
    def is_whole_year(self) -> bool:
        return (self.first.month, self.first.day) == (1, 1) and self.last == date(
            self.first.year, 12, 31
        )

    @property
    def label(self) -> str:
        """How the report names it: 2026年11月, 2026年第四季度, 2026年第48周 (11月23日—11月29日)."""
        span = f"{cn_date(self.first)}至{cn_date(self.last)}"
        if self.kind is PeriodKind.MONTH:
            title = f"{self.first.year}年{self.first.month}月"
            return title if self.is_whole_month else f"{title}（{span}）"
        if self.kind is PeriodKind.QUARTER:
            quarter = "一二三四"[(self.first.month - 1) // 3]
            title = f"{self.first.year}年第{quarter}季度"
            return title if self.is_whole_quarter else f"{title}（{span}）"
        if self.kind is PeriodKind.HALF:
            title = f"{self.first.year}年{'上' if self.first.month <= 6 else '下'}半年"
            return title if self.is_whole_half else f"{title}（{span}）"
        if self.kind is PeriodKind.YEAR:
            title = f"{self.first.year}年"
            return title if self.is_whole_year else f"{title}（{span}）"
        if self.kind is PeriodKind.WEEK:
            iso = self.first.isocalendar()
            first, last = cn_date(self.first, year=False), cn_date(self.last, year=False)
            return f"{iso.year}年第{iso.week}周（{first}—{last}）"
        return span

    @property
    def span(self) -> str:
        return f"{cn_date(self.first)}—{cn_date(self.last)}"

    def previous(self) -> Period:
        """The period before, for the period-on-period change (环比): the same stretch of the
        previous week, month, quarter or year; a custom period's equally long stretch before it."""
        if self.kind is PeriodKind.WEEK:
            return Period(self.kind, self.first - timedelta(days=7), self.last - timedelta(days=7))
        if self.kind in (PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.HALF):
            months = MONTHS[self.kind]
            first = _add_months(self.first, -months)
            if self._is_whole(months):
                return Period(self.kind, first, _month_end(_add_months(first, months - 1)))
            last = min(first + timedelta(days=self.days - 1), self.first - timedelta(days=1))
            return Period(self.kind, first, last)
        if self.kind is PeriodKind.YEAR:
            first = self.first.replace(year=self.first.year - 1)
            if self.is_whole_year:
                return Period(self.kind, first, date(first.year, 12, 31))
            last = min(first + timedelta(days=self.days - 1), self.first - timedelta(days=1))
            return Period(self.kind, first, last)
        return Period(
            self.kind, self.first - timedelta(days=self.days), self.first - timedelta(days=1)
        )


def _month_end(d: date) -> date:
    return _add_months(d.replace(day=1), 1) - timedelta(days=1)


def _add_months(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def local_today(now: datetime) -> date:
    return now.astimezone(SHANGHAI).date()


def last_week(now: datetime) -> Period:
    """The last complete week, Monday to Sunday."""
    today = local_today(now)
    monday = today - timedelta(days=today.weekday() + 7)
    return Period(PeriodKind.WEEK, monday, monday + timedelta(days=6))


def last_month(now: datetime) -> Period:
    """The last complete calendar month."""
    first = _add_months(local_today(now).replace(day=1), -1)
    return Period(PeriodKind.MONTH, first, _month_end(first))


def current_month(now: datetime) -> Period:
    """This month up to and including today (the on-demand report)."""
    today = local_today(now)
    return Period(PeriodKind.MONTH, today.replace(day=1), today)


def current_week(now: datetime) -> Period:
    """This week from Monday up to and including today."""
    today = local_today(now)
    return Period(PeriodKind.WEEK, today - timedelta(days=today.weekday()), today)


def current_quarter(now: datetime) -> Period:
    """This quarter up to and including today."""
    today = local_today(now)
    return Period(PeriodKind.QUARTER, date(today.year, (today.month - 1) // 3 * 3 + 1, 1), today)


def current_year(now: datetime) -> Period:
    """This year from 1 January up to and including today."""
    today = local_today(now)
    return Period(PeriodKind.YEAR, date(today.year, 1, 1), today)


def last_quarter(now: datetime) -> Period:
    """The last complete calendar quarter."""
    today = local_today(now)
    this_quarter = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    first = _add_months(this_quarter, -3)
    return Period(PeriodKind.QUARTER, first, _month_end(_add_months(first, 2)))


def last_half(now: datetime) -> Period:
    """The last complete half-year: 上半年 (January–June) or 下半年 (July–December)."""
    today = local_today(now)
    this_half = date(today.year, 1 if today.month <= 6 else 7, 1)
    first = _add_months(this_half, -6)
    return Period(PeriodKind.HALF, first, _month_end(_add_months(first, 5)))


def current_half(now: datetime) -> Period:
    """This half-year up to and including today."""
    today = local_today(now)
    return Period(PeriodKind.HALF, date(today.year, 1 if today.month <= 6 else 7, 1), today)


def custom(first: date, last: date) -> Period:
    return Period(PeriodKind.CUSTOM, first, last)


def first_workday_of_month(calendar: WorkCalendar, d: date) -> date:
    """The first working day of ``d``'s month (after 元旦 or 国庆, a week or more in)."""
    day = d.replace(day=1)
    while not calendar.is_workday(day):
        day += timedelta(days=1)
    return day


def due_periods(
    calendar: WorkCalendar,
    now: datetime,
    *,
    weekly: bool,
    monthly: bool,
    quarterly: bool = False,
    half_yearly: bool = False,
) -> list[Period]:
    """The periodic reports due at ``now``'s local date: last week's on a Monday; on the first
    working day of a month, last month's, and after a quarter (January, April, July, October)
    last quarter's, and after a half-year (January, July) last half-year's."""
    today = local_today(now)
    due = []
    if weekly and today.weekday() == 0:
        due.append(last_week(now))
    if first_workday_of_month(calendar, today) != today:
        return due
    if monthly:
        due.append(last_month(now))
    if quarterly and today.month % 3 == 1:
        due.append(last_quarter(now))
    if half_yearly and today.month % 6 == 1:
        due.append(last_half(now))
    return due
