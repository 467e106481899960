"""The use-case path: every case through ``submit_case`` and the steps on the session."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services import clocks, rectification
from bot.services.intake import submit_case
from bot.services.policy import Policy
from bot.services.routing import assign_case, prompting_case
from demo.plan import Plan
from demo.steps import STEPS, Ledger, ladders
from demo.world import World
from models.calendar import WorkCalendar
from models.case import Case, reporter_of
from models.clock import CaseClock, ClockKind
from models.disposition import ClueDisposition
from models.event import Actor, CaseEvent
from models.intake import CaseDraft
from models.rectification import Rectification
from models.reporter import Reporter
from models.team import Inspector, Role


class SessionLedger(Ledger):
    """Steps through the database session, with the clocks service."""

    def __init__(
        self,
        session: AsyncSession,
        config: LiankaConfig,
        calendar: WorkCalendar,
        category_codes: dict[int, str],
    ) -> None:
        self.session = session
        self.config = config
        self.calendar = calendar
        self.category_codes = category_codes
        self.ladders = ladders(config, category_codes)
        self.warn_before = config.deadlines.warn_before
        self.policy = Policy(config, calendar)
        self.proposals: dict[int, list[ClueDisposition]] = {}

    def add(self, row: Any) -> None:
        self.session.add(row)

    def keep_event(self, values: dict[str, Any]) -> None:
        self.session.add(CaseEvent(**values))

    async def start_clock(
        self,
        case: Case,
        kind: ClockKind,
        workdays: int,
        at: datetime,
        *,
        warn_before: int | None = None,
    ) -> CaseClock:
        return await clocks.start_clock(
            self.session,
            case,
            kind,
            workdays=workdays,
            calendar=self.calendar,
            now=at,
            warn_before=self.warn_before if warn_before is None else warn_before,
        )

    async def get_clock(self, case: Case, kind: ClockKind) -> CaseClock | None:
        return await clocks.get_clock(self.session, case.id or 0, kind)

    async def reporter(self, case: Case) -> Reporter | None:
        reporter_id = reporter_of(case)
        return await self.session.get(Reporter, reporter_id) if reporter_id is not None else None

    async def add_rectification(self, row: Rectification) -> None:
        self.session.add(row)
        await self.session.flush()

    async def open_rectification(self, case: Case) -> Rectification | None:
        return await rectification.open_rectification(self.session, case.id or 0)

    async def add_disposition(self, proposal: ClueDisposition) -> None:
        self.session.add(proposal)
        await self.session.flush()
        self.proposals.setdefault(proposal.case_id, []).append(proposal)

    def dispositions(self, case: Case) -> list[ClueDisposition]:
        return self.proposals.get(case.id or 0, [])

    async def prompting(self, case: Case) -> Case | None:
        return await prompting_case(self.session, case)

    async def case_id(self, number: str) -> int:
        found = (await self.session.exec(select(Case.id).where(Case.number == number))).one()
        assert found is not None
        return found

    async def meet_clock(self, case: Case, kind: ClockKind, at: datetime) -> None:
        await clocks.meet_clock(self.session, case.id or 0, kind, at)

    async def cancel_clock(self, case: Case, kind: ClockKind) -> None:
        await clocks.cancel_clock(self.session, case.id or 0, kind)

    async def extend_clock(self, case: Case, kind: ClockKind, days: int, at: datetime) -> None:
        await clocks.extend_clock(
            self.session,
            case.id or 0,
            kind,
            days,
            calendar=self.calendar,
            now=at,
            warn_before=self.warn_before,
        )

    async def _people(self, *conditions: Any) -> list[Inspector]:
        query = select(Inspector).where(*conditions).order_by(col(Inspector.id))
        return list((await self.session.exec(query)).all())

    async def team_leader(self, team_id: int) -> Inspector:
        return (
            await self._people(Inspector.team_id == team_id, Inspector.role == Role.TEAM_LEADER)
        )[0]

    async def team_inspectors(self, team_id: int) -> list[Inspector]:
        return await self._people(
            Inspector.team_id == team_id,
            Inspector.role == Role.INSPECTOR,
            col(Inspector.active).is_(True),
        )

    async def leader(self) -> Inspector:
        return (await self._people(Inspector.role == Role.LEADER))[0]

    async def assign(self, case: Case, inspector: Inspector, at: datetime, actor: Actor) -> None:
        await assign_case(self.session, case, inspector, policy=self.policy, now=at, actor=actor)


async def write_through_use_cases(
    sessions: SessionFactory,
    config: LiankaConfig,
    calendar: WorkCalendar,
    plan: Plan,
    world: World,
    *,
    tick: Callable[[int], None],
) -> None:
    """Every case by ``submit_case`` and the step functions, one transaction per case."""
    for plan_case in plan.cases:
        async with sessions() as session:
            reporter = await session.get(Reporter, world.reporter_ids[plan_case.enterprise])
            assert reporter is not None
            name, phone = plan_case.contact or (None, None)
            ledger = SessionLedger(session, config, calendar, world.category_codes)
            prompted_by = None
            if plan_case.prompted_by is not None:  # a 有 at 防打击报复回访 opened it
                prompted_by = await session.get(Case, await ledger.case_id(plan_case.prompted_by))
            submitted = await submit_case(
                session,
                reporter,
                CaseDraft(
                    category_code=plan_case.category,
                    description=plan_case.description,
                    amount_yuan=plan_case.amount_yuan,
                    anonymous=plan_case.contact is None,
                    contact_name=name,
                    contact_phone=phone,
                ),
                policy=Policy(config, calendar),
                now=plan_case.created_at,
                prompted_by=prompted_by,
            )
            for step in plan_case.steps:
                await STEPS[step.kind](ledger, submitted.case, step)
                await session.flush()
            await session.commit()
        tick(1)
