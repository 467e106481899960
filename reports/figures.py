"""The report's figures, computed in SQL (GROUP BY and aggregates) for one period and scope.

Statistical basis (统计口径): the cases received (受理) in the period, as they stand at ``now``;
card scans counted by the time of the scan; the overdue list is every case of the scope received
before the period's end that is overdue at ``now``. On-time means the clock's step was done by its
deadline, which is counted in working days (调休 included) when the clock is started; a clock
paused (the reporter asked) after its deadline had passed stays overdue, one paused with time
left is not. 满意率 counts every 回访 answer of those cases (each is an event): a case reopened
for 不满意 and later rated 满意 gave one of each, and a 不满意 left to the 委领导 counts too.
已办结 and 办结率 leave out withdrawn (撤回) and merged (合并办理) cases, and so does 涉及金额.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from models.calendar import SHANGHAI, WorkCalendar
from models.card import Card, CardScan
from models.case import (
    AWAITING_ACCEPTANCE,
    FINISHED_STATUSES,
    OPEN_STATUSES,
    Case,
    CaseStatus,
    Outcome,
    Satisfaction,
)
from models.clock import DEADLINE_CLOCKS, CaseClock, ClockKind, ClockState, overdue_clock
from models.disposition import ClueDisposition, Disposition, ProposalStatus
from models.enterprise import Enterprise
from models.errors import NotFound
from models.event import CaseEvent, EventKind
from models.org import Category, Track, Zone
from models.rectification import Rectification, RectificationState
from models.request import ApprovalRequest, RequestKind, RequestStatus
from models.team import Team
from reports.counts import filed_counts, repeat_counts
from reports.periods import Period

TREND_WEEKS = 12
RECURRING_MIN = 2
OVERDUE_LIST_LIMIT = 200

CASES: sa.Table = Case.__table__  # type: ignore[attr-defined]
CLOCKS: sa.Table = CaseClock.__table__  # type: ignore[attr-defined]
CATEGORIES: sa.Table = Category.__table__  # type: ignore[attr-defined]
ZONES: sa.Table = Zone.__table__  # type: ignore[attr-defined]
TEAMS: sa.Table = Team.__table__  # type: ignore[attr-defined]
TOP_LIMIT = 20

NO_ZONE = "未标明园区"
"""Where a case of no zone (a card given out without one) is counted."""


@dataclass(frozen=True, slots=True)
class Scope:
    """All cases, or one zone's, or one team's (or both)."""

    zone_id: int | None = None
    zone_name: str | None = None
    team_id: int | None = None
    team_name: str | None = None

    @property
    def label(self) -> str:
        parts = [name for name in (self.zone_name, self.team_name) if name]
        return "、".join(parts) if parts else "全区"


async def resolve_scope(
    session: AsyncSession, zone_code: str | None = None, team_code: str | None = None
) -> Scope:
    """The scope named by a zone and/or team code; an unknown code is refused in Chinese."""
    zone = team = None
    if zone_code:
        zone = await _rows(session, sa.select(ZONES).where(col(Zone.code) == zone_code))
        if not zone:
            raise NotFound(f"未找到园区“{zone_code}”。")
    if team_code:
        team = await _rows(session, sa.select(TEAMS).where(col(Team.code) == team_code))
        if not team:
            raise NotFound(f"未找到监督组“{team_code}”。")
    return Scope(
        zone_id=zone[0].id if zone else None,
        zone_name=zone[0].name if zone else None,
        team_id=team[0].id if team else None,
        team_name=team[0].name if team else None,
    )


@dataclass(frozen=True, slots=True)
class Share:
    """One line of a breakdown: a name, its count, and what part of the whole it is."""

    name: str
    count: int
    resolved: int
    share: float | None


@dataclass(frozen=True, slots=True)
class ClockRate:
    """Steps done by the deadline against steps done late or overdue now (still-running clocks
    not yet due, clocks paused with time left and cancelled clocks are not counted)."""

    kind: ClockKind
    on_time: int
    late: int

    @property
    def counted(self) -> int:
        return self.on_time + self.late

    @property
    def rate(self) -> float | None:
        return ratio(self.on_time, self.counted)


@dataclass(frozen=True, slots=True)
class TeamTimeliness:
    name: str
    received: int
    resolved: int
    resolve: ClockRate


@dataclass(frozen=True, slots=True)
class OverdueCase:
    number: str
    category: str
    team: str
    status: CaseStatus
    clock: ClockKind
    due_at: datetime
    overdue_workdays: int
    supervised: bool


@dataclass(frozen=True, slots=True)
class RecurringEnterprise:
    name: str
    zone: str
    cases: int
    categories: str


@dataclass(frozen=True, slots=True)
class TypicalCase:
    """A case the report tells as an example (典型案例), from its recorded facts only: no
    description, reporter or enterprise name (an appeal's enterprise is 某企业; a clue says even
    less)."""

    reason: str  # "amount": the most money recovered, "supervised": 督办, "reopened": 重办
    number: str
    track: Track
    category: str
    zone: str | None
    team: str | None
    status: CaseStatus
    created_at: datetime
    resolved_at: datetime | None
    supervised_at: datetime | None
    outcome: Outcome | None
    satisfaction: Satisfaction | None
    amount_involved_yuan: int | None
    amount_coordinated_yuan: int | None
    reopen_count: int
    workdays: int | None  # received to resolved, in working days


@dataclass(frozen=True, slots=True)
class TrendPoint:
    first: date  # the Monday of the week
    count: int

    @property
    def label(self) -> str:
        return f"{self.first.month}/{self.first.day}"


# --- 立案 and 重复件 (issue 17) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FiledFigures:
    """立案: the clue dispositions a 委领导 approved in the period (集体研判), by kind, and the
    clues placed on file (立案审查) with the people placed on file with them (件/人). Counts
    only: no clue's text, reporter or enterprise."""

    cases: int = 0  # 立案审查 件
    people: int = 0  # 立案审查 人
    by_kind: dict[Disposition, int] = field(default_factory=dict)  # approved in the period
    pending: int = 0  # proposals waiting for 组长审核 or 委领导审批 now

    def count(self, kind: Disposition) -> int:
        return self.by_kind.get(kind, 0)

    @property
    def decided(self) -> int:
        return sum(self.by_kind.values())

    @property
    def shown(self) -> list[tuple[str, int]]:
        """The kinds approved in the period but 立案审查 (told with its 人), in the order of
        the rules: (label, 件)."""
        return [
            (kind.label, self.count(kind))
            for kind in Disposition
            if kind is not Disposition.FILE and self.count(kind)
        ]


