"""The console's 案件 list: cases found by number, enterprise or two Chinese characters of the
description (``models.search``), narrowed by filters, newest first, a page at a time, only what
the person asking may see (``viewable_by``, the SQL form of ``can_view``).

Queries only: nothing here commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy import ColumnElement, and_, exists, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.case_lists import (
    CaseLine,
    HiddenClues,
    case_lines,
    count_hidden_clues,
    due_kinds,
    viewable_by,
)
from models.assist import CaseAssist
from models.calendar import SHANGHAI, WorkCalendar
from models.case import Case, CaseStatus
from models.clock import CaseClock, ClockKind, overdue_case_ids, overdue_clock
from models.enterprise import Enterprise
from models.errors import InvalidInput
from models.org import Category, Track, Zone
from models.search import (
    FTS_TABLE,
    TEAM_COLUMN,
    VECTOR_COLUMN,
    SearchQuery,
    fts5_match,
    parse_query,
    tsquery,
)
from models.team import Inspector, Role, Team

PAGE_SIZE = 50
EXPORT_CAP = 10_000
COUNT_CAP = 1_000
"""The most matches a search counts: past it the list says 超过1000件 and pages on while there is
a next page (counting every case that holds a common word costs seconds at a million cases, the
page itself does not)."""
"""Rows an Excel export holds at most; the page says so when the list is longer."""


@dataclass(frozen=True, slots=True)
class CaseFilters:
    """What the 案件 list is narrowed by; codes for team, category and zone (as in the URL)."""

    q: str = ""
    status: CaseStatus | None = None
    team: str | None = None
    category: str | None = None
    zone: str | None = None
    track: Track | None = None
    overdue: bool = False
    supervised: bool = False
    received_from: date | None = None
    received_to: date | None = None


FILTER_NAMES = (
    "q",
    "status",
    "team",
    "category",
    "zone",
    "track",
    "overdue",
    "supervised",
    "from",
    "to",
)
"""The query-string names of the filters (the page number is ``page``)."""


def _date(raw: str, label: str) -> date | None:
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        day = None
    if day is None or not 2000 <= day.year <= 2100:
        raise InvalidInput(
            f"受理日期“{label}”填写的“{raw[:20]}”不是有效日期，请按 2026-01-31 的格式填写。"
        )
    return day


_E = TypeVar("_E", CaseStatus, Track)


def _choice(kind: type[_E], raw: str, label: str) -> _E | None:
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        raise InvalidInput(f"未知的{label}“{raw[:20]}”，请从列表中选择。") from None


def parse_filters(raw: Mapping[str, str]) -> tuple[CaseFilters, int]:
    """The filters and the page (1 and up) of a query string, or ``InvalidInput`` saying in
    Chinese which value is wrong."""

    def text(name: str) -> str:
        return raw.get(name, "").strip()

    page_text = text("page") or "1"
    if (
        not page_text.isascii()
        or not page_text.isdigit()
        or len(page_text) > 6
        or int(page_text) < 1
    ):
        raise InvalidInput(f"页码“{page_text[:10]}”无效，请填写从 1 开始的整数。")
    received_from = _date(text("from"), "从")
    received_to = _date(text("to"), "至")
    if received_from and received_to and received_from > received_to:
        raise InvalidInput("受理日期“从”不能晚于“至”，请重新选择。")
    q = text("q")
    parse_query(q)  # a query too short is refused here, with the form kept
    filters = CaseFilters(
        q=q,
        status=_choice(CaseStatus, text("status"), "状态"),
        team=text("team") or None,
        category=text("category") or None,
        zone=text("zone") or None,
        track=_choice(Track, text("track"), "类型"),
        overdue=text("overdue") in ("1", "on", "true"),
        supervised=text("supervised") in ("1", "on", "true"),
        received_from=received_from,
        received_to=received_to,
    )
    return filters, int(page_text)


def workdays_left(calendar: WorkCalendar, due_at: datetime, now: datetime) -> int:
    """Working days from today to the deadline's day (0: due today); negative: working days
    past it (Shanghai dates)."""
    today = now.astimezone(calendar.tz).date()
    due_day = due_at.astimezone(calendar.tz).date()
    if due_at > now:
        return calendar.workdays_between(today, due_day)
    return -calendar.workdays_between(due_day, today)


@dataclass(frozen=True, slots=True)
class FoundCase:
    """One line of the 案件 list."""

    line: CaseLine
    enterprise: str | None
    days_left: int | None  # working days to the due clock's deadline; negative past it


@dataclass(frozen=True, slots=True)
class CasePage:
    """A page of found cases and how many there are in all."""

    items: list[FoundCase]
    page: int
    pages: int
    total: int
    filters: CaseFilters
    hidden: HiddenClues | None = None
    """Leaders and admins: the open clues they may not see, as counts (never as rows)."""
    capped: bool = False
    """More than ``COUNT_CAP`` match: ``total`` is ``COUNT_CAP`` and ``pages`` the pages known so
    far (this one, and the next while there is one)."""


def is_due_clock() -> ColumnElement[bool]:
    """The clock row is one a line may show for its case (``due_kinds`` of the status)."""
    kinds: dict[ClockKind, list[CaseStatus]] = {}
    for status in CaseStatus:
        for kind in due_kinds(status):
            kinds.setdefault(kind, []).append(status)
    return or_(
        *(
            and_(col(CaseClock.kind) == kind, col(Case.status).in_(statuses))
            for kind, statuses in kinds.items()
        )
    )


def _due_clock_overdue(now: datetime, dialect: str) -> ColumnElement[bool]:
    """The case's due clock is past its deadline (``CaseClock.overdue_at``): what a line shows as
    overdue. Found from the overdue clocks (few, ``overdue_case_ids``), then held to the clock
    its status shows. PostgreSQL looks the cases up by those ids (an array, not IN: migration
    0027's ``ix_cases_by_id`` carries the rest a list needs)."""
    kinds = {kind for status in CaseStatus for kind in due_kinds(status)}
    clocks = overdue_case_ids(now, sorted(kinds))
    among = (
        col(Case.id) == sa.any_(func.array(clocks.scalar_subquery()))
        if dialect == "postgresql"
        else col(Case.id).in_(clocks)
    )
    return and_(
        among,
        exists().where(col(CaseClock.case_id) == col(Case.id), overdue_clock(now), is_due_clock()),
    )


def _text_match(
    query: SearchQuery, dialect: str, team_id: int | None = None
) -> ColumnElement[bool]:
    """The cases whose search document matches, through the FTS5 table or the GIN index. With
    ``team_id`` (a team leader's search, PostgreSQL): only the documents of the team's cases
    and of those it assists, the team's found through ``case_search.team_id``'s index together
    with the text's (a narrowing for speed: who may see a case is still ``viewable_by``)."""
    if dialect == "postgresql":
        vector = sa.table(
            "case_search", sa.column("case_id"), sa.column(VECTOR_COLUMN), sa.column(TEAM_COLUMN)
        )
        found = sa.select(vector.c.case_id).where(
            vector.c[VECTOR_COLUMN].op("@@")(
                func.to_tsquery(sa.literal_column("'simple'::regconfig"), tsquery(query))
            )
        )
        if team_id is not None:
            assisted = sa.select(col(CaseAssist.case_id)).where(
                col(CaseAssist.team_id) == team_id, col(CaseAssist.removed_at).is_(None)
            )
            found = found.where(
                or_(
                    vector.c[TEAM_COLUMN] == team_id,
                    # an array, not IN: the primary key's index can then join the team's in an OR
                    vector.c.case_id == sa.any_(func.array(assisted.scalar_subquery())),
                )
            )
    else:
        found = (
            sa.select(sa.literal_column("rowid"))
            .select_from(sa.text(FTS_TABLE))
            .where(sa.text(f"{FTS_TABLE} MATCH :fts_query").bindparams(fts_query=fts5_match(query)))
        )
    return col(Case.id).in_(found)


_Coded = TypeVar("_Coded", Team, Category, Zone)


async def _code_id(session: AsyncSession, model: type[_Coded], code: str, label: str) -> int:
    row = (await session.exec(select(model).where(model.code == code))).first()
    if row is None or row.id is None:
        raise InvalidInput(f"未知的{label}“{code[:40]}”，请从列表中选择。")
    return int(row.id)


def _matches_row(query: SearchQuery, case_id: ColumnElement[int]) -> ColumnElement[bool]:
    """PostgreSQL: whether the search document of the case ``case_id`` matches, looked up for that
    row alone (a subquery the planner cannot turn into a scan of every match)."""
    vector = sa.table("case_search", sa.column("case_id"), sa.column(VECTOR_COLUMN))
    return (
        sa.select(
            vector.c[VECTOR_COLUMN].op("@@", return_type=sa.Boolean)(
                func.to_tsquery(sa.literal_column("'simple'::regconfig"), tsquery(query))
            )
        )
        .where(vector.c.case_id == case_id)
        .scalar_subquery()
    )


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


async def _conditions(
    session: AsyncSession, actor: Inspector, filters: CaseFilters, now: datetime
) -> list[ColumnElement[bool]]:
    conditions = await _filter_conditions(session, actor, filters, now)
    query = parse_query(filters.q)
    if query is not None:
        conditions.insert(1, _text_match(query, _dialect(session)))
    return conditions


async def _filter_conditions(
    session: AsyncSession, actor: Inspector, filters: CaseFilters, now: datetime
) -> list[ColumnElement[bool]]:
    """What ``actor`` may see and the filters, without the text."""
    conditions = [viewable_by(actor)]
    if filters.status is not None:
        conditions.append(col(Case.status) == filters.status)
    if filters.team is not None:
        conditions.append(
            col(Case.team_id) == await _code_id(session, Team, filters.team, "监督组")
        )
    if filters.category is not None:
        category = await _code_id(session, Category, filters.category, "监督事项")
        conditions.append(col(Case.category_id) == category)
    if filters.zone is not None:
        conditions.append(col(Case.zone_id) == await _code_id(session, Zone, filters.zone, "园区"))
    if filters.track is not None:
        conditions.append(col(Case.track) == filters.track)
    if filters.overdue:
        conditions.append(_due_clock_overdue(now, _dialect(session)))
    if filters.supervised:
        conditions.append(col(Case.supervised).is_(True))
    if filters.received_from is not None:
        conditions.append(col(Case.created_at) >= _day_start(filters.received_from))
    if filters.received_to is not None:
        conditions.append(
            col(Case.created_at) < _day_start(filters.received_to + timedelta(days=1))
        )
    return conditions


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), SHANGHAI).astimezone(UTC)


