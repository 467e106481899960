"""室组联动: the 协办 teams are told of a case's changes, in one place.

Every change of a case is an event in its history (``models.event``), written by whichever use
case made it (签收, 延期 approved, 办结, 重办, 结案, 撤回, 合并办理, a 处置 approved, the lead's
记录进展). Rather than each of those use cases remembering the 协办 teams, this listener looks at
the events a session is about to write and, for a case with open 协办 teams, queues one notice
per change to each 协办 team's leaders and to the team members who added 协办进展 — in the same
transaction, so the notice exists exactly when the change does (idempotent: keyed by the event's
place in the chain and the recipient). It runs inside the flush (SQLAlchemy's ``before_flush``),
where the session's own connection is used synchronously.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import col, select

from models.assist import CaseAssist
from models.case import Case
from models.event import CaseEvent, EventKind
from models.notification import Channel, Notice, Notification, Offer, Recipient
from models.org import Track
from models.team import Inspector, Role, Team
from notifications.outbox import QUEUED, queued
from notifications.render import render_notice
from notifications.texts import case_params

KIND = "assist_case_changed"

SAYS = {
    EventKind.ACCEPTED: "主办组已签收该问题",
    EventKind.EXTENSION_APPROVED: "主办组的延期申请已获批准",
    EventKind.RESOLVED: "主办组已办结该问题",
    EventKind.REOPENED: "该问题已重新办理",
    EventKind.CLOSED: "该问题已结案",
    EventKind.WITHDRAWN: "反映人已撤回该问题",
    EventKind.MERGED: "该问题已并入此前的问题合并办理",
    EventKind.TRANSFERRED: "该问题已转由其他组主办，本组协办随之结束",
    EventKind.RETURN_APPROVED: "该问题已退回重新分办，本组协办随之结束",
    EventKind.DISPOSITION_APPROVED: "委领导已批准该问题线索的处置意见",
    EventKind.PROGRESS: "主办组记录了办理进展",
    EventKind.RECTIFICATION_SET: "主办组已要求责任单位整改",
    EventKind.RECTIFICATION_VERIFIED: "主办组已核验整改情况",
}
"""What a 协办 team is told of each change, in a sentence of its own."""

TOLD_OF = frozenset(SAYS)
"""The changes a 协办 team hears of: status changes, an approved 延期 or 处置, a 整改 required
or verified, the lead's progress notes (``PROGRESS``: the 协办 team's own notes are
``ASSIST_PROGRESS``)."""


def _recipients(session: Session, case: Case, team_ids: list[int]) -> list[Inspector]:
    """The 协办 teams' active leaders, and their members who added 协办进展 (on an appeal:
    on a clue only team leaders see the case)."""
    people = session.scalars(
        select(Inspector)
        .where(
            col(Inspector.team_id).in_(team_ids),
            col(Inspector.active).is_(True),
            col(Inspector.role).in_((Role.TEAM_LEADER, Role.INSPECTOR)),
        )
        .order_by(col(Inspector.id))
    ).all()
    authors = set(
        session.scalars(
            select(CaseEvent.actor_id).where(
                CaseEvent.case_id == case.id, CaseEvent.kind == EventKind.ASSIST_PROGRESS
            )
        ).all()
    )
    return [
        p
        for p in people
        if p.role is Role.TEAM_LEADER or (p.id in authors and case.track is Track.APPEAL)
    ]


def _insert(session: Session, values: dict[str, Any]) -> Any:
    dialect = session.get_bind().dialect.name
    table = Notification.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.values(**values).on_conflict_do_nothing(index_elements=["key"])


def _arriving_team(session: Session, change: CaseEvent) -> int:
    """The team a 转办 or 退回 sends the case to (0 for any other change): it is told of the case
    as its new lead, not that the case went elsewhere."""
    if change.kind not in (EventKind.TRANSFERRED, EventKind.RETURN_APPROVED):
        return 0
    code = (change.data or {}).get("team")
    found = session.scalar(select(Team.id).where(Team.code == code)) if code else None
    return found or 0


def _tell(session: Session, change: CaseEvent, assists: dict[int, set[int]]) -> None:
    case = session.get(Case, change.case_id)
    if case is None:
        return
    leaving = {case.team_id or 0, _arriving_team(session, change)}
    team_ids = sorted(assists.get(change.case_id, set()) - leaving)
    if not team_ids:
        return
    notice = Notice.of(
        "assist_case_changed",
        case=case_params(case),
        what=SAYS[change.kind],
        status=case.status.label,
        note=change.note if change.kind is EventKind.PROGRESS else None,
    )
    render_notice(notice)
    assert case.id is not None
    for person in _recipients(session, case, team_ids):
        to = Recipient.inspector(person)
        values = queued(
            kind=KIND, to=to, notice=notice, now=change.created_at, case_id=case.id,
            stage=change.seq, offer=Offer.CASE_MATERIALS.on(case.id),
        )  # fmt: skip
        session.execute(_insert(session, values))
        if to.channel is Channel.TELEGRAM:
            session.info[QUEUED] = True


@sa_event.listens_for(Session, "before_flush")
def _tell_assist_teams(session: Session, _context: Any, _instances: Any) -> None:
    tell_assist_teams(session, [obj for obj in session.new if isinstance(obj, CaseEvent)])


def tell_assist_teams(session: Session, events: list[CaseEvent]) -> None:
    """Queue the 协办 teams' notices of ``events`` (those of a kind they are told of): what the
    flush listener does for the events a session adds, and what a writer of event rows in bulk
    (the batched sweep) calls with its rows as events, before its commit."""
    changes = [e for e in events if e.kind in TOLD_OF]
    if not changes:
        return
    with session.no_autoflush:
        rows = session.execute(
            select(CaseAssist.case_id, CaseAssist.team_id).where(
                col(CaseAssist.case_id).in_({c.case_id for c in changes}),
                col(CaseAssist.removed_at).is_(None),
            )
        ).all()
        if not rows:  # one query per flush for the cases without 协办 (nearly all)
            return
        assists: dict[int, set[int]] = {}
        for case_id, team_id in rows:
            assists.setdefault(case_id, set()).add(team_id)
        last: dict[int, CaseEvent] = {}  # one notice per case and flush: its latest change
        for change in sorted(changes, key=lambda e: (e.case_id, e.seq)):
            last[change.case_id] = change
        for change in last.values():
            _tell(session, change, assists)