@dataclass
class RepeatFigures:
    """重复件: cases received in the period flagged as repeats of an earlier case, those merged
    (合并办理) in the period, and the zones and categories of the flagged ones."""

    flagged: int = 0
    merged: int = 0
    by_zone: list[Share] = field(default_factory=list)  # share: of the flagged
    by_category: list[Share] = field(default_factory=list)


# --- 打击报复回访 ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AftercareFigures:
    """防打击报复回访 in the period, counted by when each step happened (the question is asked
    ``[aftercare] days`` after 办结, so it belongs to no cohort of cases received): asked,
    answered 没有 or 有 (each 有 opened a clue), and closed 未答复. ``hidden``: a team's own
    report does not show them (a 有 on that team's case is not the team's to know)."""

    asked: int = 0
    answered_none: int = 0
    answered_yes: int = 0
    unanswered: int = 0
    hidden: bool = False

    @property
    def answered(self) -> int:
        return self.answered_none + self.answered_yes


async def _aftercare(session: AsyncSession, figures: Figures) -> None:
    """打击报复回访: the steps of the 防打击报复回访 recorded in the period, on the cases of the
    scope's zone (never for one team's scope)."""
    if figures.scope.team_id is not None:
        figures.aftercare = AftercareFigures(hidden=True)
        return
    kinds = (
        EventKind.AFTERCARE_ASKED,
        EventKind.AFTERCARE_ANSWERED,
        EventKind.AFTERCARE_UNANSWERED,
    )
    answer = col(CaseEvent.data)["answer"].as_string()
    counted = (
        sa.select(col(CaseEvent.kind), answer, sa.func.count())
        .where(
            col(CaseEvent.kind).in_(kinds),
            col(CaseEvent.created_at) >= figures.period.start,
            col(CaseEvent.created_at) < figures.period.end,
        )
        .group_by(col(CaseEvent.kind), answer)
    )
    if figures.scope.zone_id is not None:  # the cases only when a zone narrows them
        counted = counted.join(Case, col(Case.id) == col(CaseEvent.case_id)).where(
            *_in_scope(figures.scope)
        )
    counts: dict[str, int] = defaultdict(int)
    for kind, given, n in await _rows(session, counted):  # counted in SQL: a month has many
        given = given if kind == EventKind.AFTERCARE_ANSWERED else None
        counts[f"{kind}:{given or ''}"] += int(n)
    figures.aftercare = AftercareFigures(
        asked=counts[f"{EventKind.AFTERCARE_ASKED}:"],
        answered_none=counts[f"{EventKind.AFTERCARE_ANSWERED}:none"],
        answered_yes=counts[f"{EventKind.AFTERCARE_ANSWERED}:yes"],
        unanswered=counts[f"{EventKind.AFTERCARE_UNANSWERED}:"],
    )


# --- end of 打击报复回访 -------------------------------------------------------------------------


@dataclass
class Figures:
    """Everything the report says about one period and scope."""

    period: Period
    scope: Scope
    now: datetime
    received: int = 0  # every case received in the period (each was given a 受理编号)
    resolved: int = 0  # 已办结: resolved or closed, merged ones left out
    closed: int = 0
    withdrawn: int = 0  # 撤回 by the reporter
    merged: int = 0  # 合并办理 into an earlier case: neither 已办结 nor in 办结率
    open: int = 0
    clues: int = 0  # clue-track cases received (问题线索)
    clues_transferred: int = 0  # outcome 移交线索
    reopened: int = 0
    supervised: int = 0
    extensions: int = 0  # approved extension requests
    extended_cases: int = 0
    amount_involved_yuan: int = 0  # withdrawn and merged cases left out
    amount_coordinated_yuan: int = 0
    coordinated_cases: int = 0
    enterprises: int = 0
    cards_scanned: int = 0
    cards_scanned_distinct: int = 0
    by_category: list[Share] = field(default_factory=list)
    by_track: list[Share] = field(default_factory=list)
    by_zone: list[Share] = field(default_factory=list)
    by_team: list[Share] = field(default_factory=list)
    clocks: dict[ClockKind, ClockRate] = field(default_factory=dict)
    satisfaction: dict[Satisfaction, int] = field(default_factory=dict)
    # detail (the current period only)
    median_workdays: float | None = None
    p90_workdays: int | None = None
    timeliness_by_team: list[TeamTimeliness] = field(default_factory=list)
    overdue_count: int = 0
    overdue: list[OverdueCase] = field(default_factory=list)  # appeals only: clues are counted
    overdue_clues: int = 0  # of ``overdue_count``: never listed (a clue's row is its team's)
    recurring_count: int = 0
    recurring: list[RecurringEnterprise] = field(default_factory=list)
    trend: list[TrendPoint] = field(default_factory=list)
    recurring_by_category: list[Share] = field(default_factory=list)  # their cases by category
    overdue_by_team: list[Share] = field(default_factory=list)  # share: of the overdue cases
    unsatisfied_by_team: list[Share] = field(default_factory=list)  # 不满意 answers
    typical: list[TypicalCase] = field(default_factory=list)
    # 立案 (issue 17): the clue dispositions a 委领导 approved in the period, by kind, and the
    # clues placed on file (立案审查) with their people — figures only, never a clue's text.
    filed: FiledFigures = field(default_factory=lambda: FiledFigures())
    # 重复件 (issue 17): repeat reports received in the period, merged in it, where they cluster.
    repeats: RepeatFigures = field(default_factory=lambda: RepeatFigures())
    # 整改 (issue 17): rectifications set, verified on time or late, overdue; 整改到位率.
    rectification: RectificationFigures = field(default_factory=lambda: RectificationFigures())
    aftercare: AftercareFigures = field(default_factory=AftercareFigures)  # 打击报复回访
    case_ids: tuple[int, int] | None = None  # the cohort's lowest and highest case id

    @property
    def resolved_rate(self) -> float | None:
        """办结率: resolved of the cases received, withdrawn and merged ones left out."""
        return ratio(self.resolved, self.received - self.withdrawn - self.merged)

    @property
    def on_time_rate(self) -> float | None:
        """按期办结率: the 办结 clock's on-time rate."""
        return self.clock(ClockKind.RESOLVE).rate

    def clock(self, kind: ClockKind) -> ClockRate:
        return self.clocks.get(kind, ClockRate(kind, 0, 0))

    @property
    def rated(self) -> int:
        return sum(
            self.satisfaction.get(s, 0)
            for s in (Satisfaction.SATISFIED, Satisfaction.BASIC, Satisfaction.UNSATISFIED)
        )

    @property
    def satisfaction_rate(self) -> float | None:
        """满意率: (满意 + 基本满意) of the 回访 answers (a case reopened for 不满意 and then
        rated 满意 gave two; a 不满意 left to the 委领导 is one); 未评价 is not counted."""
        return ratio(
            self.satisfaction.get(Satisfaction.SATISFIED, 0)
            + self.satisfaction.get(Satisfaction.BASIC, 0),
            self.rated,
        )

    @property
    def top_categories(self) -> list[Share]:
        return [share for share in self.by_category if share.count][:3]


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def nearest_rank(values: Sequence[int], percent: int) -> int | None:
    """The smallest value with at least ``percent``% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent * len(ordered) / 100) - 1)]


async def _rows(session: AsyncSession, statement: sa.Executable) -> list[Any]:
    connection = await session.connection()
    return list((await connection.execute(statement)).all())


def _local_day(column: Any, dialect: str) -> Any:
    """The Asia/Shanghai calendar day of a UTC timestamp column (no DST there since 1991)."""
    if dialect == "postgresql":
        return sa.func.date(sa.func.timezone("Asia/Shanghai", column))
    return sa.func.date(column, "+8 hours")


def _day(value: Any) -> date:
    """A ``_local_day`` as read back: a date from PostgreSQL, ``YYYY-MM-DD`` from SQLite."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _in_scope(scope: Scope) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if scope.zone_id is not None:
        conditions.append(col(Case.zone_id) == scope.zone_id)
    if scope.team_id is not None:
        conditions.append(col(Case.team_id) == scope.team_id)
    return conditions


