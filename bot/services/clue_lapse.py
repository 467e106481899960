"""A clue's disposition proposals that lapse (已失效) when the clue moves on before a decision:
改派, 转办, 退回 or 合并办理. Each lapse is an event on the case; a button or the 线索审批 page
that still offers the proposal then answers that it has lapsed (``dispositions``)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.case import Case
from models.disposition import PENDING, ClueDisposition, ProposalStatus
from models.event import SYSTEM, Actor, EventKind, record_event
from models.org import Track

LAPSE_REASSIGNED = "问题线索已改派"
LAPSE_LEFT_TEAM = "问题线索已转办或退回"
LAPSE_MERGED = "已合并办理"


async def lapse_proposals(
    session: AsyncSession,
    case: Case,
    *,
    why: str,
    now: datetime,
    actor: Actor = SYSTEM,
    proposer_id: int | None = None,
) -> int:
    """The proposals of the clue waiting for review or approval (only ``proposer_id``'s, when
    given) lapse, each with an event on the case saying ``why``. Returns how many lapsed. The
    caller commits."""
    if case.track is not Track.CLUE or case.id is None:
        return 0
    rows = await session.exec(
        select(ClueDisposition)
        .where(ClueDisposition.case_id == case.id, col(ClueDisposition.status).in_(PENDING))
        .order_by(col(ClueDisposition.id))
    )
    lapsed = 0
    for row in rows.all():
        if proposer_id is None or row.proposed_by_id == proposer_id:
            lapse(session, case, row, why=why, now=now, actor=actor)
            lapsed += 1
    return lapsed


def lapse(
    session: AsyncSession,
    case: Case,
    row: ClueDisposition,
    *,
    why: str,
    now: datetime,
    actor: Actor = SYSTEM,
) -> None:
    """One proposal lapses, recorded on the case."""
    row.status = ProposalStatus.LAPSED
    row.ended_at = now
    data = {"disposition": row.id, "kind": row.kind.value}
    event = record_event(case, EventKind.DISPOSITION_LAPSED, actor, now, note=why, data=data)
    session.add_all([row, case, event])
