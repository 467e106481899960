"""A year the State Council has not published yet is counted with the statutory holidays of
《全国年节及纪念日放假办法》 (2024): 元旦, 春节 (除夕 to 初三), 清明节, 劳动节 (two days),
端午节, 中秋节 and 国庆节 (three days), the lunar ones computed; its deadlines are 暂定."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import chinese_calendar
import pytest

from models.calendar import (
    _CHINESE_NAMES,
    SHANGHAI,
    Deadline,
    WorkCalendar,
    provisional_days_off,
    statutory_holidays,
)
from tests.test_cli import lianka

CAL = WorkCalendar()
DATA = Path(__file__).parent / "data"


def _days(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]


def _year(
    year: int, *, eve: date, qingming: date, dragon_boat: date, mid_autumn: date
) -> dict[date, str]:
    """The statutory days off of a year, written out from the lunar dates of that year."""
    return {
        date(year, 1, 1): "元旦",
        **dict.fromkeys(_days(eve, 4), "春节"),
        qingming: "清明节",
        date(year, 5, 1): "劳动节",
        date(year, 5, 2): "劳动节",
        dragon_boat: "端午节",
        mid_autumn: "中秋节",
        **dict.fromkeys(_days(date(year, 10, 1), 3), "国庆节"),
    }


def test_2029_has_its_spring_festival_on_13_february_and_new_years_eve_the_day_before() -> None:
    assert statutory_holidays(2029) == _year(
        2029,
        eve=date(2029, 2, 12),
        qingming=date(2029, 4, 4),
        dragon_boat=date(2029, 6, 16),
        mid_autumn=date(2029, 9, 22),
    )


def test_2030_has_its_spring_festival_on_3_february_and_new_years_eve_the_day_before() -> None:
    assert statutory_holidays(2030) == _year(
        2030,
        eve=date(2030, 2, 2),
        qingming=date(2030, 4, 5),
        dragon_boat=date(2030, 6, 5),
        mid_autumn=date(2030, 9, 12),
    )


def test_new_years_eve_is_the_29th_of_the_12th_month_when_that_month_is_short() -> None:
    # 2027's 12th lunar month has 29 days: 除夕 is 腊月廿九, 25 Jan 2028; 春节 is 26 Jan
    assert [d for d, name in statutory_holidays(2028).items() if name == "春节"] == _days(
        date(2028, 1, 25), 4
    )
    # 2032's has 30 (2033, the year of the "2033 problem", starts on 31 Jan)
    assert [d for d, name in statutory_holidays(2033).items() if name == "春节"] == _days(
        date(2033, 1, 30), 4
    )


def test_mid_autumn_on_national_day_2028_is_one_day_off_named_after_both() -> None:
    holidays = statutory_holidays(2028)
    assert holidays[date(2028, 10, 3)] == "国庆节、中秋节"
    assert len(holidays) == 12  # 1 + 4 + 1 + 2 + 1 + 3: the day is not counted twice
    assert not CAL.is_workday(date(2028, 10, 3))
    # Friday 29 Sep 2028: the weekend, 1–3 Oct and Wednesday 4 Oct (补假 for Sunday 1 Oct) are
    # skipped, Thursday 5 Oct is the next day
    assert CAL.add_workdays(date(2028, 9, 29), 1) == date(2028, 10, 5)


def test_the_rule_agrees_with_every_state_council_schedule_from_2008_to_2026() -> None:
    """Each day the rule gives off was a day off in the published schedules (chinesecalendar),
    under the same name where the schedule names it; 除夕 and 2 May only since 2025."""
    checked = 0
    for year in range(2008, 2027):
        eve = min(d for d, name in statutory_holidays(year).items() if name == "春节")
        for day, name in statutory_holidays(year).items():
            if year < 2025 and (day == eve or (day.month, day.day) == (5, 2)):
                continue
            assert not chinese_calendar.is_workday(day), (day, name)
            english = chinese_calendar.get_holiday_detail(day)[1]
            if english is not None:
                assert _CHINESE_NAMES[english] in name.split("、"), (day, name, english)
            checked += 1
    # 19 years of 13 days, less 除夕 and 2 May in 2008–2024 and the 中秋 on 国庆 of 2009 and 2020
    assert checked == 19 * 13 - 17 * 2 - 2


def test_a_provisional_year_has_no_make_up_working_days() -> None:
    days_2027 = _days(date(2027, 1, 1), 365)
    assert [d for d in days_2027 if CAL.is_workday(d) and d.weekday() >= 5] == []
    # 261 weekdays less 元旦, 除夕, 初三, 清明, 端午, 中秋 and 1 Oct, which fall on weekdays, and
    # the 补假 of the six that fall on a weekend (初一 and 初二, 1 and 2 May, 2 and 3 Oct)
    assert sum(CAL.is_workday(d) for d in days_2027) == 248


def test_a_holiday_on_a_weekend_gives_the_next_free_weekday_off_as_the_law_says() -> None:
    """补假 (Art. 6): in 2027 初一 and 初二 are a weekend, so are 1–2 May and 2–3 October."""
    days_off = provisional_days_off(2027)
    given = {day: name for day, name in days_off.items() if day not in statutory_holidays(2027)}
    assert given == {
        date(2027, 2, 9): "春节",
        date(2027, 2, 10): "春节",
        date(2027, 5, 3): "劳动节",
        date(2027, 5, 4): "劳动节",
        date(2027, 10, 4): "国庆节",
        date(2027, 10, 5): "国庆节",
    }
    assert all(not CAL.is_workday(day) and CAL.day_name(day) == name for day, name in given.items())


def test_the_weekday_off_for_a_weekend_holiday_was_off_in_the_schedules_since_2017() -> None:
    """What the rule adds agrees with what the State Council published (chinesecalendar)."""
    for year in range(2017, 2027):
        for day in set(provisional_days_off(year)) - set(statutory_holidays(year)):
            assert not chinese_calendar.is_workday(day), (year, day)


def test_a_deadline_across_the_provisional_spring_festival_skips_it_and_is_provisional() -> None:
    # Thursday 4 Feb 2027; 5 Feb (除夕), the weekend, 8 Feb (初三) and 9–10 Feb (补假 for the
    # weekend's 初一 and 初二) are not worked
    result = CAL.deadline(datetime(2027, 2, 4, 9, 0, tzinfo=SHANGHAI), 1)
    assert result == Deadline(due_at=datetime(2027, 2, 11, 10, 0, tzinfo=UTC), provisional=True)


def test_every_year_the_cli_accepts_is_computed_without_error() -> None:
    for year in (1900, 2003, 2100, 2200):
        assert len(statutory_holidays(year)) in (12, 13)


# ---- through the installed ``lianka`` command ----------------------------------------------


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    assert lianka("init", cwd=tmp_path).returncode == 0
    return tmp_path


def show(installed: Path, *args: str) -> dict[str, object]:
    result = lianka("calendar", "show", *args, "--json", cwd=installed)
    assert result.returncode == 0, result.stderr
    shown: dict[str, object] = json.loads(result.stdout)
    return shown


PROVISIONAL_DAYS_OFF = [
    ("2027-02-05", "春节"),  # 除夕
    ("2027-02-08", "春节"),  # 初三
    ("2027-04-05", "清明节"),
    ("2027-06-09", "端午节"),
    ("2027-09-15", "中秋节"),
    ("2028-01-25", "春节"),  # 除夕, 腊月廿九
    ("2028-01-26", "春节"),
    ("2028-01-27", "春节"),
    ("2028-01-28", "春节"),
    ("2028-05-01", "劳动节"),
    ("2028-05-02", "劳动节"),
]


@pytest.mark.slow
def test_calendar_show_says_each_statutory_day_of_2027_and_2028_is_off_and_provisional(
    installed: Path,
) -> None:
    for day, name in PROVISIONAL_DAYS_OFF:
        shown = show(installed, day)
        assert (shown["date"], shown["workday"], shown["name"]) == (day, False, name)
        assert (shown["provisional"], shown["official"]) == (True, False)
        assert "法定节假日" in str(shown["source"]) and "未含调休上班" in str(shown["source"])
        assert "国务院节假日安排载入后替换" in str(shown["source"])
    people = lianka("calendar", "show", "2028-10-03", cwd=installed).stdout
    assert "2028-10-03（周二）：法定节假日（国庆节、中秋节）" in people
    assert "暂定" in people


@pytest.mark.slow
def test_calendar_show_of_a_provisional_year_lists_the_computed_holidays(installed: Path) -> None:
    shown = show(installed, "2027")
    assert (shown["official"], shown["provisional"], shown["workdays"]) == (False, True, 248)
    days = shown["days"]
    assert isinstance(days, list)
    assert [d["date"] for d in days if d["name"] == "春节"] == [
        "2027-02-05",
        "2027-02-06",
        "2027-02-07",
        "2027-02-08",
        "2027-02-09",  # 补假: 初一 and 初二 are a weekend
        "2027-02-10",
    ]
    assert [d for d in days if d["workday"]] == []  # no 调休 in a provisional year
    official = show(installed, "2026-02-14")  # a make-up Saturday of the published 2026
    assert (official["workday"], official["name"], official["provisional"]) == (
        True,
        "春节调休上班",
        False,
    )


@pytest.mark.slow
def test_loading_2027_replaces_the_computed_days_with_the_schedule(installed: Path) -> None:
    loaded = lianka("calendar", "load", str(DATA / "calendar-2027.toml"), cwd=installed)
    assert loaded.returncode == 0, loaded.stderr
    eve = show(installed, "2027-02-05")
    assert (eve["workday"], eve["provisional"], eve["official"]) == (False, False, True)
    assert str(eve["source"]).startswith("已载入：测试样例")
    make_up = show(installed, "2027-01-31")  # a Sunday worked under the loaded schedule
    assert (make_up["workday"], make_up["name"]) == (True, "春节调休上班")
    still = show(installed, "2028-01-25")
    assert (still["workday"], still["provisional"]) == (False, True)


@pytest.mark.slow
def test_calendar_show_refuses_what_is_neither_a_year_nor_a_date(installed: Path) -> None:
    result = lianka("calendar", "show", "2027-13-01", cwd=installed)
    assert result.returncode == 2
    assert "请填写年份（如 2027）或日期（如 2027-02-05）" in result.stderr
