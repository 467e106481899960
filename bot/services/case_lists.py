"""What people read about cases: lists, /queue, /case, /stats and ``lianka cases``.

Queries only (nothing here commits) and no Telegram library: the command line's lists start fast.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import ColumnElement, and_, exists, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.assist import CaseAssist
from models.case import (
    AWAITING_ACCEPTANCE,
    FINISHED_STATUSES,
    OPEN_STATUSES,
    Case,
    CaseStatus,
)
from models.clock import CaseClock, ClockKind, ClockState, overdue_case_ids
from models.errors import NotFound, PermissionDenied
from models.event import CaseEvent
from models.org import Category, Track, Zone
from models.request import ApprovalRequest
from models.team import Inspector, Role, Team


async def get_case_by_number(session: AsyncSession, number: str) -> Case:
    case = (await session.exec(select(Case).where(Case.number == number.strip().upper()))).first()
    if case is None:
        raise NotFound(
            f"未找到编号为 {html.escape(number.strip()[:30])} 的问题。", detail="unknown number"
        )
    return case


def can_view(actor: Inspector, case: Case) -> bool:
    """The lead team's rule: the assignee and the team's leaders see a case; leaders and admins
    see appeals. A clue is seen only by its team leader and its assignee (DESIGN.md,
    "Categories"). A 协办 team sees the case too (室组联动): use cases ask ``may_view`` /
    ``require_view``, which look that up in the database; ``permissions.may_view_identity``
    keeps to this rule (a 协办 team never sees who reported)."""
    if case.assignee_id == actor.id and actor.team_id == case.team_id:
        return True
    if actor.role is Role.TEAM_LEADER and actor.team_id == case.team_id:
        return True
    return actor.role in (Role.LEADER, Role.ADMIN) and case.track is Track.APPEAL


def _assists_as(actor: Inspector, track: Track) -> bool:
    """Who in a 协办 team sees the case: its members on an appeal, its team leaders on a clue."""
    if actor.role is Role.TEAM_LEADER:
        return True
    return actor.role is Role.INSPECTOR and track is Track.APPEAL


def assisted_by(team_id: int | None) -> ColumnElement[bool]:
    """The cases ``team_id`` is an open 协办 team of (and not their lead team: a case moved to
    a team that assisted it is that team's own), as a WHERE clause on ``cases``."""
    return and_(
        col(Case.team_id).is_distinct_from(team_id),
        exists().where(
            col(CaseAssist.case_id) == col(Case.id),
            col(CaseAssist.team_id) == team_id,
            col(CaseAssist.removed_at).is_(None),
        ),
    )


def _in_assisted(team_id: int) -> ColumnElement[bool]:
    """The case is one ``team_id`` is an open 协办 team of, or leads and has a 协办 record of
    (callers ask for the team's own too): an uncorrelated ``IN``, read once a query."""
    return col(Case.id).in_(
        sa.select(col(CaseAssist.case_id)).where(
            col(CaseAssist.team_id) == team_id, col(CaseAssist.removed_at).is_(None)
        )
    )


def viewable_by(actor: Inspector) -> ColumnElement[bool]:
    """``may_view`` as a WHERE clause on ``cases``, for lists that filter in SQL (a test holds
    both to the same answers)."""
    if actor.role is Role.TEAM_LEADER and actor.team_id is not None:
        # the team's cases and those it assists: the rest (their own in the team, the 协办 of a
        # case the team leads) is in these, and left out so that the planner reads the team's
        return or_(col(Case.team_id) == actor.team_id, _in_assisted(actor.team_id))
    rules = [and_(col(Case.assignee_id) == actor.id, col(Case.team_id) == actor.team_id)]
    if actor.role is Role.TEAM_LEADER:
        rules.append(col(Case.team_id) == actor.team_id)
    if actor.role in (Role.LEADER, Role.ADMIN):
        rules.append(col(Case.track) == Track.APPEAL)
    if actor.team_id is not None and actor.role is Role.TEAM_LEADER:
        rules.append(assisted_by(actor.team_id))
    elif actor.team_id is not None and actor.role is Role.INSPECTOR:
        rules.append(and_(assisted_by(actor.team_id), col(Case.track) == Track.APPEAL))
    return or_(*rules)


async def assists_case(session: AsyncSession, actor: Inspector, case: Case) -> bool:
    """Whether ``actor``'s team is an open 协办 team of ``case`` (not its lead team)."""
    if actor.team_id is None or actor.team_id == case.team_id or case.id is None:
        return False
    found = await session.exec(
        select(CaseAssist.id).where(
            CaseAssist.case_id == case.id,
            CaseAssist.team_id == actor.team_id,
            col(CaseAssist.removed_at).is_(None),
        )
    )
    return found.first() is not None


async def may_view(session: AsyncSession, actor: Inspector, case: Case) -> bool:
    """Whether ``actor`` may see ``case``: ``can_view`` with the 协办 relation from the database."""
    if can_view(actor, case):
        return True
    return _assists_as(actor, case.track) and await assists_case(session, actor, case)


async def require_view(session: AsyncSession, actor: Inspector, case: Case) -> None:
    """Every view check of one case (the SQL lists ask ``viewable_by``)."""
    if not await may_view(session, actor, case):
        raise PermissionDenied(
            "您无权查看该问题。", detail=f"case {case.id}: inspector {actor.id} may not view it"
        )


@dataclass(frozen=True, slots=True)
class CaseLine:
    """One case in a list: where it stands and what is due next."""

    id: int
    number: str
    status: CaseStatus
    track: Track
    category: str
    team: str
    team_code: str
    assignee: str | None
    supervised: bool
    due_kind: ClockKind | None
    due_at: datetime | None
    overdue: bool
    created_at: datetime
    paused_at: datetime | None = None
    """While the clock waits for the reporter's answer: since when (its count stands still)."""
    assist_team_ids: frozenset[int] = frozenset()
    """The case's open 协办 teams (室组联动): lists mark the cases a viewer's team assists."""

    def is_assisted_by(self, team_id: int | None) -> bool:
        """Whether ``team_id`` assists this case (the 协办 mark in lists)."""
        return team_id is not None and team_id in self.assist_team_ids


def due_kinds(status: CaseStatus) -> tuple[ClockKind, ...]:
    """The clocks that may matter now, the first that runs winning: 签收 before acceptance;
    then a clue's approved disposition (线索处置, in place of 办结 once approved) or 办结; then
    回访."""
    if status in AWAITING_ACCEPTANCE:
        return (ClockKind.ACCEPT,)
    if status is CaseStatus.RESOLVED:
        return (ClockKind.FOLLOWUP,)
    return (ClockKind.DISPOSITION, ClockKind.RESOLVE)


WORK_CLOCKS = (ClockKind.ACCEPT, ClockKind.RESOLVE, ClockKind.DISPOSITION)
"""The clocks whose deadline passed makes a case count as overdue in /stats and the clue counts."""


def past_deadline(now: datetime) -> ColumnElement[bool]:
    """The case has a work clock past its deadline (overdue in /stats, the 工作台 and the clue
    counts; ``CaseClock.overdue_at``, a clock paused after it had passed included): looked up
    from the overdue clocks, which are few (``overdue_case_ids``), rather than a clock lookup
    for every case counted."""
    return col(Case.id).in_(overdue_case_ids(now, WORK_CLOCKS))


OPEN_STATUS_VALUES = tuple(sorted(status.value for status in OPEN_STATUSES))
"""The open statuses in the order ``ix_cases_open``'s predicate lists them (migration 0024)."""


def is_open() -> ColumnElement[bool]:
    """The case is open (``OPEN_STATUSES``), with the statuses written into the statement rather
    than sent as parameters: the planner then knows it may read ``ix_cases_open``, the open
    cases' index (a partial index serves only a statement that names its condition)."""
    return col(Case.status).in_(
        sa.bindparam("open_statuses", OPEN_STATUS_VALUES, expanding=True, literal_execute=True)
    )


CURRENT_CLOCK_VALUES = tuple(sorted((ClockState.PAUSED.value, ClockState.RUNNING.value)))
"""The states of a clock a line may show, as ``ix_case_clocks_current``'s predicate lists them."""


def is_current_clock() -> ColumnElement[bool]:
    """The clock runs or is paused (what a line may show), the states written into the statement
    so that the planner may read ``ix_case_clocks_current`` (as ``is_open``)."""
    return col(CaseClock.state).in_(
        sa.bindparam("current_states", CURRENT_CLOCK_VALUES, expanding=True, literal_execute=True)
    )


def _due_clock(case: Case, clocks: dict[ClockKind, CaseClock]) -> CaseClock | None:
    for kind in due_kinds(case.status):
        clock = clocks.get(kind)
        if clock is not None and clock.state in (ClockState.RUNNING, ClockState.PAUSED):
            return clock
    return None


async def case_lines(session: AsyncSession, cases: list[Case], now: datetime) -> list[CaseLine]:
    """The lines of ``cases`` in their order (a query helper: the caller has authorised)."""
    ids = [c.id for c in cases if c.id is not None]
    if not ids:
        return []
    clocks: dict[int, dict[ClockKind, CaseClock]] = {}
    for row in (await session.exec(select(CaseClock).where(col(CaseClock.case_id).in_(ids)))).all():
        clocks.setdefault(row.case_id, {})[row.kind] = row
    assists: dict[int, set[int]] = {}
    open_assists = select(CaseAssist).where(
        col(CaseAssist.case_id).in_(ids), col(CaseAssist.removed_at).is_(None)
    )
    for assist in (await session.exec(open_assists)).all():
        assists.setdefault(assist.case_id, set()).add(assist.team_id)
    teams = {t.id: t for t in (await session.exec(select(Team))).all()}
    categories = {c.id: c for c in (await session.exec(select(Category))).all()}
    people_ids = {c.assignee_id for c in cases if c.assignee_id is not None}
    people = {
        p.id: p
        for p in (
            await session.exec(select(Inspector).where(col(Inspector.id).in_(people_ids)))
        ).all()
    }
    lines = []
    for case in cases:
        assert case.id is not None
        clock = _due_clock(case, clocks.get(case.id, {}))
        team = teams.get(case.team_id)
        category = categories.get(case.category_id)
        assignee = people.get(case.assignee_id)
        lines.append(
            CaseLine(
                id=case.id,
                number=case.number,
                status=case.status,
                track=case.track,
                category=category.name if category else "",
                team=team.name if team else "—",
                team_code=team.code if team else "",
                assignee=assignee.name if assignee else None,
                supervised=case.supervised,
                due_kind=clock.kind if clock else None,
                due_at=clock.due_at if clock else None,
                overdue=bool(clock and clock.overdue_at(now)),
                created_at=case.created_at,
                paused_at=clock.paused_at if clock and clock.state is ClockState.PAUSED else None,
                assist_team_ids=frozenset(assists.get(case.id, ())) - {case.team_id},
            )
        )
    return lines


@dataclass(frozen=True, slots=True)
class Queue:
    """A page of open cases for the person asking."""

    title: str
    lines: list[CaseLine]
    page: int
    pages: int
    total: int
    can_assign: bool
    hidden: HiddenClues | None = None
    """Leaders and admins: the open clues not listed (counts only)."""


@dataclass(frozen=True, slots=True)
class HiddenClues:
    """Open clue cases a leader or admin may not see, as counts (DESIGN.md: leaders see clue
    counts and overdue figures, not clue rows)."""

    total: int
    overdue: int


async def count_hidden_clues(session: AsyncSession, actor: Inspector, now: datetime) -> HiddenClues:
    """The open clues ``actor`` may not see (``viewable_by``), and how many are overdue
    (``past_deadline``), in one pass over the open clues."""
    hidden = and_(col(Case.track) == Track.CLUE, is_open(), ~viewable_by(actor))
    late = sa.case((past_deadline(now), 1), else_=0)
    counted = select(func.count(), func.coalesce(func.sum(late), 0))
    total, overdue = (await session.exec(counted.select_from(Case).where(hidden))).one()
    return HiddenClues(int(total), int(overdue))


QUEUE_PAGE_SIZE = 8


def _due_at_column() -> ColumnElement[datetime]:
    """The deadline a list sorts by, in SQL: the due clock ``_due_clock`` picks (签收 before
    acceptance, 回访 once resolved, else 线索处置 then 办结; a running or paused one)."""

    def due(kind: ClockKind) -> ColumnElement[datetime]:
        return (
            select(CaseClock.due_at)
            .where(
                col(CaseClock.case_id) == col(Case.id),
                col(CaseClock.kind) == kind,
                col(CaseClock.state).in_([ClockState.RUNNING, ClockState.PAUSED]),
            )
            .scalar_subquery()
        )

    return sa.case(
        (col(Case.status).in_(AWAITING_ACCEPTANCE), due(ClockKind.ACCEPT)),
        (col(Case.status) == CaseStatus.RESOLVED, due(ClockKind.FOLLOWUP)),
        else_=func.coalesce(due(ClockKind.DISPOSITION), due(ClockKind.RESOLVE)),
    )


async def list_queue(session: AsyncSession, actor: Inspector, page: int, now: datetime) -> Queue:
    """/queue: a team leader sees the team's open cases and those it assists (协办), an
    inspector their own, leaders and admins every team's they may see (``viewable_by``: clues
    as a count, never as rows); 督办 and the most urgent first. Counted, sorted and paged in
    SQL: a province's open cases are never loaded to show eight."""
    where = [is_open(), viewable_by(actor)]
    if actor.role is Role.TEAM_LEADER:
        where.append(or_(col(Case.team_id) == actor.team_id, assisted_by(actor.team_id)))
        team = await session.get(Team, actor.team_id) if actor.team_id else None
        title = f"{team.name if team else ''} 待办问题"
    elif actor.role is Role.INSPECTOR:
        where.append(col(Case.assignee_id) == actor.id)
        title = "我承办的问题"
    else:
        title = "全部待办问题"
    total = int((await session.exec(select(func.count()).select_from(Case).where(*where))).one())
    pages = max(1, -(-total // QUEUE_PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    query = (
        select(Case)
        .where(*where)
        .order_by(col(Case.supervised).desc(), _due_at_column().asc().nulls_last(), col(Case.id))
        .offset(page * QUEUE_PAGE_SIZE)
        .limit(QUEUE_PAGE_SIZE)
    )
    cases = list((await session.exec(query)).all())
    return Queue(
        title=title,
        lines=await case_lines(session, cases, now),
        page=page,
        pages=pages,
        total=total,
        can_assign=actor.role in (Role.TEAM_LEADER, Role.ADMIN),
        hidden=(
            await count_hidden_clues(session, actor, now)
            if actor.role in (Role.LEADER, Role.ADMIN)
            else None
        ),
    )


async def list_cases(
    session: AsyncSession,
    now: datetime,
    *,
    status: CaseStatus | None = None,
    team_code: str | None = None,
) -> list[CaseLine]:
    """Every case (for admins on the command line), newest first, filtered by status and team."""
    query = select(Case).order_by(col(Case.id).desc())
    if status is not None:
        query = query.where(Case.status == status)
    if team_code is not None:
        team = (await session.exec(select(Team).where(Team.code == team_code))).first()
        if team is None:
            raise NotFound(f"未知的监督组 “{team_code}”。")
        query = query.where(Case.team_id == team.id)
    return await case_lines(session, list((await session.exec(query)).all()), now)


@dataclass(frozen=True, slots=True)
class CaseDetail:
    """A case with its clocks and full history (``/case``, ``lianka cases show``)."""

    line: CaseLine
    case: Case
    zone: str | None
    clocks: list[CaseClock]
    events: list[CaseEvent]
    requests: list[ApprovalRequest] = field(default_factory=list)
    assist_teams: list[str] = field(default_factory=list)
    """The names of the case's 协办 teams (室组联动)."""


async def case_detail(session: AsyncSession, case: Case, now: datetime) -> CaseDetail:
    assert case.id is not None
    (line,) = await case_lines(session, [case], now)
    zone = await session.get(Zone, case.zone_id) if case.zone_id else None
    clocks = list(
        (
            await session.exec(
                select(CaseClock).where(CaseClock.case_id == case.id).order_by(col(CaseClock.id))
            )
        ).all()
    )
    events = list(
        (
            await session.exec(
                select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(col(CaseEvent.seq))
            )
        ).all()
    )
    requests = list(
        (
            await session.exec(
                select(ApprovalRequest)
                .where(ApprovalRequest.case_id == case.id)
                .order_by(col(ApprovalRequest.id))
            )
        ).all()
    )
    assisting = await session.exec(
        select(Team.name)
        .join(CaseAssist, col(CaseAssist.team_id) == col(Team.id))
        .where(
            CaseAssist.case_id == case.id,
            col(CaseAssist.removed_at).is_(None),
            col(CaseAssist.team_id).is_distinct_from(case.team_id),
        )
        .order_by(col(CaseAssist.id))
    )
    zone_name = zone.name if zone else None
    return CaseDetail(line, case, zone_name, clocks, events, requests, list(assisting.all()))


async def show_case(
    session: AsyncSession, actor: Inspector, number: str, now: datetime
) -> CaseDetail:
    """/case <number>: for those who may see the case."""
    case = await get_case_by_number(session, number)
    await require_view(session, actor, case)
    return await case_detail(session, case, now)


@dataclass(frozen=True, slots=True)
class Stats:
    """/stats: open and closed counts by status and by team."""

    by_status: list[tuple[CaseStatus, int]]
    by_team: list[tuple[str, int, int, int]]  # team, open, resolved or closed, overdue
    supervised: int
    total: int
    amount_yuan: int


async def count_stats(session: AsyncSession, actor: Inspector, now: datetime) -> Stats:
    """Counts for leaders and admins: by status, by team (open, done, overdue), 督办, amount.
    Counted by the database (a queue of 1,000,000 cases is not loaded): one pass over the cases
    grouped by team and status, and the overdue ones found from the running clocks past their
    deadline (few) rather than a clock lookup for every open case."""
    if actor.role not in (Role.LEADER, Role.ADMIN):
        raise PermissionDenied("只有委领导和管理员可以查看统计。", detail="stats refused")
    connection = await session.connection()  # five columns: more than sqlmodel's select types
    grouped = (
        await connection.execute(
            sa.select(
                col(Case.team_id),
                col(Case.status),
                func.count(),
                func.coalesce(func.sum(sa.case((col(Case.supervised).is_(True), 1), else_=0)), 0),
                func.coalesce(func.sum(Case.amount_coordinated_yuan), 0),
            ).group_by(col(Case.team_id), col(Case.status))
        )
    ).all()
    overdue = (
        await session.exec(
            select(col(Case.team_id), func.count())
            .where(is_open(), past_deadline(now))
            .group_by(col(Case.team_id))
        )
    ).all()
    late = {team_id: int(n) for team_id, n in overdue}
    by_status: dict[CaseStatus, int] = {}
    counted: dict[int | None, tuple[int, int, int]] = {}
    supervised = total = amount = 0
    for team_id, raw_status, n, supervised_n, amount_n in grouped:
        status = CaseStatus(raw_status)
        by_status[status] = by_status.get(status, 0) + int(n)
        open_n, done_n, _ = counted.get(team_id, (0, 0, 0))
        if status in OPEN_STATUSES:
            open_n += int(n)
            supervised += int(supervised_n)
        if status in FINISHED_STATUSES:
            done_n += int(n)
        counted[team_id] = (open_n, done_n, late.get(team_id, 0))
        total += int(n)
        amount += int(amount_n)
    teams = (await session.exec(select(Team).order_by(col(Team.id)))).all()
    return Stats(
        by_status=[(s, by_status[s]) for s in CaseStatus if by_status.get(s)],
        by_team=[(team.name, *counted[team.id]) for team in teams if team.id in counted],
        supervised=supervised,
        total=total,
        amount_yuan=amount,
    )
