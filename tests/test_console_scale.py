"""The console's search and counts as shaped for a million cases: a team leader's text search
narrowed to the team's documents (PostgreSQL keeps each document's team beside it), a short list
paged from the one pass that counted it, a long one walked newest first, and the indexes the
counts read, all giving the answers the plain rules give."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services import case_search
from bot.services.case_lists import CURRENT_CLOCK_VALUES, OPEN_STATUS_VALUES
from bot.services.case_search import _text_match
from models.assist import CaseAssist
from models.calendar import WorkCalendar
from models.case import OPEN_PREDICATE, OPEN_STATUSES, Case
from models.clock import CURRENT_PREDICATE, CaseClock, ClockKind
from models.search import CaseSearch, case_document, parse_query
from models.team import Team
from tests.factories import make_case
from tests.test_case_search import NOW, World, _find, _numbers, make_world

pytestmark = pytest.mark.both_databases

MIGRATION = Path(__file__).resolve().parents[1] / "migrations" / "versions"


@pytest.fixture
async def world(sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar) -> World:
    return await make_world(sessions, catalog, calendar)


async def _team(sessions: SessionFactory, code: str) -> int:
    async with sessions() as session:
        return (await session.exec(select(Team.id).where(Team.code == code))).one() or 0


async def test_a_case_sent_to_another_team_is_found_by_that_teams_leader_and_no_longer_by_the_first(
    sessions: SessionFactory, world: World, calendar: WorkCalendar
) -> None:
    first, other = world.team_leader, world.other_leader  # 营商环境, then 国企
    assert _numbers(await _find(sessions, calendar, first, q="出让金")) == [world.refund.number]
    assert _numbers(await _find(sessions, calendar, other, q="出让金")) == []
    async with sessions() as session:  # however it moves (分办, 转办): the database follows
        case = await session.get(Case, world.refund.id)
        assert case is not None
        case.team_id = await _team(sessions, "soe")
        session.add(case)
        await session.commit()
    assert _numbers(await _find(sessions, calendar, other, q="出让金")) == [world.refund.number]
    assert _numbers(await _find(sessions, calendar, first, q="出让金")) == []


async def test_a_team_leader_finds_by_its_words_a_case_the_team_assists_until_the_assist_ends(
    sessions: SessionFactory, world: World, calendar: WorkCalendar
) -> None:
    other = world.other_leader
    async with sessions() as session:
        assist = CaseAssist(
            case_id=world.refund.id or 0, team_id=await _team(sessions, "soe"),
            added_by_id=world.admin.id or 0, added_at=NOW,
        )  # fmt: skip
        session.add(assist)
        await session.commit()
        assert _numbers(await _find(sessions, calendar, other, q="出让金")) == [world.refund.number]
        assist.removed_at = NOW
        session.add(assist)
        await session.commit()
    assert _numbers(await _find(sessions, calendar, other, q="出让金")) == []


async def test_a_short_list_is_paged_newest_first_from_the_pass_that_counted_it(
    sessions: SessionFactory, world: World, calendar: WorkCalendar
) -> None:
    async with sessions() as session:
        for n in range(120):
            case = await make_case(
                session, NOW - timedelta(minutes=n + 1), number=f"AJ-2025-{n:05d}"
            )
            session.add(
                CaseSearch(
                    case_id=case.id or 0,
                    document=case_document(number=case.number, enterprise=None, description="资金"),
                )
            )
        await session.commit()
    pages = [await _find(sessions, calendar, world.admin, page=p, q="资金") for p in (1, 2, 3, 4)]
    assert [(p.page, p.pages, p.total, p.capped) for p in pages] == [
        (1, 3, 121, False), (2, 3, 121, False), (3, 3, 121, False), (3, 3, 121, False),
    ]  # fmt: skip
    listed = [n for p in pages[:3] for n in _numbers(p)]
    assert listed == [f"AJ-2025-{n:05d}" for n in range(120)] + [world.refund.number]


async def test_a_long_text_list_walked_newest_first_is_the_list_the_planner_gives(
    sessions: SessionFactory, world: World, calendar: WorkCalendar, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the count cap, PostgreSQL reads the newest cases one by one for the page; with too
    few in the walk it falls back to the plain query: the pages are the same either way."""
    async with sessions() as session:
        for n in range(130):
            case = await make_case(
                session, NOW - timedelta(minutes=n + 1), number=f"AJ-2025-{n:05d}"
            )
            words = "资金" if n % 3 else "园区道路"  # every third case does not match
            session.add(
                CaseSearch(
                    case_id=case.id or 0,
                    document=case_document(number=case.number, enterprise=None, description=words),
                )
            )
        await session.commit()
    matching = [f"AJ-2025-{n:05d}" for n in range(130) if n % 3] + [world.refund.number]
    monkeypatch.setattr(case_search, "COUNT_CAP", 20)
    for walk in (10_000, 30):  # the walk reaches the page; the walk stops short of it
        monkeypatch.setattr(case_search, "WALK_ROWS", walk)
        first = await _find(sessions, calendar, world.admin, q="资金")
        second = await _find(sessions, calendar, world.admin, page=2, q="资金")
        assert (first.capped, first.total, first.pages) == (True, 20, 2)
        assert _numbers(first) == matching[:50] and _numbers(second) == matching[50:100]


async def test_the_overdue_filter_finds_the_case_whose_shown_clock_is_past_its_deadline(
    sessions: SessionFactory, world: World, calendar: WorkCalendar
) -> None:
    """Found from the running clocks past their deadline, held to the clock the status shows."""
    late = NOW + timedelta(days=30)
    overdue = await _find(sessions, calendar, world.admin, now=late, overdue=True)
    assert set(_numbers(overdue)) == {world.refund.number, world.noise.number}
    received = world.refund.created_at
    assert _numbers(await _find(sessions, calendar, world.admin, now=received, overdue=True)) == []


