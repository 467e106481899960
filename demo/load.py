"""A bulk load into PostgreSQL without its secondary indexes and foreign keys, made again after.

Each row COPY writes into a table also goes into every index of the table and has every foreign
key of the row checked (one query each): for a demo case, some 190 index entries and 25 checks.
Built once from the whole table afterwards, the indexes cost a fraction of that, and a foreign
key is checked for every row by one join. So before the demo's rows are written, the tables they
fill lose their non-unique indexes and their foreign keys; afterwards the same indexes are made
again (``pg_get_indexdef``) and the same constraints added again and validated
(``pg_get_constraintdef``): the schema is the one the migrations made, and every row has been
checked against every constraint, only later.

Kept all along: primary keys and unique constraints (a duplicate is refused as it is written),
partial indexes and indexes on expressions (PostgreSQL gives their definitions back in another
spelling: made again from it, they would not be the very indexes the migrations made — and a
partial index takes only the few rows it is about), checks, triggers and generated columns. Only ``lianka demo-data`` does this, only in bulk, and
only into an empty database (``generate_demo`` refuses another): nothing else is there to be
slowed down or checked late. An error during the load still makes everything again before it is
raised; a process killed during the load leaves a half-written demo without those indexes and
keys: drop the database and run ``lianka demo-data`` again, as after any interrupted run (a run
into tables that lack an index the models declare is refused before anything is dropped).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import SQLModel

from bot.db import SessionFactory

MAINTENANCE_WORK_MEM = "256MB"
"""Each index build's sort memory (the server's default, 64 MB, spills a large table to disk)."""
AT_ONCE = 4
"""Connections that make indexes and check keys at the same time, at most: below the engine's
pool (5), and the server's memory for them bounded (4 × ``MAINTENANCE_WORK_MEM``) however many
cores the machine running ``lianka demo-data`` has."""


class IndexesMissing(RuntimeError):
    """The tables lack indexes the models declare: most likely an earlier ``lianka demo-data``
    was killed during its load, before it made them again."""


_INDEXES = sa.text("""
    SELECT t.relname, i.relname, pg_get_indexdef(x.indexrelid)
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class t ON t.oid = x.indrelid
    WHERE t.relnamespace = current_schema()::regnamespace
      AND t.relname = ANY(:tables)
      AND NOT x.indisprimary AND NOT x.indisunique
      AND x.indpred IS NULL AND x.indexprs IS NULL
      AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
    ORDER BY t.relname, i.relname
""")
_FOREIGN_KEYS = sa.text("""
    SELECT t.relname, k.conname, pg_get_constraintdef(k.oid), k.convalidated
    FROM pg_constraint k
    JOIN pg_class t ON t.oid = k.conrelid
    WHERE k.contype = 'f'
      AND t.relnamespace = current_schema()::regnamespace
      AND t.relname = ANY(:tables)
    ORDER BY t.relname, k.conname
