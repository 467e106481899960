"""``lianka calendar``: load a year's official schedule, count working days, show a year."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.cli.common import (
    CliContext,
    fail,
    json_option,
    pass_context,
    print_json,
    print_table,
    run_with_db,
)

if TYPE_CHECKING:
    from bot.db import SessionFactory
    from bot.services.schedule import DeadlineChange
    from models.calendar import WorkCalendar

WEEKDAYS = "一二三四五六日"


def _local(value: datetime) -> str:
    from models.calendar import SHANGHAI

    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


@click.group("calendar")
def calendar_group() -> None:
    """Working days: load a year's holiday schedule, count working days, show a year."""


@calendar_group.command("load")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@json_option
@pass_context
def calendar_load(cli: CliContext, path: Path, as_json: bool) -> None:
    """Load a year's schedule from PATH (TOML) and recount the open provisional deadlines."""
    from bot.services.schedule import ScheduleError, load_year_schedule, read_schedule

    try:
        schedule = read_schedule(path)
    except ScheduleError as error:
        fail(str(error), code=1)
    config = cli.config()

    async def load(sessions: SessionFactory) -> list[DeadlineChange]:
        from bot.clock import SystemClock

        async with sessions() as session:
            return await load_year_schedule(session, schedule, config, SystemClock().now())

    changes = run_with_db(cli.settings, load)
    days = schedule.days()
    if as_json:
        print_json(
            {
                "year": schedule.year,
                "source": schedule.source,
                "holidays": sum(not d.is_workday for d in days.values()),
                "make_up_workdays": sum(d.is_workday for d in days.values()),
                "deadlines": [
                    {
                        "case": c.case_number,
                        "clock": c.clock.value,
                        "old_due_at": c.old_due_at.isoformat(),
                        "new_due_at": c.new_due_at.isoformat(),
                        "provisional": c.provisional,
                    }
                    for c in changes
                ],
            }
        )
        return
    click.echo(
        f"已载入 {schedule.year} 年节假日安排：放假 {sum(not d.is_workday for d in days.values())} 天，"
        f"调休上班 {sum(d.is_workday for d in days.values())} 天（{schedule.source}）"
    )
    moved = [c for c in changes if c.moved]
    click.echo(
        f"重新计算期限 {len(changes)} 个：{len(moved)} 个期限有变化，"
        f"{sum(not c.provisional for c in changes)} 个不再是暂定。"
    )
    if changes:
        print_table(
            None,
            ["问题", "期限", "原期限", "新期限", "暂定"],
            [
                (
                    c.case_number,
                    c.clock.label,
                    _local(c.old_due_at),
                    _local(c.new_due_at),
                    "是" if c.provisional else "否",
                )
                for c in changes
            ],
        )


def _workday_result(calendar: WorkCalendar, start: date, n: int) -> dict[str, Any]:
    from models.types import utc

    due_day = calendar.add_workdays(start, n)
    due_at = datetime.combine(due_day, calendar.office_day_end, calendar.tz)
    return {
        "start": start.isoformat(),
        "workdays": n,
        "date": due_day.isoformat(),
        "weekday": f"周{WEEKDAYS[due_day.weekday()]}",
        "deadline": due_at.isoformat(),
        "deadline_utc": utc(due_at).isoformat(),
        "provisional": bool(calendar.provisional_years(start, due_day)),
        "skipped": [
            {"date": d.isoformat(), "name": calendar.day_name(d)}
            for d in (start + timedelta(days=i) for i in range(1, (due_day - start).days))
            if not calendar.is_workday(d)
        ],
    }