async def _overdue_world(sessions: SessionFactory) -> list[str]:
    """240 cases received in the last 40 minutes before ``NOW``, newest first: every third does
    not match 资金; every fourth has no late 签收 clock but a late 办结 one, which its status
    does not show (not overdue). The numbers of the overdue ones that match, newest first."""
    expected = []
    async with sessions() as session:
        for n in range(240):
            case = await make_case(
                session, NOW - timedelta(seconds=10 * (n + 1)), number=f"AJ-2025-{n:05d}"
            )
            words = "资金" if n % 3 else "园区道路"
            session.add(
                CaseSearch(
                    case_id=case.id or 0,
                    document=case_document(number=case.number, enterprise=None, description=words),
                )
            )
            kind = ClockKind.RESOLVE if n % 4 == 0 else ClockKind.ACCEPT
            session.add(
                CaseClock(
                    case_id=case.id or 0, kind=kind, started_at=case.created_at, workdays=1,
                    due_at=NOW - timedelta(days=1),
                )
            )  # fmt: skip
            if n % 3 and n % 4:
                expected.append(case.number)
        await session.commit()
    return expected


async def test_a_long_overdue_text_list_is_newest_first_whether_the_walk_reaches_the_page_or_not(
    sessions: SessionFactory, world: World, calendar: WorkCalendar, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With 超期 and a text past the count cap the walk starts from the overdue cases (found from
    their clocks); too few in the walk, the plain query: the pages are the same either way."""
    matching = await _overdue_world(sessions)
    monkeypatch.setattr(case_search, "COUNT_CAP", 20)
    for walk in (10_000, 30):
        monkeypatch.setattr(case_search, "WALK_ROWS", walk)
        first = await _find(sessions, calendar, world.admin, q="资金", overdue=True)
        second = await _find(sessions, calendar, world.admin, page=2, q="资金", overdue=True)
        assert (first.capped, first.total, first.pages) == (True, 20, 2)
        assert _numbers(first) == matching[:50] and _numbers(second) == matching[50:100]
        overdue = await _find(sessions, calendar, world.admin, overdue=True)
        assert _numbers(overdue)[:50] == [f"AJ-2025-{n:05d}" for n in range(240) if n % 4][:50]


async def test_the_overdue_filter_looks_its_cases_up_by_id_from_their_late_clocks(
    sessions: SessionFactory, world: World, calendar: WorkCalendar, database_url: str
) -> None:
    """PostgreSQL: the 超期 list starts from the running clocks past their deadline and looks
    their cases up by id (at a million cases in ``ix_cases_by_id`` alone), rather than hashing
    the clocks against every case the person may see or walking the newest for the old."""
    if not database_url.startswith("postgresql"):
        pytest.skip("the ids as an array are PostgreSQL's")
    await _overdue_world(sessions)
    async with sessions() as session:
        connection = await session.connection()
        conditions = await case_search._filter_conditions(
            session, world.admin, case_search.CaseFilters(overdue=True), NOW
        )
        found = (
            select(col(Case.id))
            .where(*conditions)
            .order_by(col(Case.created_at).desc(), col(Case.id).desc())
            .limit(51)
        )
        compiled = found.compile(connection, compile_kwargs={"literal_binds": True})
        for scan in ("seqscan", "bitmapscan"):  # a few rows: read as if many
            await connection.execute(sa.text(f"SET enable_{scan} = off"))
        plan = "\n".join((await connection.execute(sa.text(f"EXPLAIN {compiled}"))).scalars())
    assert re.search(
        r"Scan \S* ?using \w+ on cases .*\n\s+Index Cond: \(id = ANY \(\$0\)\)", plan
    ), plan


async def test_a_team_leaders_search_reads_the_teams_and_the_texts_indexes(
    sessions: SessionFactory, world: World, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the team beside the document is PostgreSQL's")
    query = parse_query("出让金")
    assert query is not None
    team = world.team_leader.team_id
    async with sessions() as session:
        connection = await session.connection()
        found = select(col(Case.id)).where(_text_match(query, "postgresql", team))
        compiled = found.compile(connection, compile_kwargs={"literal_binds": True})
        await connection.execute(sa.text("SET enable_seqscan = off"))
        await connection.execute(sa.text("SET enable_indexscan = off"))
        plan = "\n".join((await connection.execute(sa.text(f"EXPLAIN {compiled}"))).scalars())
        assert "ix_case_search_team_id" in plan, plan
        teams = await connection.execute(sa.text("SELECT case_id, team_id FROM case_search"))
        cases = {c.id: c.team_id for c in (await session.exec(select(Case))).all()}
        assert dict(teams.all()) == cases  # every document carries its case's team


def test_the_partial_indexes_name_the_statuses_the_queries_do() -> None:
    """A partial index serves only a statement naming its condition: the migration's, the
    model's and what ``is_open`` / ``is_current_clock`` write are one list."""
    assert sorted(re.findall(r"'(\w+)'", OPEN_PREDICATE)) == sorted(OPEN_STATUSES)
    assert f"status IN ({', '.join(map(repr, OPEN_STATUS_VALUES))})" == OPEN_PREDICATE
    assert f"state IN ({', '.join(map(repr, CURRENT_CLOCK_VALUES))})" == CURRENT_PREDICATE
    migration = (MIGRATION / "0025_console_indexes.py").read_text(encoding="utf-8")
    assert re.findall(r'"(st\w+ IN \([^)]*\))"', migration) == [OPEN_PREDICATE, CURRENT_PREDICATE]
