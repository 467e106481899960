"""Report periods in Asia/Shanghai calendar terms, and when the periodic reports are due."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from models.calendar import WorkCalendar
from reports.periods import (
    Period,
    PeriodKind,
    current_month,
    current_quarter,
    current_week,
    current_year,
    custom,
    due_periods,
    first_workday_of_month,
    last_half,
    last_month,
    last_quarter,
    last_week,
)

# Monday 4 January 2027, 00:30 in Shanghai (still Sunday 3 January in UTC)
JUST_AFTER_MIDNIGHT = datetime(2027, 1, 3, 16, 30, tzinfo=UTC)


def test_periods_are_calendar_terms_in_shanghai_not_utc() -> None:
    assert last_week(JUST_AFTER_MIDNIGHT) == Period(
        PeriodKind.WEEK, date(2026, 12, 28), date(2027, 1, 3)
    )
    assert last_month(JUST_AFTER_MIDNIGHT) == Period(
        PeriodKind.MONTH, date(2026, 12, 1), date(2026, 12, 31)
    )
    assert last_quarter(JUST_AFTER_MIDNIGHT) == Period(
        PeriodKind.QUARTER, date(2026, 10, 1), date(2026, 12, 31)
    )
    assert current_month(JUST_AFTER_MIDNIGHT) == Period(
        PeriodKind.MONTH, date(2027, 1, 1), date(2027, 1, 4)
    )
    december = last_month(JUST_AFTER_MIDNIGHT)
    assert december.start == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert december.end == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


def test_each_period_is_named_and_keyed() -> None:
    assert last_month(JUST_AFTER_MIDNIGHT).label == "2026年12月"
    assert last_month(JUST_AFTER_MIDNIGHT).key == "month-2026-12"
    assert last_quarter(JUST_AFTER_MIDNIGHT).label == "2026年第四季度"
    assert last_quarter(JUST_AFTER_MIDNIGHT).key == "quarter-2026-q4"
    assert last_week(JUST_AFTER_MIDNIGHT).label == "2026年第53周（12月28日—1月3日）"
    assert last_week(JUST_AFTER_MIDNIGHT).key == "week-2026-w53"
    assert custom(date(2026, 9, 1), date(2026, 9, 15)).key == "custom-20260901-20260915"
    assert current_month(JUST_AFTER_MIDNIGHT).key == "month-20270101-20270104"


def test_the_previous_period_is_the_same_stretch_before() -> None:
    march = Period(PeriodKind.MONTH, date(2026, 3, 1), date(2026, 3, 31))
    assert march.previous() == Period(PeriodKind.MONTH, date(2026, 2, 1), date(2026, 2, 28))
    assert last_quarter(JUST_AFTER_MIDNIGHT).previous() == Period(
        PeriodKind.QUARTER, date(2026, 7, 1), date(2026, 9, 30)
    )
    assert last_week(JUST_AFTER_MIDNIGHT).previous().first == date(2026, 12, 21)
    so_far = Period(PeriodKind.MONTH, date(2026, 3, 1), date(2026, 3, 30))
    assert so_far.previous() == Period(PeriodKind.MONTH, date(2026, 2, 1), date(2026, 2, 28))
    assert custom(date(2026, 9, 11), date(2026, 9, 20)).previous() == custom(
        date(2026, 9, 1), date(2026, 9, 10)
    )


def test_a_period_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        custom(date(2026, 9, 2), date(2026, 9, 1))


def test_the_monthly_report_waits_for_the_first_working_day() -> None:
    calendar = WorkCalendar()
    assert first_workday_of_month(calendar, date(2026, 10, 20)) == date(2026, 10, 8)  # 国庆
    assert first_workday_of_month(calendar, date(2026, 11, 20)) == date(2026, 11, 2)  # a Sunday 1st
    assert first_workday_of_month(calendar, date(2026, 2, 5)) == date(2026, 2, 2)
    at_nine = datetime(2026, 10, 8, 1, 0, tzinfo=UTC)
    assert due_periods(calendar, at_nine, weekly=True, monthly=True) == [last_month(at_nine)]
    assert due_periods(calendar, at_nine, weekly=True, monthly=False) == []
    monday = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # a Monday and November's first working day
    assert due_periods(calendar, monday, weekly=True, monthly=True) == [
        last_week(monday),
        last_month(monday),
    ]


def test_the_console_s_periods_so_far_run_to_today_and_compare_with_the_same_stretch() -> None:
    assert current_week(JUST_AFTER_MIDNIGHT) == Period(
        PeriodKind.WEEK, date(2027, 1, 4), date(2027, 1, 4)
    )
    assert current_quarter(JUST_AFTER_MIDNIGHT) == Period(
        PeriodKind.QUARTER, date(2027, 1, 1), date(2027, 1, 4)
    )
    so_far = current_year(JUST_AFTER_MIDNIGHT)
    assert so_far == Period(PeriodKind.YEAR, date(2027, 1, 1), date(2027, 1, 4))
    assert so_far.label == "2027年（2027年1月1日至2027年1月4日）"
    assert so_far.previous() == Period(PeriodKind.YEAR, date(2026, 1, 1), date(2026, 1, 4))
    whole = Period(PeriodKind.YEAR, date(2026, 1, 1), date(2026, 12, 31))
    assert (whole.label, whole.key) == ("2026年", "year-2026")
    assert whole.previous() == Period(PeriodKind.YEAR, date(2025, 1, 1), date(2025, 12, 31))


def test_a_half_year_is_named_keyed_and_compared_with_the_half_before() -> None:
    july = datetime(2026, 7, 1, 1, 0, tzinfo=UTC)
    first = last_half(july)
    assert first == Period(PeriodKind.HALF, date(2026, 1, 1), date(2026, 6, 30))
    assert (first.label, first.key) == ("2026年上半年", "half-2026-h1")
    assert first.previous() == Period(PeriodKind.HALF, date(2025, 7, 1), date(2025, 12, 31))
    assert first.previous().label == "2025年下半年"
    assert last_half(JUST_AFTER_MIDNIGHT).key == "half-2026-h2"


def test_quarter_and_half_year_reports_are_due_on_the_first_working_day_after_them() -> None:
    calendar = WorkCalendar()

    def due(day: date, **switches: bool) -> list[str]:
        moment = datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)
        every = {"weekly": True, "monthly": True, "quarterly": True, "half_yearly": True}
        return [p.key for p in due_periods(calendar, moment, **(every | switches))]

    assert due(date(2026, 10, 1)) == []  # 国庆
    assert due(date(2026, 10, 8)) == ["month-2026-09", "quarter-2026-q3"]
    assert due(date(2026, 7, 1)) == ["month-2026-06", "quarter-2026-q2", "half-2026-h1"]
    assert due(date(2026, 7, 2)) == []
    assert due(date(2026, 8, 3)) == ["week-2026-w31", "month-2026-07"]  # not a quarter's end
    assert due(date(2026, 1, 4)) == ["month-2025-12", "quarter-2025-q4", "half-2025-h2"]
    assert due(date(2026, 7, 1), quarterly=False, half_yearly=False) == ["month-2026-06"]
    assert due(date(2026, 7, 1), monthly=False) == ["quarter-2026-q2", "half-2026-h1"]
