"""立案 and 重复件 counts for the reports (issue 17), below the use cases so that both the report
(``reports.figures``) and the services that name them (``bot.services.clue_figures``,
``bot.services.repeats``) count the same way.

立案 (件/人): clues whose 立案审查 a 委领导 approved in a period, and the people placed on file
with them. 重复件: cases reported in a period that the intake linked to an earlier case
(``repeat_of_id``), and repeats merged (合并办理, ``merged_into_id``) in a period. Either may be
limited to a zone's or a team's cases (a report's scope). Counts only: no clue's text, no
reporter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.case import Case
from models.disposition import ClueDisposition, Disposition, ProposalStatus
from models.types import utc


def _scope(zone_id: int | None, team_id: int | None) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if zone_id is not None:
        conditions.append(col(Case.zone_id) == zone_id)
    if team_id is not None:
        conditions.append(col(Case.team_id) == team_id)
    return conditions


async def filed_counts(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    *,
    zone_id: int | None = None,
    team_id: int | None = None,
) -> tuple[int, int]:
    """(件, 人): the clues placed on file (立案审查 approved) in ``[start, end)``, and the people
    placed on file with them. A case placed on file is then handled outside Lianka."""
    query = select(func.count(), func.coalesce(func.sum(col(ClueDisposition.people)), 0)).where(
        ClueDisposition.kind == Disposition.FILE,
        ClueDisposition.status == ProposalStatus.APPROVED,
        col(ClueDisposition.decided_at) >= utc(start),
        col(ClueDisposition.decided_at) < utc(end),
    )
    scope = _scope(zone_id, team_id)
    if scope:
        query = query.join(Case, col(Case.id) == col(ClueDisposition.case_id)).where(*scope)
    cases, people = (await session.exec(query)).one()
    return int(cases), int(people or 0)


@dataclass(frozen=True, slots=True)
class RepeatCounts:
    flagged: int  # 疑似重复件 reported in the period
    merged: int  # repeats merged in the period


async def repeat_counts(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    *,
    zone_id: int | None = None,
    team_id: int | None = None,
) -> RepeatCounts:
    """重复件 for a report: those reported in ``[start, end)`` and those merged in it."""
    scope = _scope(zone_id, team_id)
    flagged = (
        await session.exec(
            select(func.count())
            .select_from(Case)
            .where(
                col(Case.repeat_of_id).is_not(None),
                col(Case.created_at) >= utc(start),
                col(Case.created_at) < utc(end),
                *scope,
            )
        )
    ).one()
    merged = (
        await session.exec(
            select(func.count())
            .select_from(Case)
            .where(
                col(Case.merged_into_id).is_not(None),
                col(Case.closed_at) >= utc(start),
                col(Case.closed_at) < utc(end),
                *scope,
            )
        )
    ).one()
    return RepeatCounts(int(flagged), int(merged))
