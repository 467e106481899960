"""Cases in the situations the sweep acts on, made with the services that exist on main:
``submit_case``, the clock services and ``models.event.transition``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.clocks import get_clock, meet_clock, start_clock
from bot.services.intake import submit_case
from bot.services.policy import Policy
from models.calendar import SHANGHAI, WorkCalendar
from models.case import Case, CaseStatus, Outcome
from models.clock import CaseClock, ClockKind
from models.event import Actor, ActorType, EventKind, transition
from models.intake import CaseDraft
from models.notification import Notification
from models.org import Category
from models.reporter import Reporter
from models.team import Inspector, Role
from tests.factories import make_inspector, make_reporter

REFUND = "经开区管委会承诺的土地出让金返还和建筑物配套费至今未到位，企业资金链断裂，请帮助协调。"


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A moment given in Shanghai time, as aware UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


@dataclass
class Staff:
    inspector: Inspector
    team_leader: Inspector
    leader: Inspector
    admin: Inspector


async def make_staff(session: AsyncSession, now: datetime, team: str = "business_env") -> Staff:
    """An inspector and a team leader of ``team``, a commission leader and an admin."""
    return Staff(
        inspector=await make_inspector(
            session, now, team_code=team, name="李监督", telegram_user_id=501
        ),
        team_leader=await make_inspector(
            session, now, team_code=team, name="曾组长", role=Role.TEAM_LEADER, telegram_user_id=601
        ),
        leader=await make_inspector(
            session, now, team_code=None, name="王书记", role=Role.LEADER, telegram_user_id=701
        ),
        admin=await make_inspector(
            session, now, team_code=None, name="赵管理", role=Role.ADMIN, telegram_user_id=801
        ),
    )


async def report(
    sessions: SessionFactory,
    config: LiankaConfig,
    calendar: WorkCalendar,
    now: datetime,
    *,
    reporter: Reporter | None = None,
    category: str = "business_env",
    description: str = REFUND,
    telegram_user_id: int = 7_000_001,
) -> Case:
    """A report submitted at ``now`` (routed and, with an inspector on the team, assigned)."""
    async with sessions() as session:
        if reporter is None:
            reporter = await make_reporter(session, now, telegram_user_id=telegram_user_id)
        result = await submit_case(
            session,
            reporter,
            CaseDraft(category_code=category, description=description),
            policy=Policy(config, calendar),
            now=now,
        )
    return result.case


async def accept(
    sessions: SessionFactory,
    config: LiankaConfig,
    calendar: WorkCalendar,
    case_id: int,
    now: datetime,
) -> None:
    """签收 as the assignee: accepted, the 签收 and 受理告知 clocks met, the 办结 clock started."""
    async with sessions() as session:
        case = await session.get(Case, case_id)
        assert case is not None and case.assignee_id is not None
        session.add(
            transition(
                case,
                CaseStatus.ACCEPTED,
                EventKind.ACCEPTED,
                Actor(ActorType.INSPECTOR, case.assignee_id),
                now,
            )
        )
        case.accepted_at = now
        await meet_clock(session, case_id, ClockKind.ACCEPT, now)
        await meet_clock(session, case_id, ClockKind.FIRST_REPLY, now)
        category = await session.get(Category, case.category_id)
        assert category is not None
        await start_clock(
            session,
            case,
            ClockKind.RESOLVE,
            workdays=config.ladder_for(category.code).resolve,
            calendar=calendar,
            now=now,
            warn_before=config.deadlines.warn_before,
        )
        session.add(case)
        await session.commit()


async def resolve(
    sessions: SessionFactory,
    config: LiankaConfig,
    calendar: WorkCalendar,
    case_id: int,
    now: datetime,
) -> None:
    """办结 as the assignee: resolved, the 办结 clock met, the 回访 clock started."""
    async with sessions() as session:
        case = await session.get(Case, case_id)
        assert case is not None and case.assignee_id is not None
        category = await session.get(Category, case.category_id)
        assert category is not None
        session.add(
            transition(
                case,
                CaseStatus.RESOLVED,
                EventKind.RESOLVED,
                Actor(ActorType.INSPECTOR, case.assignee_id),
                now,
                public=True,
            )
        )
        case.outcome = Outcome.SOLVED
        case.outcome_summary = "已协调管委会返还土地出让金。"
        case.resolved_at = now
        await meet_clock(session, case_id, ClockKind.RESOLVE, now)
        await start_clock(
            session,
            case,
            ClockKind.FOLLOWUP,
            workdays=config.ladder_for(category.code).followup_ask,
            calendar=calendar,
            now=now,
            warn_before=config.deadlines.warn_before,
        )
        session.add(case)
        await session.commit()


async def clock_of(sessions: SessionFactory, case_id: int, kind: ClockKind) -> CaseClock:
    async with sessions() as session:
        clock = await get_clock(session, case_id, kind)
    assert clock is not None
    return clock


async def case_of(sessions: SessionFactory, case_id: int) -> Case:
    async with sessions() as session:
        case = await session.get(Case, case_id)
    assert case is not None
    return case


async def outbox(sessions: SessionFactory, kind_prefix: str = "") -> list[Notification]:
    """Queued notifications whose kind starts with ``kind_prefix``, oldest first."""
    async with sessions() as session:
        rows = (await session.exec(select(Notification).order_by(col(Notification.id)))).all()
    return [r for r in rows if r.kind.startswith(kind_prefix)]


async def until(condition: Callable[[], Awaitable[bool]], limit: float = 30.0) -> None:
    """Wait for something another task does (a sender, a scheduler) to become true."""
    async with asyncio.timeout(limit):
        while True:
            if await condition():
                return
            await asyncio.sleep(0.05)
