"""Working days under the State Council's holiday schedule, and deadlines counted in them."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, UTC, date, datetime, time, timedelta
from functools import cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

import chinese_calendar
from lunar_python import Lunar, Solar

SHANGHAI = ZoneInfo("Asia/Shanghai")

_CHINESE_NAMES: dict[str, str] = {
    holiday.value: holiday.chinese for holiday in chinese_calendar.Holiday
} | {
    "Tomb-sweeping Day": "清明节",
    "Dragon Boat Festival": "端午节",
    "Mid-autumn Festival": "中秋节",
}
_FIXED_HOLIDAYS: dict[tuple[int, int], str] = {
    (1, 1): "元旦",
    (5, 1): "劳动节",
    (5, 2): "劳动节",
    (10, 1): "国庆节",
    (10, 2): "国庆节",
    (10, 3): "国庆节",
}
_MAKE_UP_SUFFIX = "调休上班"


@dataclass(frozen=True, slots=True)
class DayInfo:
    """Whether a day is worked, and the holiday or make-up day it belongs to."""

    is_workday: bool
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Deadline:
    """A due moment in UTC; provisional when a year it spans has no official schedule yet."""

    due_at: datetime
    provisional: bool


def _days_of(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=i) for i in range((date(year, 12, 31) - first).days + 1)]


@cache
def _package_knows(year: int) -> bool:
    """True when chinesecalendar has the State Council schedule for `year`."""
    if not MINYEAR <= year <= MAXYEAR:
        return False
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def _package_day(d: date) -> DayInfo:
    is_holiday, english = chinese_calendar.get_holiday_detail(d)
    if english is None:
        return DayInfo(is_workday=not is_holiday)
    name = _CHINESE_NAMES.get(str(english), str(english))
    if is_holiday:
        return DayInfo(is_workday=False, name=name)
    return DayInfo(is_workday=True, name=name + _MAKE_UP_SUFFIX)


@cache
def _package_year(year: int) -> tuple[DayInfo, ...] | None:
    """chinesecalendar's answer for every day of `year`, or None when it has no data for it."""
    if not _package_knows(year):
        return None
    return tuple(_package_day(d) for d in _days_of(year))


def _weekday_day(d: date) -> DayInfo:
    return DayInfo(is_workday=d.weekday() < 5)


def _solar(day: Solar) -> date:
    return date(day.getYear(), day.getMonth(), day.getDay())


def _lunar(year: int, month: int, day: int) -> date:
    """The Gregorian date of a day of lunar `year` (its ordinary month, not a leap month)."""
    return _solar(Lunar.fromYmd(year, month, day).getSolar())


def _lunar_holidays(year: int) -> list[tuple[date, str]]:
    """春节 (除夕, the last day of the 12th lunar month, to 初三), 清明节 (the day of the 清明
    solar term), 端午节 (5th of the 5th lunar month) and 中秋节 (15th of the 8th)."""
    new_year = _lunar(year, 1, 1)
    qingming = _solar(Solar.fromYmd(year, 4, 20).getLunar().getJieQiTable()["清明"])
    return [
        *((new_year + timedelta(days=i), "春节") for i in range(-1, 3)),
        (qingming, "清明节"),
        (_lunar(year, 5, 5), "端午节"),
        (_lunar(year, 8, 15), "中秋节"),
    ]


@cache
def statutory_holidays(year: int) -> Mapping[date, str]:
    """The days off that 《全国年节及纪念日放假办法》 (as revised in 2024) gives every year:
    元旦, 春节 (除夕 to 初三), 清明节, 劳动节 (1–2 May), 端午节, 中秋节, 国庆节 (1–3 Oct).

    A day two holidays fall on (中秋节 on 3 Oct 2028) is one day off named after both. No 调休
    (make-up working days): those the State Council's schedule decides each year; the 补假 of a
    holiday on a weekend is added by ``provisional_days_off``."""
    days: dict[date, str] = {}
    fixed = [(date(year, month, day), name) for (month, day), name in _FIXED_HOLIDAYS.items()]
    for day, name in sorted(fixed + _lunar_holidays(year), key=lambda holiday: holiday[0]):
        if day.year == year:
            days[day] = f"{days[day]}、{name}" if day in days else name
    return MappingProxyType(days)  # cached: read-only


@cache
def provisional_days_off(year: int) -> Mapping[date, str]:
    """The statutory holidays of ``year`` and, for each that falls on a Saturday or Sunday, the
    weekday off in its place (补假, Art. 6 of the same 办法): the first weekday after it that is
    not off already, named after the holiday. From 2017 to 2026 every such day was off in the
    published schedules too (2015 and 2016 moved three elsewhere)."""
    holidays = statutory_holidays(year)
    days = dict(holidays)
    for day, name in sorted(holidays.items()):
        if day.weekday() < 5:
            continue
        instead = day + timedelta(days=1)
        while instead.weekday() >= 5 or instead in days:
            instead += timedelta(days=1)
        days[instead] = name
    return MappingProxyType(days)


