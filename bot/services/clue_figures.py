"""立案 figures for the reports (件 and 人): clues whose 立案审查 a 委领导 approved in a period."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.disposition import ClueDisposition, Disposition, ProposalStatus
from models.types import utc


async def filed_counts(session: AsyncSession, start: datetime, end: datetime) -> tuple[int, int]:
    """(件, 人): the clues placed on file (立案审查 approved) in ``[start, end)``, and the people
    placed on file with them. A case placed on file is then handled outside Lianka."""
    cases, people = (
        await session.exec(
            select(func.count(), func.coalesce(func.sum(col(ClueDisposition.people)), 0)).where(
                ClueDisposition.kind == Disposition.FILE,
                ClueDisposition.status == ProposalStatus.APPROVED,
                col(ClueDisposition.decided_at) >= utc(start),
                col(ClueDisposition.decided_at) < utc(end),
            )
        )
    ).one()
    return int(cases), int(people or 0)
