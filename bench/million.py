"""Make a generated demo history N times as large in PostgreSQL, as one province's year would be.

``scale_bench.py`` clones the generated history (``report_bench.py``'s cached template of
``lianka demo-data --cases G``) and calls ``multiply`` on the clone: every case and every row
that belongs to a case (clocks, events, requests, dispositions, 整改, 协办, notices, search
documents, attachments, reporter contacts, followers, relay messages) is written ``copies``
times, in a few ``INSERT … SELECT`` statements with a ``generate_series`` multiplier:

- ids are renumbered ``(id - 1) * copies + k + 1`` (copy ``k`` of 0 … copies-1), so that they
  still rise with time as a real database's do, and rows lie on disk in that order;
- case numbers likewise (``AJ-2026-00042`` → ``AJ-2026-0008201`` …), the search document's
  number and sequence with them, so a number typed finds its one case;
- every time of copy ``k`` moves ``copies - 1 - k`` times 20 seconds earlier (an hour at most
  for 200 copies), so the copies of one case are received one after another, within the demo's
  12 months, and no time passes ``--now``;
- the receipt hash and submission key (unique, read by nothing measured) are left empty in
  copies, a notice's idempotency key gets the copy's number.

Foreign keys are not checked during the load (``session_replication_role = replica``: every
reference points at a renumbered row by construction), the secondary indexes are dropped before
and built after, then ``ANALYZE``. What a copy cannot keep: sealed fields bound to the case id
(reporter contacts, the reporter reference) do not open in a copy, and a copy's audit chain does
not verify; nothing the report or the console's lists read depends on either. Enterprises,
cards, reporters and people stay as generated (shared by the copies).
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

# ruff: noqa: S608  (the SQL below names only the catalog's own tables and columns)

CASE_TABLES = (
    "cases",
    "case_clocks",
    "case_events",
    "approval_requests",
    "clue_dispositions",
    "rectifications",
    "case_assists",
    "case_search",
    "case_followers",
    "reporter_contacts",
    "relay_messages",
    "attachments",
    "notifications",
)
"""The case and every table whose rows belong to a case (a ``case_id``)."""

CASE_REFERENCES = {
    "case_id",
    "repeat_of_id",
    "merged_into_id",
    "prompted_by_id",
}
"""Columns holding a case's id (with or without a foreign key)."""

EMPTIED_IN_COPIES = {("cases", "receipt_hash"), ("cases", "submission_key")}
STEP_SECONDS = 20
"""How much earlier each copy's times are than the next copy's."""


def renumber(column: str) -> str:
    return f"(s.{column} - 1) * :copies + k + 1"


def new_number() -> str:
    """``AJ-2026-00042`` of copy k: prefix, year, the renumbered sequence (five digits or more)."""
    seq = "((split_part(s.number, '-', 3)::bigint - 1) * :copies + k + 1)::text"
    padded = f"CASE WHEN length({seq}) < 5 THEN lpad({seq}, 5, '0') ELSE {seq} END"
    return f"split_part(s.number, '-', 1) || '-' || split_part(s.number, '-', 2) || '-' || {padded}"


def new_document() -> str:
    """The search document with the copy's number and sequence in front (``case_document``)."""
    seq = "((split_part(c.number, '-', 3)::bigint - 1) * :copies + k + 1)::text"
    padded = f"CASE WHEN length({seq}) < 5 THEN lpad({seq}, 5, '0') ELSE {seq} END"
    head = (
        f"lower(split_part(c.number, '-', 1)) || ' ' || split_part(c.number, '-', 2) || ' ' "
        f"|| {padded} || ' 丨x ' || {seq}"
    )
    return f"regexp_replace(s.document, '^[a-z0-9]+ [0-9]+ [0-9]+ 丨x [0-9]+', {head})"


async def _columns(connection: AsyncConnection, table: str) -> list[tuple[str, str]]:
    rows = await connection.execute(
        sa.text(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = :table AND is_generated = 'NEVER' "
            "ORDER BY ordinal_position"
        ),
        {"table": table},
    )
    return [(name, kind) for name, kind in rows]


async def _secondary_indexes(connection: AsyncConnection) -> list[tuple[str, str]]:
    """(name, definition) of the copied tables' indexes that back no constraint."""
    rows = await connection.execute(
        sa.text(
            "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "WHERE t.relname = ANY(:tables) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"
        ),
        {"tables": list(CASE_TABLES)},
    )
    return [(name, definition) for name, definition in rows]


def _value(table: str, column: str, kind: str) -> str:
    if column in CASE_REFERENCES or (column == "id" and table != "case_search"):
        return renumber(column)
    if (table, column) in EMPTIED_IN_COPIES:
        return f"CASE WHEN k = 0 THEN s.{column} END"
    if table == "cases" and column == "number":
        return new_number()
    if table == "notifications" and column == "key":
        return "CASE WHEN k = 0 THEN s.key ELSE s.key || '#' || k END"
    if table == "case_search" and column == "document":
        return new_document()
    if kind.startswith("timestamp"):
        return f"s.{column} - (:copies - 1 - k) * interval '{STEP_SECONDS} seconds'"
    return f"s.{column}"


async def multiply(connection: AsyncConnection, copies: int) -> dict[str, float]:
    """Make every case ``copies`` cases (see the module's docstring); seconds per stage."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    await connection.execute(sa.text("SET LOCAL session_replication_role = replica"))
    await connection.execute(sa.text("SET LOCAL maintenance_work_mem = '512MB'"))
    await connection.execute(sa.text("SET LOCAL work_mem = '64MB'"))
    indexes = await _secondary_indexes(connection)
    for name, _ in indexes:
        await connection.execute(sa.text(f'DROP INDEX "{name}"'))
    for table in CASE_TABLES:
        await connection.execute(
            sa.text(f"CREATE TEMP TABLE src_{table} ON COMMIT DROP AS TABLE {table}")
        )
    await connection.execute(sa.text(f"TRUNCATE {', '.join(CASE_TABLES)}"))
    seconds["prepare"] = time.perf_counter() - started
    for table in CASE_TABLES:
        started = time.perf_counter()
        columns = await _columns(connection, table)
        names = [name for name, _ in columns]
        values = [_value(table, name, kind) for name, kind in columns]
        order = "case_id" if "id" not in names or table == "case_search" else "id"
        join = ""
        if table == "case_search":  # the new document needs the case's number
            join = "JOIN src_cases c ON c.id = s.case_id"
        await connection.execute(
            sa.text(
                f"INSERT INTO {table} ({', '.join(names)}) "
                f"SELECT {', '.join(values)} "
                f"FROM (SELECT * FROM src_{table} ORDER BY {order}) s {join} "
                f"CROSS JOIN LATERAL generate_series(0, :copies - 1) k"
            ),
            {"copies": copies},
        )
        if "id" in names and table != "case_search":
            await connection.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
            )
        seconds[table] = time.perf_counter() - started
    started = time.perf_counter()
    await connection.execute(
        sa.text(
            "INSERT INTO case_counters (prefix, year, last) "
            "SELECT split_part(number, '-', 1), split_part(number, '-', 2)::int, "
            "max(split_part(number, '-', 3)::int) FROM cases GROUP BY 1, 2 "
            "ON CONFLICT (prefix, year) DO UPDATE SET last = excluded.last"
        )
    )
    for _, definition in indexes:
        await connection.execute(sa.text(definition))
    seconds["indexes"] = time.perf_counter() - started
    return seconds
