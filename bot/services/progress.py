"""记录进展: the assignee's notes on the work, shown to an appeal's reporter if chosen."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.notices import tell_reporter
from bot.services.permissions import actor_of, clean_note, load_case, require_assignee
from models.case import WORKING_STATUSES, CaseStatus, reporter_label
from models.event import CaseEvent, EventKind, record_event, transition
from models.org import Track
from models.team import Inspector


async def add_progress(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    *,
    note: str,
    public: bool,
    now: datetime,
) -> CaseEvent:
    """记录进展: a note in the history; the first one puts the case in progress. On an appeal
    the reporter sees the note if the inspector chooses, and always hears of the move to 办理中;
    a clue's notes stay internal."""
    case = await load_case(session, case_id)
    require_assignee(actor, case, WORKING_STATUSES, "记录进展")
    text = clean_note(note, "办理进展")
    appeal = case.track is Track.APPEAL
    public = public and appeal
    before = reporter_label(case.status, case.track)
    who = actor_of(actor)
    if case.status in (CaseStatus.ACCEPTED, CaseStatus.REOPENED):
        event = transition(
            case, CaseStatus.IN_PROGRESS, EventKind.PROGRESS, who, now, note=text, public=public
        )
    else:
        event = record_event(case, EventKind.PROGRESS, who, now, note=text, public=public)
    session.add_all([case, event])
    changed = before != reporter_label(case.status, case.track)
    if appeal and (public or changed):
        await tell_reporter(
            session, case, "case_progress", stage=event.seq, now=now, note=text if public else None
        )
    await session.commit()
    return event
