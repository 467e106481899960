"""How ``lianka demo-data`` loads a history in bulk: what it changes about the process and the
database while it writes, and what it leaves as it found it."""

from __future__ import annotations

import dataclasses
import gc
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

import demo.bulk
import demo.generate
import demo.load
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.audit import verify_audit
from demo import generate_demo
from demo.rows import uncollected
from models.calendar import WorkCalendar
from models.card import CardScan
from tests.conftest import DEFAULT_NOW as NOW


def test_the_collector_pauses_and_resumes_as_it_was() -> None:
    assert gc.isenabled()
    with uncollected():
        assert not gc.isenabled()
        with uncollected():
            assert not gc.isenabled()
        assert not gc.isenabled()  # an inner pause does not resume the outer one's
    assert gc.isenabled()
    gc.disable()
    try:
        with uncollected():
            pass
        assert not gc.isenabled()  # paused before: left paused
    finally:
        gc.enable()


async def test_the_collector_rests_while_a_history_is_worked_out_and_runs_again_after(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[bool] = []
    finish = demo.bulk.MemoryLedger.finish

    def watched(ledger: demo.bulk.MemoryLedger, case: object) -> None:
        seen.append(gc.isenabled())
        finish(ledger, case)  # type: ignore[arg-type]

    monkeypatch.setattr(demo.bulk.MemoryLedger, "finish", watched)
    await generate_demo(sessions, catalog, calendar, NOW, cases=12, seed=3, months=2)
    assert seen and not any(seen)
    assert gc.isenabled()


async def test_the_collector_rests_from_the_plan_until_the_history_is_written(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # once the plan is made, each pass of the collector goes over all its objects: the world
    # is built and the cases written with the collector at rest; it runs again afterwards
    seen: dict[str, bool] = {}
    build_world = getattr(demo.generate, "build_world")  # noqa: B009 (not exported)
    write_in_bulk = getattr(demo.generate, "write_in_bulk")  # noqa: B009 (not exported)

    async def world(*args: Any, **kwargs: Any) -> Any:
        seen["world"] = gc.isenabled()
        return await build_world(*args, **kwargs)

    async def bulk(*args: Any, **kwargs: Any) -> None:
        seen["bulk"] = gc.isenabled()
        await write_in_bulk(*args, **kwargs)

    monkeypatch.setattr(demo.generate, "build_world", world)
    monkeypatch.setattr(demo.generate, "write_in_bulk", bulk)
    await generate_demo(sessions, catalog, calendar, NOW, cases=12, seed=3, months=2)
    assert seen == {"world": False, "bulk": False}
    assert gc.isenabled()


async def _schema(sessions: SessionFactory) -> dict[str, list[tuple[object, ...]]]:
    """Every index (its definition, valid and ready) and every constraint (its definition,
    validated or not) of the database's tables."""
    async with sessions() as session:
        connection = await session.connection()
        indexes = await connection.execute(
            sa.text(
                "SELECT t.relname, i.relname, pg_get_indexdef(x.indexrelid), x.indisvalid, "
                "x.indisready FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                "JOIN pg_class t ON t.oid = x.indrelid "
                "WHERE t.relnamespace = current_schema()::regnamespace ORDER BY 1, 2"
            )
        )
        constraints = await connection.execute(
            sa.text(
                "SELECT t.relname, k.conname, k.contype, pg_get_constraintdef(k.oid), "
                "k.convalidated FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid "
                "WHERE t.relnamespace = current_schema()::regnamespace ORDER BY 1, 2"
            )
        )
        return {
            "indexes": [tuple(row) for row in indexes],
            "constraints": [tuple(row) for row in constraints],
        }


Generate = Callable[..., Awaitable[object]]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
class TestTheLoadOnPostgreSQL:
    """The tables filled without their non-unique indexes and foreign keys (``demo.load``):
    PostgreSQL only."""

    @pytest.fixture
    def generate(
        self, sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
    ) -> Generate:
        """``generate_demo`` into the test's database, at ``NOW``."""

        async def generate(**options: Any) -> object:
            return await generate_demo(sessions, catalog, calendar, NOW, **options)

        return generate

    async def test_demo_rows_are_written_without_secondary_indexes_and_keys_which_come_back_after(
        self,
        sessions: SessionFactory,
        generate: Generate,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        before = await _schema(sessions)
        during: list[dict[str, list[tuple[object, ...]]]] = []
        write_in_bulk = getattr(demo.generate, "write_in_bulk")  # noqa: B009 (not exported)

        async def watched(*args: Any, **kwargs: Any) -> None:
            during.append(await _schema(sessions))
            await write_in_bulk(*args, **kwargs)

        monkeypatch.setattr(demo.generate, "write_in_bulk", watched)
        await generate(cases=40, seed=3, months=2, workers=2)
        after = await _schema(sessions)
        for part in ("indexes", "constraints"):  # the differences, if any, named
            assert set(after[part]) ^ set(before[part]) == set(), part
        assert after == before

        (while_written,) = during
        gone = {row[1] for row in before["indexes"]} - {row[1] for row in while_written["indexes"]}
        assert {
            "ix_case_events_kind_created_at",
            "ix_cases_status",
            "ix_case_search_vector",
        } <= gone
        kept = {row[1] for row in while_written["indexes"]}
        assert {"pk_cases", "uq_cases_number", "uq_case_events_case_id_seq"} <= kept
        unchecked = {row[1] for row in before["constraints"]} - {
            row[1] for row in while_written["constraints"]
        }
        assert "fk_case_events_case_id_cases" in unchecked
        assert all(str(name).startswith("fk_") for name in unchecked)
        async with sessions() as session:
            audit = await verify_audit(session)
        assert audit.ok, audit.problems[:3]

    async def test_the_keys_are_checked_once_the_indexes_of_their_table_are_made_not_during(
        self,
        sessions: SessionFactory,
        generate: Generate,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # a key's check waits for the lock of an index being made on its table: a connection
        # (a core) idle meanwhile; the connections take statements that do not wait instead
        spans: list[tuple[float, float, str]] = []
        execute = AsyncConnection.exec_driver_sql

        async def timed(connection: AsyncConnection, statement: str, *args: Any) -> Any:
            started = time.perf_counter()
            try:
                return await execute(connection, statement, *args)
            finally:
                spans.append((started, time.perf_counter(), statement))

        monkeypatch.setattr(AsyncConnection, "exec_driver_sql", timed)
        await generate(cases=40, seed=3, months=2, workers=2)
        made = [s for s in spans if s[2].startswith("CREATE INDEX")]
        checked = [s for s in spans if "VALIDATE CONSTRAINT" in s[2]]
        assert made and checked

        def table(statement: str) -> str:
            words = statement.split()
            return words[words.index("ON") + 1].split(".")[-1] if "ON" in words else words[2]

        assert "case_events" in {table(s[2]) for s in checked}
        for start, end, statement in checked:
            for other_start, other_end, other in (*made, *checked):
                if other != statement and table(other) == table(statement):
                    assert end <= other_start or other_end <= start, (statement, other)
        overlapping = [
            (a, b) for a in made for b in (*made, *checked) if a is not b and a[0] < b[0] < a[1]
        ]
        assert overlapping  # still two at a time

    async def test_a_demo_load_that_fails_still_leaves_the_indexes_and_keys_it_found(
        self,
        sessions: SessionFactory,
        generate: Generate,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        before = await _schema(sessions)

        async def broken(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("the load broke")

        monkeypatch.setattr(demo.generate, "write_in_bulk", broken)
        with pytest.raises(RuntimeError, match="the load broke"):
            await generate(cases=10, seed=3, months=2)
        assert await _schema(sessions) == before

    async def test_world_rows_that_fail_beside_the_batches_fail_the_load_which_leaves_the_schema(
        self,
        sessions: SessionFactory,
        generate: Generate,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        before = await _schema(sessions)

        async def broken(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("the world broke")

        monkeypatch.setattr(demo.generate, "write_world", broken)
        with pytest.raises(RuntimeError, match="the demo's world rows failed"):
            await generate(cases=30, seed=3, months=2, workers=2)
        assert await _schema(sessions) == before

    async def test_a_row_written_against_a_key_is_refused_when_the_keys_come_back(
        self,
        sessions: SessionFactory,
        generate: Generate,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        write_in_bulk = getattr(demo.generate, "write_in_bulk")  # noqa: B009 (not exported)

        async def astray(*args: Any, **kwargs: Any) -> None:
            await write_in_bulk(*args, **kwargs)
            async with sessions() as session:  # a scan of a card that does not exist
                await session.exec(sa.insert(CardScan).values(card_id=999_999, scanned_at=NOW))
                await session.commit()

        monkeypatch.setattr(demo.generate, "write_in_bulk", astray)
        try:
            with pytest.raises(sa.exc.IntegrityError, match="fk_card_scans_card_id_cards"):
                await generate(cases=10, seed=3, months=2)
        finally:  # the next test's database as it was
            async with sessions() as session:
                await session.exec(sa.delete(CardScan).where(col(CardScan.card_id) == 999_999))
                connection = await session.connection()
                await connection.execute(
                    sa.text(
                        "ALTER TABLE card_scans VALIDATE CONSTRAINT fk_card_scans_card_id_cards"
                    )
                )
                await session.commit()

    async def test_a_key_that_cannot_come_back_does_not_keep_the_indexes_from_being_made(
        self,
        sessions: SessionFactory,
        generate: Generate,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        before = await _schema(sessions)
        set_aside = demo.load.set_aside

        async def with_a_broken_key(*args: Any, **kwargs: Any) -> demo.load.SetAside:
            aside = await set_aside(*args, **kwargs)
            broken = (
                "ALTER TABLE cases ADD CONSTRAINT fk_nowhere FOREIGN KEY (id) REFERENCES nowhere"
            )
            return dataclasses.replace(aside, added=(broken, *aside.added))

        monkeypatch.setattr(demo.load, "set_aside", with_a_broken_key)
        with pytest.raises(sa.exc.ProgrammingError, match="nowhere"):
            await generate(cases=10, seed=3, months=2)
        assert await _schema(sessions) == before

    async def test_a_database_left_without_its_indexes_by_a_killed_load_is_refused_as_it_is(
        self,
        sessions: SessionFactory,
        generate: Generate,
    ) -> None:
        """A ``lianka demo-data`` killed during its load never made the indexes again, and only it
        knew which: the next run must not take the empty tables for a fresh database."""
        async with sessions() as session:  # what a killed run left: set aside, never restored
            aside = await demo.load.set_aside(await session.connection(), demo.generate.FILLED)
            await session.commit()
        try:
            left = await _schema(sessions)
            with pytest.raises(demo.load.IndexesMissing, match="数据库缺少索引"):
                await generate(cases=10, seed=3, months=2)
            assert await _schema(sessions) == left
        finally:  # the worker's database serves the tests after this one
            await demo.load.restore(sessions.kw["bind"], aside, at_once=1)
