from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.calendar import SHANGHAI, DayInfo, Deadline, WorkCalendar

CAL = WorkCalendar()


def _span(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


HOLIDAYS_2026: dict[date, str] = {
    **dict.fromkeys(_span(date(2026, 1, 1), date(2026, 1, 3)), "元旦"),
    **dict.fromkeys(_span(date(2026, 2, 15), date(2026, 2, 23)), "春节"),
    **dict.fromkeys(_span(date(2026, 4, 4), date(2026, 4, 6)), "清明节"),
    **dict.fromkeys(_span(date(2026, 5, 1), date(2026, 5, 5)), "劳动节"),
    **dict.fromkeys(_span(date(2026, 6, 19), date(2026, 6, 21)), "端午节"),
    **dict.fromkeys(_span(date(2026, 9, 25), date(2026, 9, 27)), "中秋节"),
    **dict.fromkeys(_span(date(2026, 10, 1), date(2026, 10, 7)), "国庆节"),
}
MAKE_UP_DAYS_2026: dict[date, str] = {
    date(2026, 1, 4): "元旦",
    date(2026, 2, 14): "春节",
    date(2026, 2, 28): "春节",
    date(2026, 5, 9): "劳动节",
    date(2026, 9, 20): "国庆节",
    date(2026, 10, 10): "国庆节",
}
ALL_2026 = _span(date(2026, 1, 1), date(2026, 12, 31))


def test_2026_schedule_has_33_holidays_and_6_make_up_days() -> None:
    assert len(HOLIDAYS_2026) == 33
    assert len(MAKE_UP_DAYS_2026) == 6
    assert all(d.weekday() >= 5 for d in MAKE_UP_DAYS_2026)


@pytest.mark.parametrize(("day", "name"), sorted(HOLIDAYS_2026.items()))
def test_2026_holiday_is_not_a_workday_and_is_named(day: date, name: str) -> None:
    assert not CAL.is_workday(day)
    assert CAL.day_name(day) == name


@pytest.mark.parametrize(("day", "holiday"), sorted(MAKE_UP_DAYS_2026.items()))
def test_2026_make_up_weekend_day_is_a_workday_named_after_its_holiday(
    day: date, holiday: str
) -> None:
    assert CAL.is_workday(day)
    assert CAL.day_name(day) == f"{holiday}调休上班"


def test_2026_days_outside_the_schedule_follow_the_weekday_rule_and_have_no_name() -> None:
    for day in ALL_2026:
        if day not in HOLIDAYS_2026 and day not in MAKE_UP_DAYS_2026:
            assert CAL.is_workday(day) == (day.weekday() < 5), day
            assert CAL.day_name(day) is None, day


def test_2026_agrees_with_chinesecalendar_is_workday_on_every_day() -> None:
    assert [CAL.is_workday(d) for d in ALL_2026] == [
        chinese_calendar.is_workday(d) for d in ALL_2026
    ]


def test_chinesecalendar_has_no_data_for_2027_so_2027_tests_use_the_provisional_rule() -> None:
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))


def test_national_day_week_is_skipped_and_make_up_saturday_counts() -> None:
    wednesday = date(2026, 9, 30)
    assert CAL.add_workdays(wednesday, 1) == date(2026, 10, 8)
    assert CAL.add_workdays(wednesday, 2) == date(2026, 10, 9)
    assert CAL.add_workdays(wednesday, 3) == date(2026, 10, 10)
    assert CAL.add_workdays(wednesday, 4) == date(2026, 10, 12)


def test_make_up_sunday_before_national_day_counts_and_mid_autumn_is_skipped() -> None:
    assert CAL.add_workdays(date(2026, 9, 18), 1) == date(2026, 9, 20)
    assert CAL.add_workdays(date(2026, 9, 24), 1) == date(2026, 9, 28)


def test_spring_festival_is_skipped_and_both_make_up_saturdays_count() -> None:
    friday = date(2026, 2, 13)
    assert CAL.add_workdays(friday, 1) == date(2026, 2, 14)
    assert CAL.add_workdays(friday, 2) == date(2026, 2, 24)
    assert CAL.add_workdays(friday, 6) == date(2026, 2, 28)
    assert CAL.add_workdays(friday, 7) == date(2026, 3, 2)


def test_workdays_between_counts_days_after_start_up_to_end() -> None:
    assert CAL.workdays_between(date(2026, 9, 30), date(2026, 10, 10)) == 3
    assert CAL.workdays_between(date(2026, 2, 13), date(2026, 2, 28)) == 6
    assert CAL.workdays_between(date(2026, 3, 2), date(2026, 3, 2)) == 0
    assert CAL.workdays_between(date(2026, 3, 6), date(2026, 3, 2)) == 0


def test_workdays_between_a_whole_year_matches_chinesecalendar() -> None:
    expected = sum(chinese_calendar.is_workday(d) for d in ALL_2026)
    assert CAL.workdays_between(date(2025, 12, 31), date(2026, 12, 31)) == expected


