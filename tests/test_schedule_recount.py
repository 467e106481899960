"""Loading a year's official schedule recounts the open deadlines, and what shows a deadline
follows its clock: a 督办回复 in time is not called late, and a corrected schedule loaded over a
wrong one recounts what the wrong one counted."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.policy import Policy
from bot.services.schedule import YearSchedule, load_year_schedule
from bot.services.supervision import reply_supervision, supervise_case
from models.calendar import SHANGHAI, WorkCalendar
from models.case import Case
from models.clock import ClockKind
from models.team import Inspector
from tests.casework import accept, clock_of, make_staff, report, sh

pytestmark = pytest.mark.both_databases

NEW_YEAR = {"name": "元旦", "start": "2027-01-01", "end": "2027-01-03"}
NATIONAL_DAY = {
    "name": "国庆节",
    "start": "2027-10-01",
    "end": "2027-10-07",
    "workdays": ["2027-09-26", "2027-10-09"],
}


def schedule(source: str, *holidays: dict[str, Any]) -> YearSchedule:
    return YearSchedule.model_validate({"year": 2027, "source": source, "holidays": holidays})


async def _supervised(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> tuple[Case, Inspector]:
    """An appeal a 委领导 marks 督办 on Mon 27 September 2027 with five working days, counted
    before the 2027 schedule is known."""
    start = sh(2027, 9, 27, 10)
    async with sessions() as session:
        staff = await make_staff(session, start)
    case = await report(sessions, catalog, calendar, start)
    assert case.id is not None
    async with sessions() as session:
        await supervise_case(
            session, staff.leader, case.id, policy=Policy(catalog, calendar), now=start, days=5
        )
    return case, staff.inspector


def _day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


async def test_a_reply_in_time_for_a_deadline_the_schedule_moved_is_not_late(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    case, inspector = await _supervised(sessions, catalog, calendar)
    assert case.id is not None
    async with sessions() as session:
        await load_year_schedule(
            session, schedule("国办发明电〔2026〕号", NEW_YEAR, NATIONAL_DAY), catalog,
            sh(2027, 9, 28, 9),
        )  # fmt: skip
    clock = await clock_of(sessions, case.id, ClockKind.SUPERVISION)
    assert _day(clock.due_at) == date(2027, 10, 9)  # past 国庆, a make-up Saturday
    async with sessions() as session:
        supervised = await session.get(Case, case.id)
        assert supervised is not None and supervised.supervision_due_at == clock.due_at
        replied = await reply_supervision(
            session, inspector, case.id, "已约谈管委会，款项本周拨付。", now=sh(2027, 10, 8, 10)
        )
    assert not replied.late  # it was said to be, against the 10月05日 counted before


async def test_a_corrected_schedule_loaded_over_a_wrong_one_moves_the_deadlines_again(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    case, _ = await _supervised(sessions, catalog, calendar)
    assert case.id is not None
    async with sessions() as session:  # 国庆 left out by mistake: the deadline is in it
        await load_year_schedule(session, schedule("误录", NEW_YEAR), catalog, sh(2027, 9, 27, 11))
    wrong = await clock_of(sessions, case.id, ClockKind.SUPERVISION)
    assert _day(wrong.due_at) == date(2027, 10, 4) and not wrong.provisional
    async with sessions() as session:
        changes = await load_year_schedule(
            session, schedule("更正", NEW_YEAR, NATIONAL_DAY), catalog, sh(2027, 9, 27, 12)
        )
    right = await clock_of(sessions, case.id, ClockKind.SUPERVISION)
    assert _day(right.due_at) == date(2027, 10, 9)
    assert [change.clock for change in changes if change.moved] == [ClockKind.SUPERVISION]


async def test_a_corrected_schedule_for_a_year_already_known_moves_the_deadlines_across_it(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    """2026 is counted from chinesecalendar's data; a file for 2026 that differs (a week off in
    November, say) is a correction, and the open deadlines across that week move."""
    start = sh(2026, 11, 2, 10)
    async with sessions() as session:
        await make_staff(session, start)
    case = await report(sessions, catalog, calendar, start)
    assert case.id is not None
    await accept(sessions, catalog, calendar, case.id, start)
    before = await clock_of(sessions, case.id, ClockKind.RESOLVE)
    assert _day(before.due_at) > date(2026, 11, 13) and not before.provisional
    week_off = {"name": "国庆节", "start": "2026-11-09", "end": "2026-11-13"}
    corrected = YearSchedule.model_validate(
        {"year": 2026, "source": "更正", "holidays": [week_off]}
    )
    async with sessions() as session:
        changes = await load_year_schedule(session, corrected, catalog, sh(2026, 11, 3, 9))
    after = await clock_of(sessions, case.id, ClockKind.RESOLVE)
    assert _day(after.due_at) == calendar.add_workdays(_day(before.due_at), 5)
    assert [(c.case_number, c.moved) for c in changes] == [(case.number, True)]
