"""What the console shows of a clue's disposition (问题线索处置): on the case page, the one in
force, the proposal waiting and the history, with the actions open to the viewer; for the
委领导, the proposals waiting for their approval, and those waiting for their review (a team
whose only team leader proposed; a clue's page is not theirs to open, the proposal they decide
on is). Every action is checked again by ``bot.services.dispositions``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import ClueConfig
from bot.services.dispositions import approvers, clue_state, may_propose, reviewers, still_owed
from models.case import Case
from models.disposition import ClueDisposition, Disposition, ProposalStatus
from models.org import Category
from models.team import Inspector, Role


@dataclass(frozen=True, slots=True)
class ProposalLine:
    """One proposal as staff read it."""

    id: int
    kind: Disposition
    status: ProposalStatus
    reason: str
    people: int | None
    proposer: str
    proposed_at: datetime
    reviewer: str | None
    review_note: str | None
    review_skipped: bool
    decider: str | None
    decision_note: str | None
    due_at: datetime | None
    objection: str | None
    objected_at: datetime | None


@dataclass(frozen=True, slots=True)
class CluePanel:
    """A clue's disposition on its case page, and what the viewer may do about it."""

    current: ProposalLine | None
    pending: ProposalLine | None
    history: list[ProposalLine]
    options: list[Disposition]
    may_propose: bool
    may_review: bool


async def _names(session: AsyncSession, rows: list[ClueDisposition]) -> dict[int, str]:
    ids = {r.proposed_by_id for r in rows} | {r.reviewed_by_id or 0 for r in rows}
    ids |= {r.decided_by_id or 0 for r in rows}
    people = await session.exec(select(Inspector).where(col(Inspector.id).in_(ids)))
    return {p.id: p.name for p in people.all() if p.id is not None}


def _line(row: ClueDisposition, names: dict[int, str]) -> ProposalLine:
    assert row.id is not None
    return ProposalLine(
        id=row.id,
        kind=row.kind,
        status=row.status,
        reason=row.reason,
        people=row.people,
        proposer=names.get(row.proposed_by_id, "—"),
        proposed_at=row.proposed_at,
        reviewer=names.get(row.reviewed_by_id or 0),
        review_note=row.review_note,
        review_skipped=row.review_skipped,
        decider=names.get(row.decided_by_id or 0),
        decision_note=row.decision_note,
        due_at=row.due_at,
        objection=row.objection,
        objected_at=row.objected_at,
    )


def may_review(actor: Inspector, case: Case, proposal: ClueDisposition | None) -> bool:
    """组长审核 on the page: an active team leader of the clue's team who did not propose it
    (whoever else may open the page is never a reviewer; ``dispositions.reviewers`` decides)."""
    return (
        proposal is not None
        and proposal.status is ProposalStatus.PROPOSED
        and actor.role is Role.TEAM_LEADER
        and actor.active
        and actor.team_id == case.team_id
        and actor.id != proposal.proposed_by_id
    )


async def clue_panel(session: AsyncSession, actor: Inspector, case: Case) -> CluePanel:
    assert case.id is not None
    state = await clue_state(session, case.id, assignee_id=case.assignee_id)
    names = await _names(session, state.history)
    return CluePanel(
        current=_line(state.current, names) if state.current else None,
        pending=_line(state.pending, names) if state.pending else None,
        history=[_line(row, names) for row in state.history],
        options=list(state.options),
        may_propose=may_propose(actor, case, state),
        may_review=may_review(actor, case, state.pending),
    )


@dataclass(frozen=True, slots=True)
class AwaitingApproval:
    """A proposal a 委领导 may approve: the clue's number and category, never its reporter."""

    number: str
    category: str
    proposal: ProposalLine


async def awaiting_approval(session: AsyncSession, actor: Inspector) -> list[AwaitingApproval]:
    """The reviewed proposals this 委领导 may decide (not one they proposed or reviewed), on
    clues their proposer still holds and works (one left on a clue since 改派, 转办 or 撤回
    lapsed, or is not listed)."""
    return await _awaiting(session, actor, ProposalStatus.REVIEWED, None)


async def awaiting_review(
    session: AsyncSession, actor: Inspector, config: ClueConfig
) -> list[AwaitingApproval]:
    """The proposals this 委领导 may review (组长审核 in a team leader's stead): those of a
    team whose only team leader proposed, while the config does not skip the review."""
    return await _awaiting(session, actor, ProposalStatus.PROPOSED, config)


async def _awaiting(
    session: AsyncSession, actor: Inspector, status: ProposalStatus, config: ClueConfig | None
) -> list[AwaitingApproval]:
    """The proposals in ``status`` that ``actor``, a 委领导, decides next: as an approver
    (``config`` None) or a reviewer, on clues still owed a decision."""
    if actor.role is not Role.LEADER or not actor.active:
        return []
    rows = list(
        (
            await session.exec(
                select(ClueDisposition)
                .where(ClueDisposition.status == status)
                .order_by(col(ClueDisposition.id))
            )
        ).all()
    )
    names = await _names(session, rows)
    waiting = []
    for row in rows:
        case = await session.get(Case, row.case_id)
        assert case is not None
        if config is None:
            deciders = await approvers(session, row)
        else:
            deciders = await reviewers(session, case, row, config)
        if actor.id not in {p.id for p in deciders} or not still_owed(row, case):
            continue
        category = await session.get(Category, case.category_id)
        waiting.append(
            AwaitingApproval(case.number, category.name if category else "—", _line(row, names))
        )
    return waiting