def test_zero_workdays_is_the_start_itself_even_on_a_holiday() -> None:
    assert CAL.add_workdays(date(2026, 10, 1), 0) == date(2026, 10, 1)


def test_counting_a_negative_number_of_workdays_is_refused() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        CAL.add_workdays(date(2026, 3, 2), -1)
    with pytest.raises(ValueError, match="0 or more"):
        CAL.deadline(datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI), -1)


def test_deadline_at_1800_shanghai_is_1000_utc() -> None:
    result = CAL.deadline(datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI), 1)
    assert result == Deadline(due_at=datetime(2026, 3, 3, 10, 0, tzinfo=UTC), provisional=False)
    assert result.due_at.utcoffset() == timedelta(0)
    assert result.due_at.astimezone(SHANGHAI).time() == time(18, 0)


def test_deadline_uses_the_configured_office_day_end() -> None:
    calendar = WorkCalendar(office_day_end=time(17, 30))
    result = calendar.deadline(datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI), 1)
    assert result.due_at == datetime(2026, 3, 3, 9, 30, tzinfo=UTC)


def test_friday_2330_shanghai_event_counts_from_that_friday_in_any_timezone() -> None:
    in_shanghai = datetime(2026, 3, 6, 23, 30, tzinfo=SHANGHAI)
    in_utc = in_shanghai.astimezone(UTC)
    monday_close = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    assert CAL.deadline(in_shanghai, 1).due_at == monday_close
    assert CAL.deadline(in_utc, 1).due_at == monday_close


def test_early_morning_event_counts_from_the_shanghai_date_not_the_utc_date() -> None:
    friday_0030_shanghai = datetime(2026, 3, 5, 16, 30, tzinfo=UTC)
    assert CAL.deadline(friday_0030_shanghai, 1).due_at == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)


def test_deadline_across_national_day_lands_on_the_make_up_saturday() -> None:
    result = CAL.deadline(datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI), 3)
    assert result == Deadline(due_at=datetime(2026, 10, 10, 10, 0, tzinfo=UTC), provisional=False)


def test_deadline_crossing_into_2027_is_provisional_and_does_not_raise() -> None:
    result = CAL.deadline(datetime(2026, 12, 28, 9, 0, tzinfo=SHANGHAI), 5)
    assert result == Deadline(due_at=datetime(2027, 1, 5, 10, 0, tzinfo=UTC), provisional=True)


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.deadline(datetime(2026, 3, 2, 9, 0), 1)


def test_official_years_are_the_package_years_and_the_known_years() -> None:
    assert CAL.is_official(2004)
    assert CAL.is_official(2026)
    assert not CAL.is_official(2003)
    assert not CAL.is_official(2027)
    assert WorkCalendar(known_years=[2027]).is_official(2027)


def test_provisional_years_lists_every_unofficial_year_in_the_range() -> None:
    assert CAL.provisional_years(date(2026, 12, 1), date(2028, 1, 1)) == {2027, 2028}
    assert CAL.provisional_years(date(2028, 1, 1), date(2026, 12, 1)) == {2027, 2028}
    assert CAL.provisional_years(date(2026, 1, 1), date(2026, 12, 31)) == set()
    loaded = WorkCalendar(known_years=[2027])
    assert loaded.provisional_years(date(2026, 12, 1), date(2028, 1, 1)) == {2028}


def test_a_provisional_year_works_monday_to_friday_and_rests_at_weekends() -> None:
    week = _span(date(2031, 3, 3), date(2031, 3, 9))
    assert [CAL.is_workday(d) for d in week] == [True] * 5 + [False] * 2
    assert CAL.day_name(date(2031, 10, 4)) is None
    assert CAL.day_name(date(2031, 5, 5)) is None


def test_provisional_national_day_addition_skips_the_holidays_and_the_weekend() -> None:
    assert CAL.add_workdays(date(2031, 9, 30), 1) == date(2031, 10, 6)
    result = CAL.deadline(datetime(2031, 9, 30, 9, 0, tzinfo=SHANGHAI), 1)
    assert result == Deadline(due_at=datetime(2031, 10, 6, 10, 0, tzinfo=UTC), provisional=True)


def test_override_on_a_provisional_saturday_names_it_without_changing_the_count() -> None:
    calendar = WorkCalendar({date(2031, 10, 4): DayInfo(False, "国庆节")})
    assert calendar.day_name(date(2031, 10, 4)) == "国庆节"
    assert calendar.add_workdays(date(2031, 9, 30), 1) == date(2031, 10, 6)


def test_override_wins_over_the_provisional_rule_and_changes_the_result() -> None:
    calendar = WorkCalendar(
        {
            date(2031, 10, 6): DayInfo(False, "国庆节"),
            date(2031, 10, 7): DayInfo(False, "国庆节"),
        }
    )
    assert not calendar.is_workday(date(2031, 10, 6))
    assert calendar.add_workdays(date(2031, 9, 30), 1) == date(2031, 10, 8)
    assert calendar.deadline(datetime(2031, 9, 30, 9, 0, tzinfo=SHANGHAI), 1).provisional