def _cohort(period: Period, scope: Scope) -> list[sa.ColumnElement[bool]]:
    """The cases of the scope received in the period."""
    return [
        col(Case.created_at) >= period.start,
        col(Case.created_at) < period.end,
        *_in_scope(scope),
    ]


async def _cohort_ids(
    session: AsyncSession, cohort: list[sa.ColumnElement[bool]]
) -> tuple[int, int] | None:
    """The lowest and highest id of the cohort's cases (None when it has none), read once per
    report for the clock rates and the case list (``_cohort_clocks``)."""
    # with the count beside them PostgreSQL reads the cohort by its index: min and max alone
    # become a walk along the primary key from the first case until one is in the period
    ((low, high, count),) = await _rows(
        session,
        sa.select(sa.func.min(col(Case.id)), sa.func.max(col(Case.id)), sa.func.count()).where(
            *cohort
        ),
    )
    return (int(low), int(high)) if count else None


def _cohort_clocks(ids: tuple[int, int] | None) -> sa.ColumnElement[bool]:
    """The clocks of the cohort's id range, as a WHERE clause on ``case_clocks`` beside the join
    to the cohort's cases: ids rise with time, so the range of a month's cases is a month's
    slice of the clocks, read through the ``case_id`` index rather than every clock of the year
    hashed (a condition every cohort clock meets: the answers are the same whatever the ids)."""
    if ids is None:
        return sa.false()
    return col(CaseClock.case_id).between(*ids)


def _cohort_events(ids: tuple[int, int] | None) -> sa.ColumnElement[bool]:
    """``_cohort_clocks`` for ``case_events``."""
    if ids is None:
        return sa.false()
    return col(CaseEvent.case_id).between(*ids)


