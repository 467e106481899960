"""流转记录 audit: recompute every case's hash chain and report what does not hold."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.case import Case
from models.errors import NotFound
from models.event import CaseEvent, ChainProblem, verify_chain


@dataclass
class AuditReport:
    """How much was checked and every problem found."""

    cases: int = 0
    events: int = 0
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify_audit(session: AsyncSession, number: str | None = None) -> AuditReport:
    """Every case's events must chain from the first to the one the case records as its last:
    an edited, inserted or deleted event breaks a hash, a link, the sequence or the count."""
    cases_query = select(Case).order_by(col(Case.id))
    events_query = select(CaseEvent).order_by(col(CaseEvent.case_id), col(CaseEvent.seq))
    if number is not None:
        case = (await session.exec(select(Case).where(Case.number == number))).first()
        if case is None:
            raise NotFound(f"未找到编号为 {number} 的问题。")
        cases_query = cases_query.where(Case.id == case.id)
        events_query = events_query.where(CaseEvent.case_id == case.id)
    cases = {c.id: c for c in (await session.exec(cases_query)).all()}
    events = (await session.exec(events_query)).all()
    by_case = {case_id: list(group) for case_id, group in groupby(events, key=lambda e: e.case_id)}
    report = AuditReport(cases=len(cases), events=len(events))
    for case_id, case in cases.items():
        report.problems += verify_chain(case, by_case.get(case_id or 0, []))
    return report