async def found_cases(
    session: AsyncSession,
    cases: list[Case],
    *,
    calendar: WorkCalendar,
    now: datetime,
) -> list[FoundCase]:
    """The lines of ``cases`` with enterprise and working days left (the caller authorised)."""
    lines = await case_lines(session, cases, now)
    enterprise_ids = {c.enterprise_id for c in cases if c.enterprise_id is not None}
    names = {
        e.id: e.name
        for e in (
            await session.exec(select(Enterprise).where(col(Enterprise.id).in_(enterprise_ids)))
        ).all()
    }
    return [
        FoundCase(
            line=line,
            enterprise=(
                names.get(case.enterprise_id)
                if case.enterprise_id and case.track is not Track.CLUE
                else None  # a clue's enterprise is shown nowhere (it points at the reporter)
            ),
            # a paused clock's count stands where it stopped (resuming moves the deadline on)
            days_left=workdays_left(calendar, line.due_at, line.paused_at or now)
            if line.due_at
            else None,
        )
        for case, line in zip(cases, lines, strict=True)
    ]


async def search_cases(
    session: AsyncSession,
    actor: Inspector,
    *,
    filters: CaseFilters,
    page: int,
    now: datetime,
    calendar: WorkCalendar,
) -> CasePage:
    """A page (``PAGE_SIZE``, from 1; past the last, the last) of the cases ``actor`` may see
    that match ``filters``, newest first, with the total. ``InvalidInput`` for an unknown team,
    category or zone, or a query too short to search."""
    base = await _filter_conditions(session, actor, filters, now)
    query = parse_query(filters.q)
    team = actor.team_id if actor.role is Role.TEAM_LEADER else None
    text = _text_match(query, _dialect(session), team) if query else None
    if text is not None and team is not None and _dialect(session) == "postgresql":
        await _bitmap_memory(session)
    conditions = [*base[:1], text, *base[1:]] if text is not None else base
    found = await _matching(session, conditions, limit=COUNT_CAP + 1)
    page = max(page, 1)
    if len(found) <= COUNT_CAP:  # all of them found: the page is among them
        total, capped = len(found), False
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(page, pages)
        found.sort(reverse=True)  # newest first, as _page orders
        start = (page - 1) * PAGE_SIZE
        cases = await _by_ids(session, [case_id for _, case_id in found[start : start + PAGE_SIZE]])
    else:
        # with 超期 the walk's newest are the newest overdue (found from their clocks)
        cases = await _long_page(session, conditions, base, query, page=page)
        capped = bool(cases) or page == 1
        if capped:
            total, pages = COUNT_CAP, page + (len(cases) > PAGE_SIZE)
            cases = cases[:PAGE_SIZE]
        else:  # past the end of a long list: count it, show the last page
            total = await _count(session, conditions, limit=None)
            pages = max(1, -(-total // PAGE_SIZE))
            page = min(page, pages)
            cases = await _page(session, conditions, page, PAGE_SIZE)
    items = await found_cases(session, cases, calendar=calendar, now=now)
    hidden = (
        await count_hidden_clues(session, actor, now)
        if actor.role in (Role.LEADER, Role.ADMIN)
        else None
    )
    return CasePage(items, page, pages, int(total), filters, hidden, capped)


BITMAP_MEMORY = "16MB"
"""PostgreSQL's ``work_mem`` for a team leader's text search: the team's and a common word's
bitmaps (at a million cases 100,000 and 160,000 documents) stay exact, where at the default 4 MB
they turn lossy and every page is read again (345 against 180 ms for the dispatcher's 资金)."""


async def _bitmap_memory(session: AsyncSession) -> None:
    """Give this transaction's statements ``BITMAP_MEMORY`` (PostgreSQL; ends with it)."""
    await (await session.connection()).execute(sa.text(f"SET LOCAL work_mem = '{BITMAP_MEMORY}'"))


async def _matching(
    session: AsyncSession, conditions: list[ColumnElement[bool]], *, limit: int
) -> list[tuple[datetime, int]]:
    """(received, id) of up to ``limit`` cases meeting ``conditions``, in no order: one pass
    that both counts a short list and holds its pages (no second search to show them)."""
    query = select(col(Case.created_at), col(Case.id)).where(*conditions).limit(limit)
    rows = (await session.exec(query)).all()
    return [(created_at, int(case_id or 0)) for created_at, case_id in rows]


async def _by_ids(session: AsyncSession, ids: list[int]) -> list[Case]:
    """The cases ``ids``, in that order."""
    rows = {c.id: c for c in (await session.exec(select(Case).where(col(Case.id).in_(ids)))).all()}
    return [rows[case_id] for case_id in ids if case_id in rows]


WALK_ROWS = 10_000
"""Newest cases (per page asked) a long text search reads one by one for its page before it
leaves the order to the planner."""


async def _long_page(
    session: AsyncSession,
    conditions: list[ColumnElement[bool]],
    base: list[ColumnElement[bool]],
    query: SearchQuery | None,
    *,
    page: int,
) -> list[Case]:
    """``PAGE_SIZE + 1`` cases from the start of ``page`` of a list longer than ``COUNT_CAP``
    (``conditions``: ``base``, what the person may see and the filters, with the text ``query``;
    None: no walk).

    On PostgreSQL a text search reads the newest cases the person may see one by one, each
    checked against its own search document, and stops at the page's end: more than
    ``COUNT_CAP`` match, so the page is usually among the newest few thousand, where reading
    every match (tens of thousands for a common word at a million cases) and sorting them would
    cost seconds. The planner cannot tell (it guesses a phrase of several bigrams to be rare),
    hence the shape is chosen here; past ``WALK_ROWS`` newest cases a page, the planner's own."""
    if query is None or _dialect(session) != "postgresql":
        return await _page(session, conditions, page, PAGE_SIZE + 1)
    newest = (
        select(col(Case.id).label("id"), col(Case.created_at).label("created_at"))
        .where(*base)
        .order_by(col(Case.created_at).desc(), col(Case.id).desc())
        .limit(WALK_ROWS * page)
        .subquery()
    )
    walked = (
        sa.select(newest.c.id)
        .where(_matches_row(query, newest.c.id))
        .order_by(newest.c.created_at.desc(), newest.c.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    ids = [int(i) for i in (await (await session.connection()).execute(walked)).scalars()]
    if len(ids) > PAGE_SIZE:
        return await _by_ids(session, ids)
    return await _page(session, conditions, page, PAGE_SIZE + 1)


async def _count(
    session: AsyncSession, conditions: list[ColumnElement[bool]], *, limit: int | None
) -> int:
    """How many cases meet ``conditions``, counted up to ``limit`` (None: all of them)."""
    matching = select(col(Case.id)).where(*conditions).limit(limit).subquery()
    return int((await session.exec(select(func.count()).select_from(matching))).one())


async def _page(
    session: AsyncSession, conditions: list[ColumnElement[bool]], page: int, size: int
) -> list[Case]:
    """``size`` cases from the start of ``page`` (of ``PAGE_SIZE``), newest first: their ids
    found in the indexes (``ix_cases_newest``), then the cases."""
    query = (
        select(col(Case.id))
        .where(*conditions)
        .order_by(col(Case.created_at).desc(), col(Case.id).desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(size)
    )
    return await _by_ids(session, [int(i or 0) for i in (await session.exec(query)).all()])


@dataclass(frozen=True, slots=True)
class CaseExport:
    """The whole filtered list for Excel, cut at ``EXPORT_CAP`` rows."""

    items: list[FoundCase]
    total: int
    capped: bool


async def export_cases(
    session: AsyncSession,
    actor: Inspector,
    *,
    filters: CaseFilters,
    now: datetime,
    calendar: WorkCalendar,
) -> CaseExport:
    """Every case of the filtered list ``actor`` may see, newest first, at most ``EXPORT_CAP``."""
    conditions = await _conditions(session, actor, filters, now)
    total = (await session.exec(select(func.count()).select_from(Case).where(*conditions))).one()
    items: list[FoundCase] = []
    for offset in range(0, min(int(total), EXPORT_CAP), 1000):
        cases = list(
            (
                await session.exec(
                    select(Case)
                    .where(*conditions)
                    .order_by(col(Case.created_at).desc(), col(Case.id).desc())
                    .offset(offset)
                    .limit(min(1000, EXPORT_CAP - offset))
                )
            ).all()
        )
        items += await found_cases(session, cases, calendar=calendar, now=now)
    return CaseExport(items, int(total), int(total) > EXPORT_CAP)


@dataclass(frozen=True, slots=True)
class FilterChoices:
    """What the filter selects offer: (code, name) pairs."""

    teams: list[tuple[str, str]]
    categories: list[tuple[str, str]]
    zones: list[tuple[str, str]]
    statuses: list[tuple[str, str]] = field(
        default_factory=lambda: [(s.value, s.label) for s in CaseStatus]
    )
    tracks: list[tuple[str, str]] = field(
        default_factory=lambda: [(t.value, t.label) for t in Track]
    )


async def list_filter_choices(session: AsyncSession) -> FilterChoices:
    """The teams, categories and zones to filter by, in their order."""
    teams = (await session.exec(select(Team).order_by(col(Team.id)))).all()
    categories = (
        await session.exec(select(Category).order_by(col(Category.sort_order), col(Category.id)))
    ).all()
    zones = (await session.exec(select(Zone).order_by(col(Zone.id)))).all()
    return FilterChoices(
        teams=[(t.code, t.name) for t in teams],
        categories=[(c.code, c.name) for c in categories],
        zones=[(z.code, z.name) for z in zones],
    )


@dataclass(frozen=True, slots=True)
class CaseList:
    """The 案件 page: the form as typed, its choices, and the result or why there is none."""

    form: dict[str, str]
    choices: FilterChoices
    result: CasePage | None
    error: str | None


async def get_case_list(
    session: AsyncSession,
    actor: Inspector,
    raw: Mapping[str, str],
    *,
    now: datetime,
    calendar: WorkCalendar,
) -> CaseList:
    """The 案件 page for a query string: a bad value (a date, a page, an unknown team) gives its
    Chinese message and keeps the rest of the form."""
    form = {name: raw.get(name, "").strip()[:100] for name in FILTER_NAMES}
    choices = await list_filter_choices(session)
    try:
        filters, page = parse_filters(raw)
        result = await search_cases(
            session, actor, filters=filters, page=page, now=now, calendar=calendar
        )
    except InvalidInput as error:
        return CaseList(form, choices, None, str(error))
    return CaseList(form, choices, result, None)
