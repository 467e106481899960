"""What a deadline sweep reads besides its clocks and their cases: who is who (the directory, the
categories, the teams), the reporters its 回访 plans ask, and the notices to the admins of the
years whose deadlines count without the official schedule.

``read_setting`` reads all but the reporters in a transaction (and on a connection) of its own,
on PostgreSQL while the sweep claims its clocks and reads their cases (``bot.services.sweep``):
the server works on the claim while the process reads these, where one after the other the
sweep waited for each in turn. On SQLite it reads them first: there each connection's work runs
on a thread of its own, and two side by side take turns at the interpreter (measured: the 100k
sweep's CPU about 50 ms more beside than in turn). None of it depends on which clocks are
claimed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.people import Directory
from bot.services.sweep_plan import CaseRow, ClockRow, Notice, SweepContext, case_of
from models import notification
from models.calendar import WorkCalendar
from models.case import reporter_of
from models.clock import CaseClock, ClockKind, ClockState
from models.org import Category
from models.reporter import Reporter
from models.team import Team
from models.types import utc


@dataclass(frozen=True, slots=True)
class Setting:
    """Who is who for one sweep, and the admins' notices it queues (``list_provisional_notices``)."""

    directory: Directory
    categories: dict[int, Category]
    teams: dict[int, Team]
    admin_notices: list[Notice]

    def context(
        self, config: LiankaConfig, calendar: WorkCalendar, reporters: dict[int, Reporter]
    ) -> SweepContext:
        return SweepContext(
            config=config,
            calendar=calendar,
            directory=self.directory,
            categories=self.categories,
            teams=self.teams,
            reporters=reporters,
        )


async def read_setting(sessions: SessionFactory, calendar: WorkCalendar, now: datetime) -> Setting:
    """The sweep's setting, read in a session of its own."""
    async with sessions() as session:
        directory = await Directory.load(session)
        categories = {c.id: c for c in (await session.exec(select(Category))).all() if c.id}
        teams = {t.id: t for t in (await session.exec(select(Team))).all() if t.id}
        admin_notices = await list_provisional_notices(session, calendar, directory, now)
    return Setting(directory, categories, teams, admin_notices)


async def load_reporters(
    session: AsyncSession, clocks: list[ClockRow], cases: dict[int, CaseRow]
) -> dict[int, Reporter]:
    """The reporters of the clocks' cases that their plans ask (回访 and its aftercare; an
    anonymous case's is sealed), by id."""
    asked = [
        cases[clock.case_id]
        for clock in clocks
        if clock.kind in (ClockKind.FOLLOWUP, ClockKind.AFTERCARE)
    ]
    reporter_ids = {r for r in map(reporter_of, map(case_of, asked)) if r is not None}
    if not reporter_ids:
        return {}
    rows = await session.exec(select(Reporter).where(col(Reporter.id).in_(reporter_ids)))
    return {r.id: r for r in rows.all() if r.id is not None}


async def list_provisional_notices(
    session: AsyncSession, calendar: WorkCalendar, directory: Directory, now: datetime
) -> list[Notice]:
    """Tell each admin once per year that open deadlines count over a year without the
    official schedule (key ``calendar:provisional:<year>:<admin>``)."""
    table = CaseClock.__table__  # type: ignore[attr-defined]
    low, high = (
        await session.exec(
            select(func.min(table.c.started_at), func.max(table.c.due_at)).where(
                table.c.provisional.is_(True),
                table.c.state.in_([ClockState.RUNNING, ClockState.PAUSED]),
            )
        )
    ).one()
    if low is None or high is None:
        return []
    years = sorted(
        calendar.provisional_years(
            utc(low).astimezone(calendar.tz).date(), utc(high).astimezone(calendar.tz).date()
        )
    )
    return [
        Notice(
            key=f"calendar:provisional:{year}:{admin.tag}",
            kind="admin_calendar_provisional",
            recipient=admin,
            case_id=0,
            says=notification.Notice.of("admin_calendar_provisional", year=year),
            offer=None,
            digest_line=None,
        )
        for year in years
        for admin in directory.admins()
    ]
