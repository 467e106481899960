"""Loading a year's official holiday schedule (国务院办公厅节假日安排) and recomputing the open
deadlines that were provisional for want of it.

The file (TOML) names the year, where the schedule comes from, and each holiday with its days
off and its make-up working days (调休上班)::

    year = 2027
    source = "国务院办公厅关于2027年部分节假日安排的通知"

    [[holidays]]
    name = "国庆节"
    start = 2027-10-01
    end = 2027-10-07
    workdays = [2027-09-26, 2027-10-09]
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LiankaConfig
from bot.services.calendar import load_calendar
from bot.services.inspectors import require_admin
from models.calendar import SHANGHAI, DayInfo, WorkCalendar
from models.case import Case
from models.clock import (
    CaseClock,
    ClockKind,
    ClockStage,
    ClockState,
    followup_ask_time,
    warning_time,
)
from models.disposition import ClueDisposition, ProposalStatus
from models.errors import InvalidInput
from models.event import SYSTEM, EventKind, record_event
from models.rectification import Rectification, RectificationState
from models.schedule import CalendarDay, CalendarYear
from models.team import Inspector
from models.types import utc

MAKE_UP_SUFFIX = "调休上班"


class HolidayEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=30)
    start: date
    end: date
    workdays: tuple[date, ...] = ()

    @model_validator(mode="after")
    def _ordered(self) -> HolidayEntry:
        if self.end < self.start:
            raise ValueError(
                f"{self.name}：结束日期 {self.end} 早于开始日期 {self.start}"
                f" (end {self.end} is before start {self.start})"
            )
        return self


class YearSchedule(BaseModel):
    """One year's holidays and make-up working days, as the State Council publishes them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    year: int = Field(ge=2004, le=2200)
    source: str = Field(min_length=1, max_length=200)
    holidays: tuple[HolidayEntry, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> YearSchedule:
        seen: dict[date, str] = {}
        for day, info in self._entries():
            if day.year != self.year:
                raise ValueError(f"{day} 不在 {self.year} 年内 ({day} is not in {self.year})")
            if day in seen:
                raise ValueError(
                    f"{day} 重复出现（{seen[day]}、{info.name}） ({day} is listed twice)"
                )
            if info.is_workday and day.weekday() < 5:
                raise ValueError(
                    f"调休上班日 {day} 不是周末 (make-up working day {day} is not a weekend day)"
                )
            seen[day] = info.name or ""
        return self

    def _entries(self) -> list[tuple[date, DayInfo]]:
        entries: list[tuple[date, DayInfo]] = []
        for holiday in self.holidays:
            day = holiday.start
            while day <= holiday.end:
                entries.append((day, DayInfo(False, holiday.name)))
                day += timedelta(days=1)
            entries += [(d, DayInfo(True, holiday.name + MAKE_UP_SUFFIX)) for d in holiday.workdays]
        return entries

    def days(self) -> dict[date, DayInfo]:
        """Every holiday day off and make-up working day of the year."""
        return dict(self._entries())


class ScheduleError(Exception):
    """The schedule file cannot be used; the message says why."""


def read_schedule(path: Path) -> YearSchedule:
    """Parse and check a schedule file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return YearSchedule.model_validate(raw)
    except FileNotFoundError:
        raise ScheduleError(f"找不到文件 {path} (file not found)") from None
    except tomllib.TOMLDecodeError as error:
        raise ScheduleError(f"{path}: 文件格式错误 (TOML syntax error): {error}") from None
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}"
            for e in error.errors(include_url=False)
        )
        raise ScheduleError(f"{path}: {problems}") from None


SCHEDULE_MAX_BYTES = 64 * 1024
_FIELDS = {
    "year": "年份 year",
    "source": "来源 source",
    "holidays": "假日 holidays",
    "name": "名称 name",
    "start": "开始日期 start",
    "end": "结束日期 end",
    "workdays": "调休上班日 workdays",
}
_ERRORS = {
    "missing": "缺少此项",
    "extra_forbidden": "不是安排文件中的项",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "string_type": "应为文字",
    "string_too_short": "不能为空",
    "string_too_long": "过长",
    "too_short": "至少需要一项",
    "greater_than_equal": "超出范围",
    "less_than_equal": "超出范围",
    "tuple_type": "应为日期列表",
    "model_type": "格式不正确",
}


def _where(loc: tuple[int | str, ...]) -> str:
    parts = [_FIELDS.get(p, p) if isinstance(p, str) else f"第{p + 1}项" for p in loc]
    return " ".join(parts) or "文件"


def _reason(error: Mapping[str, Any]) -> str:
    kind = str(error["type"])
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind.startswith("date"):
        return "不是有效的日期（应写作 2027-10-01）"
    return _ERRORS.get(kind, str(error["msg"]))


def parse_schedule(data: bytes) -> YearSchedule:
    """An uploaded schedule file, checked; what is wrong is said in Chinese."""
    if not data.strip():
        raise ScheduleError("请选择年度安排文件（所选文件为空）。")
    if len(data) > SCHEDULE_MAX_BYTES:
        raise ScheduleError("文件过大：年度安排文件不超过64KB，请检查是否选错了文件。")
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ScheduleError("文件不是 UTF-8 编码的文本，请上传 TOML 格式的年度安排文件。") from None
    except tomllib.TOMLDecodeError as error:
        at = re.search(r"line (\d+), column (\d+)", str(error))
        where = f"第{at.group(1)}行第{at.group(2)}列附近" if at else ""
        raise ScheduleError(f"文件格式错误（不是有效的 TOML）：{where}无法读取。") from None
    try:
        return YearSchedule.model_validate(raw)
    except ValidationError as error:
        raise ScheduleError(
            "；".join(f"{_where(e['loc'])}：{_reason(e)}" for e in error.errors(include_url=False))
            + "。"
        ) from None


@dataclass(frozen=True, slots=True)
class DeadlineChange:
    """An open deadline counted again with the loaded schedule."""

    case_number: str
    clock: ClockKind
    old_due_at: datetime
    new_due_at: datetime
    provisional: bool

    @property
    def moved(self) -> bool:
        return self.old_due_at != self.new_due_at


def _recount(clock: CaseClock, old: WorkCalendar, new: WorkCalendar) -> tuple[datetime, bool]:
    """The same number of working days from the same start, counted with the new calendar
    (so extensions and pauses already folded into the deadline are kept)."""
    start_day = clock.started_at.astimezone(old.tz).date()
    old_due_day = clock.due_at.astimezone(old.tz).date()
    workdays = old.workdays_between(start_day, old_due_day)
    new_due_day = new.add_workdays(start_day, workdays) if workdays else old_due_day
    due_at = utc(datetime.combine(new_due_day, new.office_day_end, new.tz))
    return due_at, bool(new.provisional_years(start_day, new_due_day))


async def _clocks_to_recount(
    session: AsyncSession, replaced: int | None = None
) -> list[tuple[CaseClock, Case]]:
    """The open deadlines counted without an official schedule for a year they span; and, when
    the schedule of year ``replaced`` is loaded again (a corrected file), every open deadline
    whose span touches that year, since the first load counted them with the wrong days."""
    counted: ColumnElement[bool] = col(CaseClock.provisional).is_(True)
    if replaced is not None:
        first = utc(datetime(replaced, 1, 1, tzinfo=SHANGHAI))
        after = utc(datetime(replaced + 1, 1, 1, tzinfo=SHANGHAI))
        counted = or_(
            counted, and_(col(CaseClock.started_at) < after, col(CaseClock.due_at) >= first)
        )
    rows = (
        await session.exec(
            select(CaseClock, Case)
            .join(Case, col(Case.id) == CaseClock.case_id)
            .where(counted, col(CaseClock.state).in_([ClockState.RUNNING, ClockState.PAUSED]))
            .order_by(col(Case.number), col(CaseClock.kind))
        )
    ).all()
    return [(clock, case) for clock, case in rows]


def _change(clock: CaseClock, case: Case, old: WorkCalendar, new: WorkCalendar) -> DeadlineChange:
    due_at, provisional = _recount(clock, old, new)
    return DeadlineChange(case.number, clock.kind, clock.due_at, due_at, provisional)


@dataclass(frozen=True, slots=True)
class ScheduleCheck:
    """A schedule file checked or loaded: the year, its days and the deadlines recounted."""

    schedule: YearSchedule
    changes: list[DeadlineChange]
    replacing: str | None = None  # the source of the schedule loaded before for that year

    @property
    def holidays(self) -> int:
        return sum(not info.is_workday for info in self.schedule.days().values())

    @property
    def make_up_workdays(self) -> int:
        return sum(info.is_workday for info in self.schedule.days().values())

    @property
    def moved(self) -> list[DeadlineChange]:
        return [change for change in self.changes if change.moved]


def _uploaded(data: bytes) -> YearSchedule:
    try:
        return parse_schedule(data)
    except ScheduleError as error:
        raise InvalidInput(str(error)) from None


async def check_schedule_file(
    session: AsyncSession, actor: Inspector, data: bytes, *, config: LiankaConfig
) -> ScheduleCheck:
    """检查 before 载入 (admins only): the file's problems in Chinese, or the open provisional
    deadlines it would recount and where each would move, counted as loading it counts them;
    nothing is written."""
    require_admin(actor)
    schedule = _uploaded(data)
    old = await load_calendar(session, config)
    new = await load_calendar(session, config, with_year=(schedule.year, schedule.days()))
    loaded = await session.get(CalendarYear, schedule.year)
    recount = await _clocks_to_recount(
        session, schedule.year if old.is_official(schedule.year) else None
    )
    changes = [_change(clock, case, old, new) for clock, case in recount]
    changes = [
        c for c, (clock, _) in zip(changes, recount, strict=True) if c.moved or clock.provisional
    ]
    return ScheduleCheck(schedule, changes, replacing=loaded.source if loaded else None)


async def load_schedule_file(
    session: AsyncSession,
    actor: Inspector,
    data: bytes,
    *,
    config: LiankaConfig,
    now: datetime,
) -> ScheduleCheck:
    """确认载入 (admins only): what ``lianka calendar load`` does with the file."""
    require_admin(actor)
    schedule = _uploaded(data)
    return ScheduleCheck(schedule, await load_year_schedule(session, schedule, config, now))


async def load_year_schedule(
    session: AsyncSession, schedule: YearSchedule, config: LiankaConfig, now: datetime
) -> list[DeadlineChange]:
    """Keep a year's official schedule (replacing one loaded before) and recount every open
    provisional deadline with it (replacing: every open deadline across that year too); a
    deadline that moved later warns afresh, and the rows that show it follow (``_follow``)."""
    old = await load_calendar(session, config)
    # a year already counted officially (loaded before, or known to chinesecalendar) is
    # corrected: every open deadline across it is counted again, not only provisional ones
    replaced = schedule.year if old.is_official(schedule.year) else None
    year_start, year_end = date(schedule.year, 1, 1), date(schedule.year, 12, 31)
    await session.exec(
        delete(CalendarDay).where(
            col(CalendarDay.day) >= year_start, col(CalendarDay.day) <= year_end
        )
    )
    existing = await session.get(CalendarYear, schedule.year)
    if existing is None:
        existing = CalendarYear(year=schedule.year, source=schedule.source, loaded_at=now)
    existing.source, existing.loaded_at = schedule.source, utc(now)
    session.add(existing)
    session.add_all(
        CalendarDay(day=day, is_workday=info.is_workday, name=info.name)
        for day, info in sorted(schedule.days().items())
    )
    await session.flush()
    new = await load_calendar(session, config)
    changes = []
    for clock, case in await _clocks_to_recount(session, replaced):
        change = _change(clock, case, old, new)
        if change.moved or clock.provisional:  # an official deadline that stays is not listed
            changes.append(change)
        clock.provisional = change.provisional
        if change.moved:
            clock.due_at = change.new_due_at
            _reschedule(clock, new, config, now)
            session.add(
                record_event(
                    case,
                    EventKind.DEADLINE_CHANGED,
                    SYSTEM,
                    now,
                    data={
                        "clock": clock.kind.value,
                        "from": change.old_due_at.isoformat(),
                        "to": change.new_due_at.isoformat(),
                        "reason": f"calendar {schedule.year}",
                    },
                )
            )
            session.add(case)
        await _follow(session, clock, case)
        session.add(clock)
    await session.commit()
    return changes


async def _follow(session: AsyncSession, clock: CaseClock, case: Case) -> None:
    """The rows that show a deadline of their own keep their clock's: the case's 督办期限 (a
    督办回复 is judged late by it), a clue's 处置 in force (线索审批 shows it), an open 整改."""
    if clock.kind is ClockKind.SUPERVISION and case.supervision_due_at is not None:
        case.supervision_due_at = clock.due_at
        session.add(case)
    elif clock.kind is ClockKind.DISPOSITION:
        in_force = (
            await session.exec(
                select(ClueDisposition)
                .where(
                    ClueDisposition.case_id == clock.case_id,
                    ClueDisposition.status == ProposalStatus.APPROVED,
                    col(ClueDisposition.ended_at).is_(None),
                )
                .order_by(col(ClueDisposition.id).desc())
            )
        ).first()
        if in_force is not None and in_force.due_at is not None:
            in_force.due_at = clock.due_at
            session.add(in_force)
    elif clock.kind is ClockKind.RECTIFICATION:
        await _follow_rectification(session, clock)


async def _follow_rectification(session: AsyncSession, clock: CaseClock) -> None:
    """An open 整改 shows, counts and reports the deadline its clock now has (the panel's
    已逾期, the 核验 prompt, the report's due and overdue figures read the row)."""
    row = (
        await session.exec(
            select(Rectification).where(
                Rectification.case_id == clock.case_id,
                Rectification.state == RectificationState.OPEN,
            )
        )
    ).first()
    if row is not None:
        row.due_at, row.provisional = clock.due_at, clock.provisional
        session.add(row)


def _reschedule(
    clock: CaseClock, calendar: WorkCalendar, config: LiankaConfig, now: datetime
) -> None:
    """Where the sweep looks next after a deadline moved."""
    if clock.state is not ClockState.RUNNING:
        return
    if clock.kind in (ClockKind.FOLLOWUP, ClockKind.AFTERCARE):  # asked at 09:00, then due
        clock.next_action_at = (
            followup_ask_time(calendar, clock) if clock.stage == ClockStage.NONE else clock.due_at
        )
        return
    if clock.due_at > now:
        clock.stage = ClockStage.NONE
        clock.next_action_at = warning_time(
            calendar, clock.started_at, clock.due_at, config.deadlines.warn_before
        )
    elif clock.stage < ClockStage.OVERDUE:
        clock.next_action_at = utc(now)
