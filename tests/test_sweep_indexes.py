"""What the sweep writes goes to the indexes something reads, and the readers still find their
rows by index (migration 0028): a case's events and clocks by the unique indexes that begin with
the case, the provisional clocks by their partial index."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, func, select

from bot.db import SessionFactory
from bot.services.sweep_digest import Digest, Digests, Staged
from models.clock import CaseClock, ClockState
from models.event import CaseEvent, EventKind
from models.notification import Recipient, RecipientKind

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)

pytestmark = pytest.mark.both_databases


async def _plan(sessions: SessionFactory, statement: Any, *, without: tuple[str, ...] = ()) -> str:
    """The plan the database would use for ``statement``, sequential scans discouraged (the
    tables are empty here: on PostgreSQL any plan would do otherwise); ``without`` the indexes
    that cost as little on empty tables (dropped in this test's own database)."""
    async with sessions() as session:
        connection = await session.connection()
        compiled = statement.compile(connection, compile_kwargs={"literal_binds": True})
        for index in without:
            await connection.execute(sa.text(f"DROP INDEX {index}"))
        if connection.dialect.name == "postgresql":
            await connection.execute(sa.text("SET LOCAL enable_seqscan = off"))
            rows = await connection.execute(sa.text(f"EXPLAIN {compiled}"))
            return "\n".join(str(row[0]) for row in rows)
        rows = await connection.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}"))
        return "\n".join(str(row[-1]) for row in rows)


async def test_the_look_for_provisional_deadlines_reads_only_the_provisional_clocks(
    sessions: SessionFactory,
) -> None:
    provisional = select(func.min(CaseClock.started_at), func.max(CaseClock.due_at)).where(
        col(CaseClock.provisional).is_(True),
        col(CaseClock.state).in_([ClockState.RUNNING, ClockState.PAUSED]),
    )
    # on empty tables the running and paused clocks' indexes cost as little: is it usable?
    others = ("ix_case_clocks_current", "ix_case_clocks_due")
    plan = await _plan(sessions, provisional, without=others)
    assert "ix_case_clocks_provisional" in plan


async def test_a_cases_history_and_clocks_are_found_by_the_indexes_that_begin_with_the_case(
    sessions: SessionFactory,
) -> None:
    history = select(CaseEvent).where(CaseEvent.case_id == 7).order_by(col(CaseEvent.seq))
    clocks = select(CaseClock).where(CaseClock.case_id == 7)
    events_plan, clocks_plan = await _plan(sessions, history), await _plan(sessions, clocks)
    assert "case_id" in events_plan and "ix_case_events_case_id" not in events_plan
    assert "case_id" in clocks_plan and "ix_case_clocks_case_id" not in clocks_plan
    assert "SCAN case_events" not in events_plan and "Seq Scan" not in events_plan
    assert "SCAN case_clocks" not in clocks_plan and "Seq Scan" not in clocks_plan


async def test_events_of_a_kind_in_a_period_are_found_by_kind_and_time(
    sessions: SessionFactory,
) -> None:
    viewed = (
        select(CaseEvent)
        .where(col(CaseEvent.kind) == EventKind.IDENTITY_VIEWED)
        .order_by(col(CaseEvent.created_at).desc(), col(CaseEvent.id).desc())
        .limit(20)
    )
    assert "ix_case_events_kind_created_at" in await _plan(sessions, viewed)


async def test_a_digest_merge_finds_its_rows_by_id_not_among_every_pending_notice(
    sessions: SessionFactory,
) -> None:
    # SQLite keeps no statistics: for ``id IN (…) AND status = …`` it read the status index,
    # every pending notification (thousands while a sweep catches up), for a few digests
    people = [Recipient(RecipientKind.INSPECTOR, n, n) for n in range(1, 21)]
    digests = Digests(now=NOW, hold_until=NOW, checked=set())
    digests.current = {person: Digest(row_id=n, lines=[]) for n, person in enumerate(people, 1)}
    # a batch's parts for the same people (the merge finds them and their digests: 40 rows)
    staged = Staged(parts={p: Digest(row_id=n, lines=[]) for n, p in enumerate(people, 21)})
    async with sessions() as session:
        connection = await session.connection()
        if connection.dialect.name == "postgresql":
            pytest.skip("PostgreSQL plans by its statistics: the ids, by the primary key")
        said: list[tuple[str, Any]] = []

        def record(*args: Any) -> None:
            said.append((args[2], args[3]))

        sync_engine = connection.sync_engine
        sa.event.listen(sync_engine, "before_cursor_execute", record)
        try:
            await digests.merge(session, staged)
            await digests.release(session)
        finally:
            sa.event.remove(sync_engine, "before_cursor_execute", record)
        plans = [
            "\n".join(
                str(row[-1])
                for row in await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
            )
            for sql, params in said
        ]
    assert len(plans) == 2
    for plan in plans:
        assert "INTEGER PRIMARY KEY" in plan and "ix_notifications_due" not in plan