@cache
def _provisional_year(year: int) -> tuple[DayInfo, ...]:
    """Every day of a year without official data: Monday to Friday are worked, except the
    statutory holidays and their 补假; weekends are not."""
    holidays = provisional_days_off(year)
    return tuple(
        DayInfo(is_workday=d not in holidays and d.weekday() < 5, name=holidays.get(d))
        for d in _days_of(year)
    )


class WorkCalendar:
    """Working days: explicit `days` win over chinesecalendar, which wins over the
    provisional rule (the statutory holidays, for a year with no official schedule)."""

    def __init__(
        self,
        days: Mapping[date, DayInfo] | None = None,
        *,
        known_years: Iterable[int] = (),
        office_day_end: time = time(18, 0),
        tz: ZoneInfo = SHANGHAI,
    ) -> None:
        self._days: dict[date, DayInfo] = dict(days or {})
        self._known_years = frozenset(known_years)
        self.office_day_end = office_day_end
        self.tz = tz
        self._years: dict[int, tuple[DayInfo, ...]] = {}
        self._prefixes: dict[int, list[int]] = {}

    def _year(self, year: int) -> tuple[DayInfo, ...]:
        """Every day of `year`; a known year's unlisted days follow the plain weekday rule, a
        provisional year's the statutory holidays (`statutory_holidays`)."""
        infos = self._years.get(year)
        if infos is None:
            base = _package_year(year)
            if base is None and year not in self._known_years:
                base = _provisional_year(year)
            built: list[DayInfo] = []
            for i, d in enumerate(_days_of(year)):
                override = self._days.get(d)
                if override is not None:
                    built.append(override)
                elif base is not None:
                    built.append(base[i])
                else:
                    built.append(_weekday_day(d))
            infos = self._years[year] = tuple(built)
        return infos

    def _prefix(self, year: int) -> list[int]:
        """prefix[k] is the number of working days among the first k days of `year`."""
        prefix = self._prefixes.get(year)
        if prefix is None:
            prefix = [0]
            for info in self._year(year):
                prefix.append(prefix[-1] + info.is_workday)
            self._prefixes[year] = prefix
        return prefix

    def _info(self, d: date) -> DayInfo:
        return self._year(d.year)[d.timetuple().tm_yday - 1]

    def is_workday(self, d: date) -> bool:
        """True when people work on `d`, make-up weekend days (调休) included."""
        return self._info(d).is_workday

    def day_name(self, d: date) -> str | None:
        """The holiday `d` belongs to, or "<holiday>调休上班" for a make-up day; None otherwise."""
        return self._info(d).name

    def is_official(self, year: int) -> bool:
        """True when chinesecalendar knows `year` or its schedule was loaded (`known_years`)."""
        return year in self._known_years or _package_knows(year)

    def provisional_years(self, start: date, end: date) -> set[int]:
        """The years from `start` to `end`, both included, that have no official schedule."""
        low, high = sorted((start.year, end.year))
        return {year for year in range(low, high + 1) if not self.is_official(year)}

    def add_workdays(self, start: date, n: int) -> date:
        """The n-th working day strictly after `start`; `start` itself when n is 0."""
        if n < 0:
            raise ValueError(f"cannot count {n} working days: n must be 0 or more")
        if n == 0:
            return start
        year = start.year
        target = self._prefix(year)[start.timetuple().tm_yday] + n
        while True:
            prefix = self._prefix(year)
            if target <= prefix[-1]:
                return date(year, 1, 1) + timedelta(days=bisect_left(prefix, target) - 1)
            target -= prefix[-1]
            year += 1

    def workdays_between(self, start: date, end: date) -> int:
        """The number of working days d with start < d <= end; 0 when end is not after start."""
        if end <= start:
            return 0
        whole_years = sum(self._prefix(year)[-1] for year in range(start.year, end.year))
        return (
            whole_years
            + self._prefix(end.year)[end.timetuple().tm_yday]
            - self._prefix(start.year)[start.timetuple().tm_yday]
        )

    def deadline(self, start: datetime, n: int) -> Deadline:
        """Office close on the n-th working day after the event's local date, in UTC."""
        if start.utcoffset() is None:
            raise ValueError("the start of a deadline must be a timezone-aware datetime")
        local_date = start.astimezone(self.tz).date()
        due_date = self.add_workdays(local_date, n)
        due_at = datetime.combine(due_date, self.office_day_end, tzinfo=self.tz).astimezone(UTC)
        return Deadline(
            due_at=due_at,
            provisional=bool(self.provisional_years(local_date, due_date)),
        )

    def with_days(
        self, days: Mapping[date, DayInfo], known_years: Iterable[int] = ()
    ) -> WorkCalendar:
        """A new calendar whose `days` win over this one's, with `known_years` added."""
        return WorkCalendar(
            {**self._days, **days},
            known_years=self._known_years.union(known_years),
            office_day_end=self.office_day_end,
            tz=self.tz,
        )
