"""The console's 工作台: what the person signed in has to do now — their cases with the working
days left, their team's open cases (team leaders), what is overdue, the requests waiting for
their decision, their notices (for people without Telegram) and, for leaders and admins, the
counts of the whole queue.

Queries only: nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.case_lists import (
    HiddenClues,
    Stats,
    assisted_by,
    count_stats,
    is_current_clock,
    is_open,
    viewable_by,
)
from bot.services.case_search import (
    CaseFilters,
    CasePage,
    FoundCase,
    found_cases,
    is_due_clock,
    search_cases,
)
from bot.services.inspectors import request_deciders
from bot.services.permissions import leads_team, may_decide
from models.calendar import WorkCalendar
from models.case import Case
from models.clock import CaseClock
from models.notification import Channel, Notification, RecipientKind
from models.org import Track
from models.request import ApprovalRequest, RequestKind, RequestStatus
from models.team import Inspector, Role, Team
from notifications.render import page_text

LIST_MAX = 50
"""Cases a 工作台 list shows; the 案件 page has them all."""
NOTICES_MAX = 20


@dataclass(frozen=True, slots=True)
class AwaitingDecision:
    """A pending request the person may decide (on the case's page)."""

    request_id: int
    case_id: int
    number: str
    kind: str
    days: int | None
    requester: str
    reason: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PageNotice:
    """A notice queued for the console, as plain text; ``to_decide``: it asks a 委领导 to
    review or approve a clue's disposition, which they do on 线索审批 (a clue's page is not
    theirs to open)."""

    at: datetime
    text: str
    case_id: int | None
    to_decide: bool = False


LEADERS_DECIDE = frozenset({"disposition_review", "disposition_approval"})


@dataclass(frozen=True, slots=True)
class Home:
    mine: list[FoundCase]
    mine_total: int
    team: list[FoundCase] | None  # team leaders only
    team_total: int
    team_name: str | None
    overdue: CasePage
    approvals: list[AwaitingDecision]
    notices: list[PageNotice]
    stats: Stats | None  # leaders and admins only
    hidden_clues: HiddenClues | None = None  # leaders and admins: open clues, as counts


async def _open_cases(
    session: AsyncSession,
    actor: Inspector,
    *,
    mine: bool,
    calendar: WorkCalendar,
    now: datetime,
) -> tuple[list[FoundCase], int]:
    """Open cases assigned to ``actor`` (or of their team), 督办 first, then the nearest
    deadline of the clock each line shows; at most ``LIST_MAX``, and how many there are."""
    conditions = [viewable_by(actor), is_open()]
    if mine:
        conditions.append(col(Case.assignee_id) == actor.id)
    else:  # the team's, and those it assists (协办)
        conditions.append(or_(col(Case.team_id) == actor.team_id, assisted_by(actor.team_id)))
    total = (await session.exec(select(func.count()).select_from(Case).where(*conditions))).one()
    due = and_(col(CaseClock.case_id) == col(Case.id), is_current_clock(), is_due_clock())
    query = (  # ids only: the sort reads the indexes (ix_cases_open, ix_case_clocks_current)
        select(col(Case.id))
        .outerjoin(CaseClock, due)
        .where(*conditions)
        .order_by(
            col(Case.supervised).desc(),
            col(CaseClock.due_at).asc().nulls_last(),
            col(Case.id),
        )
        .limit(LIST_MAX)
    )
    ids = [int(case_id or 0) for case_id in (await session.exec(query)).all()]
    loaded = {c.id: c for c in (await session.exec(select(Case).where(col(Case.id).in_(ids))))}
    cases = [loaded[case_id] for case_id in ids]
    return await found_cases(session, cases, calendar=calendar, now=now), int(total)


async def list_awaiting_decision(session: AsyncSession, actor: Inspector) -> list[AwaitingDecision]:
    """Pending requests ``actor`` decides (``inspectors.deciders``, what ``load_request``
    checks: never their own) whose requester still holds the case, oldest first."""
    if actor.role is Role.ADMIN:  # stands in for teams with no other leader: appeals only
        mine_only = col(Case.track) == Track.APPEAL
    elif actor.role is Role.TEAM_LEADER and actor.team_id is not None:
        mine_only = col(Case.team_id) == actor.team_id
    elif actor.role is Role.LEADER:  # 委领导: a 不满意 past the 重办 limit
        mine_only = col(ApprovalRequest.kind) == RequestKind.REOPEN
    else:
        return []  # inspectors decide no requests
    rows = (
        await session.exec(
            select(ApprovalRequest, Case)
            .join(Case, col(Case.id) == col(ApprovalRequest.case_id))
            .where(ApprovalRequest.status == RequestStatus.PENDING, mine_only)
            .order_by(col(ApprovalRequest.created_at), col(ApprovalRequest.id))
        )
    ).all()
    mine = [
        (request, case)
        for request, case in rows
        # a first sieve; then who decides it, as load_request asks
        if (leads_team(actor, case) or request.kind is RequestKind.REOPEN)
        and may_decide(
            actor, case, request, {p.id for p in await request_deciders(session, case, request)}
        )
    ]
    ids = {request.requested_by_id for request, _ in mine}
    names = {
        p.id: p.name
        for p in (await session.exec(select(Inspector).where(col(Inspector.id).in_(ids)))).all()
    }
    return [
        AwaitingDecision(
            request_id=request.id or 0,
            case_id=case.id or 0,
            number=case.number,
            kind=request.kind.label,
            days=request.days,
            requester=names.get(request.requested_by_id, "")
            if request.requested_by_id is not None
            else "反映人",
            reason=request.reason,
            created_at=request.created_at,
        )
        for request, case in mine
    ]


async def list_page_notices(session: AsyncSession, actor: Inspector) -> list[PageNotice]:
    """The latest notices queued for ``actor`` on the console (``Channel.CONSOLE``: what the
    bot would have sent a person with no Telegram), newest first."""
    rows = (
        await session.exec(
            select(Notification)
            .where(
                Notification.channel == Channel.CONSOLE,
                Notification.recipient_kind == RecipientKind.INSPECTOR,
                Notification.recipient_id == actor.id,
            )
            .order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
            .limit(NOTICES_MAX)
        )
    ).all()
    leader = actor.role is Role.LEADER
    return [
        PageNotice(
            row.created_at, page_text(row), row.case_id, leader and row.kind in LEADERS_DECIDE
        )
        for row in rows
    ]


async def get_home(
    session: AsyncSession, actor: Inspector, *, calendar: WorkCalendar, now: datetime
) -> Home:
    """The 工作台 of ``actor``: only cases they may see (``viewable_by``), requests they may
        decide, their own notices; the queue's counts for leaders and admins, with the open clues
    they may not see as counts (never as rows)."""
    team = await session.get(Team, actor.team_id) if actor.team_id else None
    leads = actor.role is Role.TEAM_LEADER and team is not None
    overdue = await search_cases(
        session, actor, filters=CaseFilters(overdue=True), page=1, now=now, calendar=calendar
    )
    mine, mine_total = await _open_cases(session, actor, mine=True, calendar=calendar, now=now)
    team_cases, team_total = (
        await _open_cases(session, actor, mine=False, calendar=calendar, now=now)
        if leads
        else (None, 0)
    )
    return Home(
        mine=mine,
        mine_total=mine_total,
        team=team_cases,
        team_total=team_total,
        team_name=team.name if team else None,
        overdue=overdue,
        approvals=await list_awaiting_decision(session, actor),
        notices=await list_page_notices(session, actor),
        stats=(
            await count_stats(session, actor, now)
            if actor.role in (Role.LEADER, Role.ADMIN)
            else None
        ),
        hidden_clues=overdue.hidden,  # counted once, with the overdue list
    )