def test_override_make_up_day_wins_over_a_provisional_weekend() -> None:
    calendar = WorkCalendar({date(2031, 9, 28): DayInfo(True, "国庆节调休上班")})
    assert calendar.is_workday(date(2031, 9, 28))
    assert calendar.add_workdays(date(2031, 9, 26), 1) == date(2031, 9, 28)


def test_override_wins_over_chinesecalendar() -> None:
    calendar = WorkCalendar(
        {
            date(2026, 10, 8): DayInfo(False, "国庆节"),
            date(2026, 10, 10): DayInfo(False),
        }
    )
    assert calendar.add_workdays(date(2026, 9, 30), 1) == date(2026, 10, 9)
    assert calendar.add_workdays(date(2026, 9, 30), 2) == date(2026, 10, 12)
    assert calendar.day_name(date(2026, 10, 10)) is None
    assert calendar.is_official(2026)


SCHEDULE_2031 = {
    **dict.fromkeys(_span(date(2031, 10, 1), date(2031, 10, 7)), DayInfo(False, "国庆节")),
    date(2031, 9, 28): DayInfo(True, "国庆节调休上班"),
    date(2031, 10, 11): DayInfo(True, "国庆节调休上班"),
}


def test_loading_a_year_schedule_makes_its_deadlines_official() -> None:
    start = datetime(2031, 9, 30, 9, 0, tzinfo=SHANGHAI)
    before = CAL.deadline(start, 1)
    loaded = CAL.with_days(SCHEDULE_2031, known_years=[2031])
    after = loaded.deadline(start, 1)
    assert before == Deadline(due_at=datetime(2031, 10, 6, 10, 0, tzinfo=UTC), provisional=True)
    assert after == Deadline(due_at=datetime(2031, 10, 8, 10, 0, tzinfo=UTC), provisional=False)
    assert loaded.add_workdays(date(2031, 10, 9), 2) == date(2031, 10, 11)


def test_loaded_year_follows_only_its_schedule_and_the_weekday_rule() -> None:
    loaded = WorkCalendar(SCHEDULE_2031, known_years=[2031])
    assert loaded.is_workday(date(2031, 1, 1))
    assert loaded.day_name(date(2031, 1, 1)) is None
    assert not loaded.is_workday(date(2031, 1, 4))


def test_with_days_keeps_the_original_and_newer_days_win() -> None:
    first = WorkCalendar({date(2031, 10, 6): DayInfo(False, "国庆节")}, office_day_end=time(17, 0))
    second = first.with_days({date(2031, 10, 6): DayInfo(True, "国庆节调休上班")})
    assert not first.is_workday(date(2031, 10, 6))
    assert second.is_workday(date(2031, 10, 6))
    assert second.day_name(date(2031, 10, 6)) == "国庆节调休上班"
    assert not second.is_workday(date(2031, 10, 1))
    assert second.office_day_end == time(17, 0)
    assert not first.is_official(2031)
    assert first.with_days({}, known_years=[2031]).is_official(2031)


dates_2020_to_2030 = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))


@settings(deadline=None)  # no 200 ms limit per example: a busy machine exceeds it
@given(start=dates_2020_to_2030, n=st.integers(min_value=0, max_value=60))
def test_workdays_between_undoes_add_workdays(start: date, n: int) -> None:
    due = CAL.add_workdays(start, n)
    assert CAL.workdays_between(start, due) == n
    if n > 0:
        assert CAL.is_workday(due)
        assert CAL.workdays_between(start, due - timedelta(days=1)) == n - 1


@settings(deadline=None)  # no 200 ms limit per example: a busy machine exceeds it
@given(start=dates_2020_to_2030, length=st.integers(min_value=-5, max_value=120))
def test_workdays_between_matches_counting_day_by_day(start: date, length: int) -> None:
    end = start + timedelta(days=length)
    expected = sum(CAL.is_workday(start + timedelta(days=i)) for i in range(1, length + 1))
    assert CAL.workdays_between(start, end) == expected


def test_the_2027_schedule_file_changes_a_deadline_that_crossed_into_2027() -> None:
    from pathlib import Path

    from bot.services.schedule import read_schedule

    schedule = read_schedule(Path(__file__).parent / "data" / "calendar-2027.toml")
    start = datetime(2026, 12, 28, 10, 0, tzinfo=SHANGHAI)
    # provisionally 除夕 (5 Feb), 初三 (8 Feb) and the 补假 for the weekend's 初一 and 初二 (9–10
    # Feb) are the weekdays off; the loaded schedule rests 5–13 Feb and works Sunday 31 Jan
    assert CAL.deadline(start, 30) == Deadline(
        due_at=datetime(2027, 2, 15, 10, 0, tzinfo=UTC), provisional=True
    )
    loaded = CAL.with_days(schedule.days(), known_years=[schedule.year])
    assert loaded.deadline(start, 30) == Deadline(
        due_at=datetime(2027, 2, 16, 10, 0, tzinfo=UTC), provisional=False
    )
    assert loaded.day_name(date(2027, 1, 31)) == "春节调休上班"