def _flag(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _merged() -> sa.ColumnElement[bool]:
    """A repeat closed into an earlier case (合并办理): closed, but not 办结."""
    return col(Case.merged_into_id).is_not(None)


def _resolved() -> sa.ColumnElement[bool]:
    """已办结: resolved or closed after 办结; a merged repeat is closed without one."""
    return sa.and_(col(Case.status).in_(FINISHED_STATUSES), col(Case.merged_into_id).is_(None))


def _late(now: datetime) -> sa.ColumnElement[bool]:
    """A clock done after its deadline, or overdue now (``models.clock.overdue_clock``: a clock
    paused after its deadline included, as on the console)."""
    return sa.or_(
        sa.and_(
            col(CaseClock.state) == ClockState.MET, col(CaseClock.met_at) > col(CaseClock.due_at)
        ),
        overdue_clock(now),
    )


def _on_time() -> sa.ColumnElement[bool]:
    return sa.and_(
        col(CaseClock.state) == ClockState.MET, col(CaseClock.met_at) <= col(CaseClock.due_at)
    )


async def _names(session: AsyncSession, table: Any) -> dict[int, Any]:
    return {row.id: row for row in await _rows(session, sa.select(table))}


async def compute_figures(
    session: AsyncSession,
    period: Period,
    scope: Scope,
    calendar: WorkCalendar,
    now: datetime,
    *,
    detail: bool = True,
) -> Figures:
    """The figures of ``period`` for ``scope`` as they stand at ``now``; ``detail`` adds the
    durations, the timeliness by team, the overdue list, recurring enterprises, the trend and
    打击报复回访 (the figures of the period before are compared only where a change is told)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    figures = Figures(period=period, scope=scope, now=now)
    cohort = _cohort(period, scope)
    done = _resolved()
    withdrawn = col(Case.status) == CaseStatus.WITHDRAWN
    # 涉及金额: what the cases still in hand claim, not what was withdrawn or merged elsewhere
    involved = sa.case((sa.or_(withdrawn, _merged()), None), else_=col(Case.amount_involved_yuan))

    (totals,) = await _rows(
        session,
        sa.select(
            sa.func.count(),
            _flag(done),
            _flag(col(Case.status) == CaseStatus.CLOSED),
            _flag(withdrawn),
            _flag(_merged()),
            _flag(col(Case.status).in_(OPEN_STATUSES)),
            _flag(col(Case.track) == Track.CLUE),
            _flag(col(Case.outcome) == Outcome.CLUE_TRANSFERRED),
            _flag(col(Case.reopen_count) > 0),
            _flag(col(Case.supervised).is_(True)),
            sa.func.coalesce(sa.func.sum(involved), 0),
            sa.func.coalesce(sa.func.sum(col(Case.amount_coordinated_yuan)), 0),
            _flag(col(Case.amount_coordinated_yuan) > 0),
            sa.func.count(sa.distinct(col(Case.enterprise_id))),
            *(_flag(col(Case.satisfaction) == rating) for rating in Satisfaction),
        ).where(*cohort),
    )
    (
        figures.received,
        figures.resolved,
        figures.closed,
        figures.withdrawn,
        figures.merged,
        figures.open,
        figures.clues,
        figures.clues_transferred,
        figures.reopened,
        figures.supervised,
        figures.amount_involved_yuan,
        figures.amount_coordinated_yuan,
        figures.coordinated_cases,
        figures.enterprises,
        *ratings,
    ) = (int(value) for value in totals)
    figures.case_ids = await _cohort_ids(session, cohort)
    # Every 回访 answer counts, not only each case's last: a case's rating is its last answer,
    # and each 不满意 is an event, whether it reopened the case (重办, perhaps later rated 满意)
    # or went to the 委领导 (past the 重办 limit) and never raised ``reopen_count``.
    unsatisfied_by_team = await _unsatisfied(session, cohort, period, figures.case_ids)
    figures.satisfaction = dict(zip(Satisfaction, ratings, strict=True))
    figures.satisfaction[Satisfaction.UNSATISFIED] = sum(unsatisfied_by_team.values())

    categories = await _names(session, CATEGORIES)
    zones = await _names(session, ZONES)
    teams = await _names(session, TEAMS)
    groups = await _rows(
        session,
        sa.select(
            col(Case.category_id),
            col(Case.zone_id),
            col(Case.team_id),
            col(Case.track),  # the case's own: a category's track may have changed since
            sa.func.count(),
            _flag(done),
        )
        .where(*cohort)
        .group_by(col(Case.category_id), col(Case.zone_id), col(Case.team_id), col(Case.track)),
    )
    by: dict[str, dict[Any, list[int]]] = {k: defaultdict(lambda: [0, 0]) for k in "cztk"}
    for category_id, zone_id, team_id, track, count, resolved in groups:
        for key, value in (("c", category_id), ("z", zone_id), ("t", team_id), ("k", track)):
            by[key][value][0] += int(count)
            by[key][value][1] += int(resolved)
    figures.by_category = _shares(
        by["c"],
        [(c.id, c.name) for c in sorted(categories.values(), key=lambda c: c.sort_order)],
        figures.received,
    )
    figures.by_zone = _shares(
        by["z"], [(z.id, z.name) for z in zones.values()] + [(None, NO_ZONE)], figures.received
    )
    figures.by_team = _shares(
        by["t"], [(t.id, t.name) for t in teams.values()] + [(None, "未分办")], figures.received
    )
    figures.by_track = _shares(by["k"], [(t.value, t.label) for t in Track], figures.received)

    clock_rows = await _rows(
        session,
        sa.select(col(CaseClock.kind), col(Case.team_id), _flag(_on_time()), _flag(_late(now)))
        .join(Case, col(Case.id) == col(CaseClock.case_id))
        .where(*cohort, col(CaseClock.kind).in_(DEADLINE_CLOCKS), _cohort_clocks(figures.case_ids))
        .group_by(col(CaseClock.kind), col(Case.team_id)),
    )
    per_kind: dict[ClockKind, list[int]] = defaultdict(lambda: [0, 0])
    per_team: dict[Any, list[int]] = defaultdict(lambda: [0, 0])
    for kind, team_id, on_time, late in clock_rows:
        per_kind[ClockKind(kind)][0] += int(on_time)
        per_kind[ClockKind(kind)][1] += int(late)
        if ClockKind(kind) is ClockKind.RESOLVE:
            per_team[team_id][0] += int(on_time)
            per_team[team_id][1] += int(late)
    figures.clocks = {
        kind: ClockRate(kind, per_kind[kind][0], per_kind[kind][1]) for kind in DEADLINE_CLOCKS
    }

    (extensions,) = await _rows(
        session,
        sa.select(sa.func.count(), sa.func.count(sa.distinct(col(ApprovalRequest.case_id))))
        .join(Case, col(Case.id) == col(ApprovalRequest.case_id))
        .where(
            *cohort,
            col(ApprovalRequest.kind) == RequestKind.EXTENSION,
            col(ApprovalRequest.status) == RequestStatus.APPROVED,
        ),
    )
    figures.extensions, figures.extended_cases = int(extensions[0]), int(extensions[1])

    scans = sa.select(sa.func.count(), sa.func.count(sa.distinct(col(CardScan.card_id)))).where(
        col(CardScan.scanned_at) >= period.start, col(CardScan.scanned_at) < period.end
    )
    if scope.zone_id is not None:
        scans = scans.join(Card, col(Card.id) == col(CardScan.card_id)).where(
            col(Card.zone_id) == scope.zone_id
        )
    (scanned,) = await _rows(session, scans)
    figures.cards_scanned, figures.cards_scanned_distinct = int(scanned[0]), int(scanned[1])

    await _filed(session, figures, period, scope)
    await _repeats(session, figures, period, scope)
    if not detail:
        return figures
    await _aftercare(session, figures)  # 打击报复回访: the current period's alone is shown

    received_on = _local_day(col(Case.created_at), dialect)
    resolved_on = _local_day(col(Case.resolved_at), dialect)
    days: list[int] = []
    for received, resolved, n in await _rows(  # a month's cases on a few thousand day pairs
        session,
        sa.select(received_on, resolved_on, sa.func.count())
        .where(*cohort, done, col(Case.resolved_at).is_not(None))
        .group_by(received_on, resolved_on),
    ):
        days += [calendar.workdays_between(_day(received), _day(resolved))] * int(n)
    figures.median_workdays = float(statistics.median(days)) if days else None
    figures.p90_workdays = nearest_rank(days, 90)

    team_names = [(t.id, t.name) for t in teams.values()] + [(None, "未分办")]
    timeliness = [
        TeamTimeliness(
            name,
            by["t"][team_id][0],
            by["t"][team_id][1],
            ClockRate(ClockKind.RESOLVE, per_team[team_id][0], per_team[team_id][1]),
        )
        for team_id, name in team_names
        if by["t"].get(team_id, [0])[0]
    ]
    figures.timeliness_by_team = sorted(timeliness, key=lambda t: -t.received)

    await _overdue(
        session,
        figures,
        period=period,
        scope=scope,
        calendar=calendar,
        now=now,
        categories=categories,
        teams=teams,
    )
    await _recurring(session, figures, cohort, zones, categories)
    await _trend(session, figures, period, scope, dialect)
    _unsatisfied_by_team(figures, unsatisfied_by_team, teams)
    names = Names(categories, zones, teams)
    await _typical(session, figures, cohort, calendar, names)
    await _repeat_clusters(session, figures, cohort, names)
    figures.rectification = await rectification_figures(session, period, scope, now)
    return figures


# --- 整改 (反馈整改 and its 核验) ---


@dataclass(frozen=True, slots=True)
class RectificationFigures:
    """整改 in the period, by the rectifications' own dates (not the cohort of cases received):
    set (反馈整改) in the period, verified (核验通过) in it, on time or late; open now and
    overdue now (set before the period ended); and those due in the period up to ``now``."""

    set: int = 0
    verified: int = 0
    verified_on_time: int = 0
    verified_late: int = 0
    open: int = 0
    overdue: int = 0
    due: int = 0  # deadline in the period, before ``now``; lapsed ones left out
    due_on_time: int = 0  # of those, verified (核验通过) by the deadline
    overdue_units: list[Share] = field(default_factory=list)  # 责任单位 of the overdue ones

    @property
    def rate(self) -> float | None:
        """整改到位率: of the rectifications whose deadline fell in the period (up to the
        report's ``now``; lapsed ones left out), the share the assignee verified as done (核验
        通过) by that deadline. One verified late, or still open past it, counts against."""
        return ratio(self.due_on_time, self.due)

    @property
    def any(self) -> bool:
        return bool(self.set or self.verified or self.open or self.due)


async def rectification_figures(
    session: AsyncSession, period: Period, scope: Scope, now: datetime
) -> RectificationFigures:
    """The 整改 figures of ``period`` for ``scope`` as they stand at ``now``."""
    r = col(Rectification.state)
    verified = r == RectificationState.VERIFIED
    on_time = sa.and_(verified, col(Rectification.verified_at) <= col(Rectification.due_at))
    in_period = [col(Rectification.set_at) < period.end]
    verified_in = sa.and_(
        verified,
        col(Rectification.verified_at) >= period.start,
        col(Rectification.verified_at) < period.end,
    )
    due_in = sa.and_(
        r != RectificationState.LAPSED,
        col(Rectification.due_at) >= period.start,
        col(Rectification.due_at) < min(period.end, now),
    )
    is_open = r == RectificationState.OPEN
    overdue = sa.and_(is_open, col(Rectification.due_at) < now)
    counted = sa.select(
        _flag(col(Rectification.set_at) >= period.start),
        _flag(verified_in),
        _flag(sa.and_(verified_in, on_time)),
        _flag(sa.and_(verified_in, sa.not_(on_time))),
        _flag(is_open),
        _flag(overdue),
        _flag(due_in),
        _flag(sa.and_(due_in, on_time)),
    ).where(*in_period)
    units = (
        sa.select(col(Rectification.unit), sa.func.count())
        .where(*in_period, overdue)
        .group_by(col(Rectification.unit))
        .order_by(sa.func.count().desc(), col(Rectification.unit))
        .limit(TOP_LIMIT)
    )
    if scoped := _in_scope(scope):  # the cases only when a zone or team narrows them
        counted = counted.join(Case, col(Case.id) == col(Rectification.case_id)).where(*scoped)
        units = units.join(Case, col(Case.id) == col(Rectification.case_id)).where(*scoped)
    (row,) = await _rows(session, counted)
    unit_rows = await _rows(session, units)
    (set_, verified_n, on_time_n, late_n, open_n, overdue_n, due_n, due_on_time) = (
        int(v) for v in row
    )
    return RectificationFigures(
        set=set_, verified=verified_n, verified_on_time=on_time_n, verified_late=late_n,
        open=open_n, overdue=overdue_n, due=due_n, due_on_time=due_on_time,
        overdue_units=[Share(unit, int(n), 0, ratio(int(n), overdue_n)) for unit, n in unit_rows],
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Names:
    """Categories, zones and teams by id, as rows with ``name``."""

    categories: dict[int, Any]
    zones: dict[int, Any]
    teams: dict[int, Any]

    def team(self, team_id: int | None) -> str | None:
        return self.teams[team_id].name if team_id in self.teams else None

    def zone(self, zone_id: int | None) -> str | None:
        return self.zones[zone_id].name if zone_id in self.zones else None


async def _unsatisfied(
    session: AsyncSession,
    cohort: list[sa.ColumnElement[bool]],
    period: Period,
    ids: tuple[int, int] | None,
) -> dict[int | None, int]:
    """The 不满意 answers given at 回访 to the cohort's cases, by the case's team: every one
    the follow-up recorded (``FOLLOWUP_ANSWERED``), whether it reopened the case or was left to
    the 委领导. None of them before the period began (the cases were received in it)."""
    answer = col(CaseEvent.data)["satisfaction"].as_string()
    rows = await _rows(
        session,
        sa.select(col(Case.team_id), sa.func.count())
        .select_from(
            sa.join(
                CaseEvent.__table__,  # type: ignore[attr-defined]
                CASES,
                col(Case.id) == col(CaseEvent.case_id),
            )
        )
        .where(
            col(CaseEvent.kind) == EventKind.FOLLOWUP_ANSWERED,
            col(CaseEvent.created_at) >= period.start,
            _cohort_events(ids),
            answer == Satisfaction.UNSATISFIED.value,
            *cohort,
        )
        .group_by(col(Case.team_id)),
    )
    return {team_id: int(n) for team_id, n in rows}


def _unsatisfied_by_team(
    figures: Figures, unsatisfied: dict[int | None, int], teams: dict[int, Any]
) -> None:
    """The 不满意 answers by the team that handled the case."""
    total = figures.satisfaction.get(Satisfaction.UNSATISFIED, 0)
    shares = [
        Share(teams[team_id].name if team_id in teams else "未分办", n, 0, ratio(n, total))
        for team_id, n in unsatisfied.items()
        if n
    ]
    figures.unsatisfied_by_team = sorted(shares, key=lambda share: (-share.count, share.name))


async def _filed(session: AsyncSession, figures: Figures, period: Period, scope: Scope) -> None:
    """立案: 件 and 人 (``reports.counts.filed_counts``), every disposition approved in the period
    by kind, and the proposals waiting for a decision now, all within the scope."""
    cases, people = await filed_counts(
        session, period.start, period.end, zone_id=scope.zone_id, team_id=scope.team_id
    )
    joined = sa.join(
        ClueDisposition.__table__,  # type: ignore[attr-defined]
        CASES,
        col(Case.id) == col(ClueDisposition.case_id),
    )
    rows = await _rows(
        session,
        sa.select(col(ClueDisposition.kind), sa.func.count())
        .select_from(joined)
        .where(
            col(ClueDisposition.status) == ProposalStatus.APPROVED,
            col(ClueDisposition.decided_at) >= period.start,
            col(ClueDisposition.decided_at) < period.end,
            *_in_scope(scope),
        )
        .group_by(col(ClueDisposition.kind)),
    )
    (pending,) = await _rows(
        session,
        sa.select(sa.func.count())
        .select_from(joined)
        .where(
            col(ClueDisposition.status).in_([ProposalStatus.PROPOSED, ProposalStatus.REVIEWED]),
            col(ClueDisposition.proposed_at) < period.end,
            *_in_scope(scope),
        ),
    )
    by_kind = {kind: 0 for kind in Disposition}
    by_kind.update({Disposition(kind): int(n) for kind, n in rows})
    figures.filed = FiledFigures(cases, people, by_kind, int(pending[0]))


async def _repeats(session: AsyncSession, figures: Figures, period: Period, scope: Scope) -> None:
    """重复件: flagged among the cases received in the period, merged in the period
    (``reports.counts.repeat_counts``)."""
    counts = await repeat_counts(
        session, period.start, period.end, zone_id=scope.zone_id, team_id=scope.team_id
    )
    figures.repeats = RepeatFigures(flagged=counts.flagged, merged=counts.merged)


async def _repeat_clusters(
    session: AsyncSession, figures: Figures, cohort: list[sa.ColumnElement[bool]], names: Names
) -> None:
    """重复件 by zone and by category (what recurs, and where)."""
    if not figures.repeats.flagged:
        return
    rows = await _rows(
        session,
        sa.select(col(Case.zone_id), col(Case.category_id), sa.func.count())
        .where(*cohort, col(Case.repeat_of_id).is_not(None))
        .group_by(col(Case.zone_id), col(Case.category_id)),
    )
    zones: dict[str, int] = defaultdict(int)
    categories: dict[str, int] = defaultdict(int)
    for zone_id, category_id, n in rows:
        zones[names.zone(zone_id) or NO_ZONE] += int(n)
        categories[names.categories[category_id].name] += int(n)
    total = figures.repeats.flagged

    def shares(counts: dict[str, int]) -> list[Share]:
        return sorted(
            (Share(name, n, 0, ratio(n, total)) for name, n in counts.items()),
            key=lambda share: (-share.count, share.name),
        )

    figures.repeats.by_zone = shares(zones)
    figures.repeats.by_category = shares(categories)


TYPICAL: tuple[tuple[str, Any, tuple[Any, ...]], ...] = (
    (
        "amount",
        col(Case.amount_coordinated_yuan) > 0,
        (col(Case.amount_coordinated_yuan).desc(), col(Case.id)),
    ),
    ("supervised", col(Case.supervised).is_(True), (col(Case.supervised_at), col(Case.id))),
    ("reopened", col(Case.reopen_count) > 0, (col(Case.reopen_count).desc(), col(Case.id))),
)


async def _typical(
    session: AsyncSession,
    figures: Figures,
    cohort: list[sa.ColumnElement[bool]],
    calendar: WorkCalendar,
    names: Names,
) -> None:
    """One case for each kind of example, each case told once: the most money recovered, the
    first 督办, the most reopened (重办). Appeals only: a report is printed and filed, and its
    readers see clues as counts (SECURITY.md), never by 受理编号, team and dates."""
    chosen: list[int] = []
    for reason, condition, order in TYPICAL:
        rows = await _rows(
            session,
            sa.select(CASES)
            .where(
                *cohort,
                col(Case.track) == Track.APPEAL,
                condition,
                col(Case.id).not_in(chosen or [0]),
            )
            .order_by(*order)
            .limit(1),
        )
        if not rows:
            continue
        row = rows[0]
        chosen.append(row.id)
        finished = CaseStatus(row.status) in FINISHED_STATUSES and row.resolved_at is not None
        figures.typical.append(
            TypicalCase(
                reason=reason,
                number=row.number,
                track=Track(row.track),
                category=names.categories[row.category_id].name,
                zone=names.zone(row.zone_id),
                team=names.team(row.team_id),
                status=CaseStatus(row.status),
                created_at=row.created_at,
                resolved_at=row.resolved_at if finished else None,
                supervised_at=row.supervised_at,
                outcome=Outcome(row.outcome) if row.outcome else None,
                satisfaction=Satisfaction(row.satisfaction) if row.satisfaction else None,
                amount_involved_yuan=row.amount_involved_yuan,
                amount_coordinated_yuan=row.amount_coordinated_yuan,
                reopen_count=int(row.reopen_count),
                workdays=calendar.workdays_between(
                    row.created_at.astimezone(SHANGHAI).date(),
                    row.resolved_at.astimezone(SHANGHAI).date(),
                )
                if finished
                else None,
            )
        )


def _shares(counts: dict[Any, list[int]], names: list[tuple[Any, str]], total: int) -> list[Share]:
    """Every named row in the given order, then sorted by count (most first); empty unnamed rows
    (cases without a zone or team) are left out."""
    rows = [
        Share(name, counts[key][0], counts[key][1], ratio(counts[key][0], total))
        for key, name in names
        if key is not None or counts.get(key, [0])[0]
    ]
    return sorted(rows, key=lambda share: -share.count)


async def _overdue(
    session: AsyncSession,
    figures: Figures,
    *,
    period: Period,
    scope: Scope,
    calendar: WorkCalendar,
    now: datetime,
    categories: dict[int, Any],
    teams: dict[int, Any],
) -> None:
    """Cases of the scope received before the period ended that are overdue now (a clock paused
    after its deadline included, ``overdue_clock``): counted by team, and listed (the earliest
    deadlines first) only if they are appeals. A report is read, printed and filed by leaders,
    who see clues only as counts, so its list names no clue (as the 超期通报 does); the clues
    are one figure, ``overdue_clues``. A paused clock's days overdue are those at its pause:
    waiting for the reporter does not count."""
    overdue = [
        overdue_clock(now),
        col(CaseClock.kind).in_(DEADLINE_CLOCKS),
        col(Case.status).in_(OPEN_STATUSES),
        col(Case.created_at) < period.end,
        *_in_scope(scope),
    ]
    joined = sa.join(CLOCKS, CASES, col(Case.id) == col(CaseClock.case_id))
    # a case has one team: the overdue cases are the sum of each team's
    by_team_and_track = await _rows(
        session,
        sa.select(
            col(Case.team_id), col(Case.track), sa.func.count(sa.distinct(col(CaseClock.case_id)))
        )
        .select_from(joined)
        .where(*overdue)
        .group_by(col(Case.team_id), col(Case.track)),
    )
    by_team: dict[int | None, int] = {}
    for team_id, track, n in by_team_and_track:
        by_team[team_id] = by_team.get(team_id, 0) + int(n)
        if Track(track) is Track.CLUE:
            figures.overdue_clues += int(n)
    figures.overdue_count = sum(by_team.values())
    figures.overdue_by_team = sorted(
        (
            Share(
                teams[team_id].name if team_id in teams else "未分办",
                n,
                0,
                ratio(n, figures.overdue_count),
            )
            for team_id, n in by_team.items()
        ),
        key=lambda share: (-share.count, share.name),
    )
    rows = await _rows(
        session,
        sa.select(
            col(Case.id),
            col(Case.number),
            col(Case.category_id),
            col(Case.team_id),
            col(Case.status),
            col(Case.supervised),
            col(CaseClock.kind),
            col(CaseClock.due_at),
            col(CaseClock.paused_at),
        )
        .select_from(joined)
        .where(*overdue, col(Case.track) == Track.APPEAL)
        .order_by(col(CaseClock.due_at), col(Case.id))
        .limit(OVERDUE_LIST_LIMIT),
    )
    seen: set[int] = set()
    today = now.astimezone(SHANGHAI).date()
    for case_id, number, category_id, team_id, status, supervised, kind, due_at, paused in rows:
        if case_id in seen:
            continue
        until = paused.astimezone(SHANGHAI).date() if paused is not None else today
        seen.add(case_id)
        figures.overdue.append(
            OverdueCase(
                number=number,
                category=categories[category_id].name,
                team=teams[team_id].name if team_id in teams else "未分办",
                status=CaseStatus(status),
                clock=ClockKind(kind),
                due_at=due_at,
                overdue_workdays=calendar.workdays_between(
                    due_at.astimezone(SHANGHAI).date(), until
                ),
                supervised=bool(supervised),
            )
        )


async def _recurring(
    session: AsyncSession,
    figures: Figures,
    cohort: list[sa.ColumnElement[bool]],
    zones: dict[int, Any],
    categories: dict[int, Any],
) -> None:
    """Enterprises with two or more appeals in the period (clue-track cases are confidential:
    naming their enterprise could name the reporter)."""
    appeals = [*cohort, col(Case.track) == Track.APPEAL, col(Case.enterprise_id).is_not(None)]
    repeated = (
        sa.select(col(Case.enterprise_id), sa.func.count().label("cases"))
        .where(*appeals)
        .group_by(col(Case.enterprise_id))
        .having(sa.func.count() >= RECURRING_MIN)
    )
    (count,) = await _rows(session, sa.select(sa.func.count()).select_from(repeated.subquery()))
    figures.recurring_count = int(count[0])
    if not figures.recurring_count:
        return
    mix_rows = await _rows(
        session,
        sa.select(col(Case.category_id), sa.func.count())
        .where(
            *appeals, col(Case.enterprise_id).in_(sa.select(repeated.subquery().c.enterprise_id))
        )
        .group_by(col(Case.category_id)),
    )
    total = sum(int(n) for _, n in mix_rows)
    figures.recurring_by_category = sorted(
        (Share(categories[c].name, int(n), 0, ratio(int(n), total)) for c, n in mix_rows),
        key=lambda share: (-share.count, share.name),
    )
    top = repeated.order_by(sa.desc("cases"), col(Case.enterprise_id)).limit(TOP_LIMIT).subquery()
    rows = await _rows(
        session,
        sa.select(col(Enterprise.id), col(Enterprise.name), col(Enterprise.zone_id), top.c.cases)
        .join(top, top.c.enterprise_id == col(Enterprise.id))
        .order_by(sa.desc(top.c.cases), col(Enterprise.id)),
    )
    if not rows:
        return
    mix: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for enterprise_id, category_id, cases in await _rows(
        session,
        sa.select(col(Case.enterprise_id), col(Case.category_id), sa.func.count())
        .where(*appeals, col(Case.enterprise_id).in_([row.id for row in rows]))
        .group_by(col(Case.enterprise_id), col(Case.category_id)),
    ):
        mix[enterprise_id].append((-int(cases), category_id))
    for enterprise_id, name, zone_id, cases in rows:
        figures.recurring.append(
            RecurringEnterprise(
                name=name,
                zone=zones[zone_id].name if zone_id in zones else "—",
                cases=int(cases),
                categories="、".join(
                    categories[category_id].name for _, category_id in sorted(mix[enterprise_id])
                ),
            )
        )


async def _trend(
    session: AsyncSession, figures: Figures, period: Period, scope: Scope, dialect: str
) -> None:
    """Cases received per week (Monday to Sunday) over the last 12 weeks or the period,
    whichever is longer, up to the period's end."""
    last_monday = period.last - timedelta(days=period.last.weekday())
    first_monday = min(
        last_monday - timedelta(weeks=TREND_WEEKS - 1),
        period.first - timedelta(days=period.first.weekday()),
    )
    start = Period(period.kind, first_monday, period.last).start
    day = _local_day(col(Case.created_at), dialect)
    weeks: dict[date, int] = {}
    monday = first_monday
    while monday <= last_monday:
        weeks[monday] = 0
        monday += timedelta(weeks=1)
    for value, count in await _rows(
        session,
        sa.select(day, sa.func.count())
        .where(col(Case.created_at) >= start, col(Case.created_at) < period.end, *_in_scope(scope))
        .group_by(day),
    ):
        local = _day(value)
        weeks[local - timedelta(days=local.weekday())] += int(count)
    figures.trend = [TrendPoint(first, count) for first, count in weeks.items()]


@dataclass(slots=True)  # not frozen: a frozen one's __init__ sets each field the slow way,
class CaseLine:  # 1.5 million times for a province's month
    """One row of the case list (the XLSX sheet an office filters): appeals only, since a report
    is printed and filed and clues are given as counts (SECURITY.md)."""

    number: str
    created_at: datetime
    category: str
    track: Track
    zone: str | None
    enterprise: str | None
    team: str | None
    status: CaseStatus
    due_at: datetime | None  # 签收 deadline before acceptance, 办结 deadline after
    late: bool
    resolved_at: datetime | None
    outcome: Outcome | None
    satisfaction: Satisfaction | None
    amount_involved_yuan: int | None
    amount_coordinated_yuan: int | None
    supervised: bool


async def list_cases(session: AsyncSession, figures: Figures, now: datetime) -> list[CaseLine]:
    """The appeals received in the period of ``figures`` (its scope), oldest first, with their
    deadlines and lateness. No clue is listed: the figures count them."""
    period, scope = figures.period, figures.scope
    appeals = col(Case.track) != Track.CLUE
    kind = col(CaseClock.kind)
    clocks = (
        sa.select(
            col(CaseClock.case_id).label("case_id"),
            sa.func.max(sa.case((kind == ClockKind.ACCEPT, col(CaseClock.due_at)))).label(
                "accept_due"
            ),
            sa.func.max(sa.case((kind == ClockKind.RESOLVE, col(CaseClock.due_at)))).label(
                "resolve_due"
            ),
            sa.func.max(sa.case((_late(now), 1), else_=0)).label("late"),
        )
        .join(Case, col(Case.id) == col(CaseClock.case_id))
        .where(
            kind.in_(DEADLINE_CLOCKS),
            *_cohort(period, scope),
            appeals,
            _cohort_clocks(figures.case_ids),
        )
        .group_by(col(CaseClock.case_id))
        .subquery()
    )
    rows = await _rows(
        session,
        sa.select(
            col(Case.number),
            col(Case.created_at),
            CATEGORIES.c.name,
            col(Case.track),
            ZONES.c.name,
            col(Enterprise.name),
            TEAMS.c.name,
            col(Case.status),
            clocks.c.accept_due,
            clocks.c.resolve_due,
            clocks.c.late,
            col(Case.resolved_at),
            col(Case.outcome),
            col(Case.satisfaction),
            col(Case.amount_involved_yuan),
            col(Case.amount_coordinated_yuan),
            col(Case.supervised),
        )
        .select_from(CASES)
        .join(CATEGORIES, CATEGORIES.c.id == col(Case.category_id))
        .outerjoin(ZONES, ZONES.c.id == col(Case.zone_id))
        .outerjoin(TEAMS, TEAMS.c.id == col(Case.team_id))
        .outerjoin(Enterprise, col(Enterprise.id) == col(Case.enterprise_id))
        .outerjoin(clocks, clocks.c.case_id == col(Case.id))
        .where(*_cohort(period, scope), appeals)
        .order_by(col(Case.created_at), col(Case.id)),
    )
    statuses = {status.value: status for status in CaseStatus}  # a dict reads faster than
    tracks = {track.value: track for track in Track}  # an Enum call, 91,600 rows a month
    outcomes = {outcome.value: outcome for outcome in Outcome}
    ratings = {rating.value: rating for rating in Satisfaction}
    lines = []
    for (
        number,
        created_at,
        category,
        track,
        zone,
        enterprise,
        team,
        status,
        accept_due,
        resolve_due,
        late,
        resolved_at,
        outcome,
        satisfaction,
        involved,
        coordinated,
        supervised,
    ) in rows:
        status = statuses[status]
        track = tracks[track]
        lines.append(
            CaseLine(
                number=number,
                created_at=created_at,
                category=category,
                track=track,
                zone=zone,
                enterprise=enterprise,
                team=team,
                status=status,
                due_at=accept_due if status in AWAITING_ACCEPTANCE else resolve_due,
                late=bool(late),
                resolved_at=resolved_at if status in FINISHED_STATUSES else None,
                outcome=outcomes[outcome] if outcome else None,
                satisfaction=ratings[satisfaction] if satisfaction else None,
                amount_involved_yuan=involved,
                amount_coordinated_yuan=coordinated,
                supervised=bool(supervised),
            )
        )
    return lines