@calendar_group.command("add-workdays")
@click.argument("start", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.argument("n", type=click.IntRange(min=0, max=3650))
@json_option
@pass_context
def calendar_add_workdays(cli: CliContext, start: datetime, n: int, as_json: bool) -> None:
    """The N-th working day after START (the day of the event does not count)."""
    config = cli.config()

    async def compute(sessions: SessionFactory) -> dict[str, Any]:
        from bot.services.calendar import load_calendar

        async with sessions() as session:
            calendar = await load_calendar(session, config)
        return _workday_result(calendar, start.date(), n)

    result = run_with_db(cli.settings, compute)
    if as_json:
        print_json(result)
        return
    end = config.deadlines.office_day_end.strftime("%H:%M")
    click.echo(
        f"{result['start']} 之后第 {n} 个工作日：{result['date']}（{result['weekday']}），"
        f"期限 {end}" + ("（暂定：该年节假日安排尚未载入）" if result["provisional"] else "")
    )
    skipped = [s for s in result["skipped"] if s["name"]]
    if skipped:
        click.echo("跳过的节假日：" + "、".join(f"{s['date']} {s['name']}" for s in skipped))


def _when(value: str) -> int | date:
    """A year (2027) or a day (2027-02-05)."""
    try:
        if len(value) == 4 and value.isdigit():
            year = int(value)
        else:
            return date.fromisoformat(value)
    except ValueError:
        fail(f"请填写年份（如 2027）或日期（如 2027-02-05）：{value}", code=2)
    if not 1900 <= year <= 2200:
        fail(f"请填写1900年至2200年之间的年份：{value}", code=2)
    return year


def _day_result(calendar: WorkCalendar, day: date, source: str) -> dict[str, Any]:
    from bot.services.calendar import day_kind

    return {
        "date": day.isoformat(),
        "weekday": f"周{WEEKDAYS[day.weekday()]}",
        "workday": calendar.is_workday(day),
        "kind": day_kind(calendar, day).value,
        "name": calendar.day_name(day),
        "official": calendar.is_official(day.year),
        "provisional": not calendar.is_official(day.year),
        "source": source,
    }


def _year_result(calendar: WorkCalendar, year: int, source: str) -> dict[str, Any]:
    first = date(year, 1, 1)
    days = [first + timedelta(days=i) for i in range((date(year, 12, 31) - first).days + 1)]
    special = [
        d
        for d in days
        if calendar.day_name(d) is not None or calendar.is_workday(d) != (d.weekday() < 5)
    ]
    return {
        "year": year,
        "official": calendar.is_official(year),
        "provisional": not calendar.is_official(year),
        "source": source,
        "workdays": sum(calendar.is_workday(d) for d in days),
        "office_day_end": calendar.office_day_end.strftime("%H:%M"),
        "days": [
            {
                "date": d.isoformat(),
                "weekday": f"周{WEEKDAYS[d.weekday()]}",
                "workday": calendar.is_workday(d),
                "name": calendar.day_name(d),
            }
            for d in special
        ],
    }


@calendar_group.command("show")
@click.argument("when", metavar="YEAR|DATE")
@json_option
@pass_context
def calendar_show(cli: CliContext, when: str, as_json: bool) -> None:
    """The holidays and make-up working days of YEAR (2027), or whether DATE (2027-02-05) is a
    working day; and where the schedule comes from (暂定: computed by the statutory rule)."""
    config = cli.config()
    subject = _when(when)
    year = subject if isinstance(subject, int) else subject.year

    async def show(sessions: SessionFactory) -> dict[str, Any]:
        from bot.services.calendar import load_calendar, year_source

        async with sessions() as session:
            calendar = await load_calendar(session, config)
            source = await year_source(session, calendar, year)
        if isinstance(subject, int):
            return _year_result(calendar, subject, source)
        return _day_result(calendar, subject, source)

    result = run_with_db(cli.settings, show)
    if as_json:
        print_json(result)
    elif isinstance(subject, date):
        from bot.services.calendar import DayKind

        name = f"（{result['name']}）" if result["name"] else ""
        click.echo(
            f"{result['date']}（{result['weekday']}）：{DayKind(result['kind']).label}{name}。"
            f"{year} 年：{result['source']}。"
        )
    else:
        click.echo(f"{year} 年：{result['source']}；全年工作日 {result['workdays']} 天。")
        print_table(
            None,
            ["日期", "星期", "上班", "说明"],
            [
                (d["date"], d["weekday"], "上班" if d["workday"] else "休息", d["name"] or "")
                for d in result["days"]
            ],
        )