""")


@dataclass(frozen=True, slots=True)
class SetAside:
    """What makes the dropped indexes and foreign keys again: each index's CREATE INDEX
    (``pg_get_indexdef``), each key's ADD CONSTRAINT, unchecked, and then its VALIDATE
    (a key that was not validated before is not validated after), with their tables."""

    indexes: tuple[tuple[str, str], ...]
    added: tuple[str, ...]
    validated: tuple[tuple[str, str], ...]


async def set_aside(connection: AsyncConnection, tables: Sequence[str]) -> SetAside:
    """Drop the tables' non-unique indexes and their foreign keys (in the connection's
    transaction); what is returned makes them again (``restore``)."""
    quote = connection.dialect.identifier_preparer.quote
    found = {"tables": list(tables)}
    await _require_declared_indexes(connection, tables)
    indexes = (await connection.execute(_INDEXES, found)).all()
    keys = (await connection.execute(_FOREIGN_KEYS, found)).all()
    added, validated = [], []
    for table, name, definition, checked in keys:
        await connection.execute(
            sa.text(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
        )
        unchecked = "" if definition.endswith("NOT VALID") else " NOT VALID"
        added.append(
            f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}{unchecked}"
        )
        if checked:
            validated.append(
                (table, f"ALTER TABLE {quote(table)} VALIDATE CONSTRAINT {quote(name)}")
            )
    for _table, name, _definition in indexes:
        await connection.execute(sa.text(f"DROP INDEX {quote(name)}"))
    return SetAside(tuple((t, d) for t, _, d in indexes), tuple(added), tuple(validated))


async def _require_declared_indexes(connection: AsyncConnection, tables: Sequence[str]) -> None:
    """Refuse a database whose tables lack an index the models declare (``IndexesMissing``):
    the set-aside list lives only in the process that made it, so a load killed half-way
    leaves the indexes out, and dropping what is left would hide that for good."""
    declared = {
        index.name
        for table in tables
        if table in SQLModel.metadata.tables
        for index in SQLModel.metadata.tables[table].indexes
        if index.name is not None
    }
    present = set(
        (
            await connection.execute(
                sa.text(
                    "SELECT indexname FROM pg_indexes "
                    "WHERE schemaname = current_schema() AND tablename = ANY(:tables)"
                ),
                {"tables": list(tables)},
            )
        ).scalars()
    )
    missing = sorted(declared - present)
    if missing:
        raise IndexesMissing(
            "数据库缺少索引（"
            + "、".join(missing[:5])
            + (" 等" if len(missing) > 5 else "")
            + "），可能是上次写入演示数据时中断。请删除数据库后重新运行 lianka init 和 lianka demo-data。"
        )


async def restore(engine: AsyncEngine, aside: SetAside, *, at_once: int) -> None:
    """Make the indexes again and add the foreign keys again, validated: up to ``at_once``
    (at most ``AT_ONCE``) connections build indexes and check keys at the same time (the
    server sorts a table for an index, and joins it for a key, on a core each). Every statement
    is tried — a key that cannot be added does not keep the indexes from being made — and the
    first error is raised after."""
    added = [Statement("", s) for s in aside.added]
    errors = await _run_all(engine, added, at_once=1)  # unchecked: a moment each
    async with engine.connect() as connection:
        sizes: dict[str, int] = dict(
            (
                await connection.execute(
                    sa.text(
                        "SELECT relname, pg_relation_size(oid) FROM pg_class "
                        "WHERE relnamespace = current_schema()::regnamespace "
                        "AND relname = ANY(:tables)"
                    ),
                    {"tables": sorted({t for t, _ in (*aside.indexes, *aside.validated)})},
                )
            ).all()
        )
    statements = sorted(
        (Statement(t, s) for t, s in (*aside.indexes, *aside.validated)),
        key=lambda s: -sizes.get(s.table, 0),
    )  # the largest tables first: the small ones fill the gaps
    errors += await _run_all(engine, statements, at_once=at_once)
    if errors:
        raise errors[0]


@dataclass(frozen=True, slots=True)
class Statement:
    """A statement of ``restore`` and the table it locks."""

    table: str
    sql: str

    @property
    def shared(self) -> bool:
        """A CREATE INDEX: its lock (SHARE) lets other indexes of the table be made at the same
        time, not a key of the table be checked (VALIDATE's SHARE UPDATE EXCLUSIVE, which
        lets no other VALIDATE on the table run either)."""
        return self.sql.startswith("CREATE INDEX")

    def waits_for(self, other: Statement) -> bool:
        return bool(self.table) and self.table == other.table and not (self.shared and other.shared)


def _free(waiting: list[Statement], running: list[Statement]) -> int | None:
    """The first waiting statement that no running one would keep waiting for its lock."""
    return next(
        (i for i, s in enumerate(waiting) if not any(s.waits_for(r) for r in running)), None
    )


async def _run_all(
    engine: AsyncEngine, statements: list[Statement], *, at_once: int
) -> list[Exception]:
    """Each statement on the first of ``at_once`` (at most ``AT_ONCE``) connections free
    (autocommit), in order but for one that would wait for the lock of a statement running on
    another (a connection blocked on a lock is a core idle): the next one that would not runs
    first; every one is tried, whatever fails, and the errors returned in order."""
    waiting = list(statements)
    running: list[Statement] = []
    changed = asyncio.Condition()  # a statement ended: one that waited for it may run
    errors: list[Exception] = []

    async def runner() -> None:
        try:
            async with engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.execute(
                    sa.text(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
                )
                # a core a statement: its own sort or join, no parallel workers besides
                await autocommit.execute(sa.text("SET max_parallel_maintenance_workers = 0"))
                await autocommit.execute(sa.text("SET max_parallel_workers_per_gather = 0"))
                try:
                    while waiting:
                        async with changed:
                            await changed.wait_for(
                                lambda: not waiting or _free(waiting, running) is not None
                            )
                            free = _free(waiting, running)
                            if free is None:
                                continue  # the others took what was left
                            statement = waiting.pop(free)
                            running.append(statement)
                        try:
                            await autocommit.exec_driver_sql(statement.sql)
                        except Exception as error:  # every one is tried
                            errors.append(error)
                        finally:
                            running.remove(statement)
                            async with changed:
                                changed.notify_all()
                finally:  # the pooled connection goes back as it came
                    await autocommit.execute(sa.text("RESET ALL"))
        except Exception as error:  # no connection: the other runners take its statements
            errors.append(error)

    runners = max(1, min(at_once, AT_ONCE, len(statements)))
    await asyncio.gather(*(runner() for _ in range(runners)))
    if waiting:  # every runner failed to connect: try once more, one at a time
        await runner()
    return errors


@asynccontextmanager
async def without_secondary_indexes(
    sessions: SessionFactory, tables: Sequence[str], *, at_once: int
) -> AsyncIterator[None]:
    """On PostgreSQL, the tables' non-unique indexes and foreign keys dropped while the block
    runs and made again after it, whether it ends or fails (elsewhere, nothing)."""
    engine: AsyncEngine = sessions.kw["bind"]
    if engine.dialect.name != "postgresql" or not tables:
        yield
        return
    async with engine.begin() as connection:
        aside = await set_aside(connection, tables)
    try:
        yield
    finally:
        await restore(engine, aside, at_once=at_once)
