"""督办: a leader flags an open case they may see (``can_view``: never a clue)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.case_lists import require_view
from bot.services.inspectors import team_leaders
from bot.services.notices import tell_inspectors
from bot.services.permissions import actor_of, clean_note, load_case, moved_on
from models.case import OPEN_STATUSES, Case
from models.errors import InvalidInput, PermissionDenied
from models.event import EventKind, record_event
from models.notification import Offer
from models.team import Inspector, Role
from notifications.texts import preview


async def supervise_case(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    *,
    now: datetime,
    note: str | None = None,
) -> Case:
    """督办: a leader flags an open case; its team leaders and assignee are told, and every list
    and message shows 【督办】 from then on."""
    case = await load_case(session, case_id)
    if actor.role is not Role.LEADER:
        raise PermissionDenied(
            "只有委领导可以督办。", detail=f"inspector {actor.id} is not a leader"
        )
    require_view(actor, case)  # before anything that would name a clue or its status
    if case.status not in OPEN_STATUSES:
        raise moved_on(case, "督办")
    if case.supervised:
        raise InvalidInput(f"问题 {case.number} 已在督办中。")
    assert case.id is not None
    text = clean_note(note, "督办意见", 300) if note else None
    case.supervised = True
    case.supervised_at = now
    case.supervised_by_id = actor.id
    event = record_event(case, EventKind.SUPERVISED, actor_of(actor), now, note=text)
    session.add_all([case, event])
    people = await team_leaders(session, case.team_id, track=case.track)
    if case.assignee_id is not None:
        assignee = await session.get(Inspector, case.assignee_id)
        if assignee is not None:
            people.append(assignee)
    await tell_inspectors(
        session,
        case,
        people,
        "inspector_supervised",
        stage=event.seq,
        now=now,
        offer=Offer.LEADER_ASSIGN.on(case.id) if case.assignee_id is None else None,
        leader=actor.name,
        note=text,
        status=case.status.label,
        description=preview(case.description, 200),
    )
    await session.commit()
    return case
