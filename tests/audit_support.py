"""What an attacker who can write to the database does before editing the audit rows: the
append-only triggers go first (dropped from a SQLite file; on PostgreSQL a superuser's session
replaying as a replica fires no triggers)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from models.anchor import APPEND_ONLY_TABLES


def drop_triggers_sql() -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_append_only_{verb}"
        for table in APPEND_ONLY_TABLES
        for verb in ("update", "delete")
    ]


async def tamper(session: AsyncSession, *statements: str) -> None:
    """Run ``statements`` past the triggers, in the session's transaction (the caller commits)."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.exec(text("SET LOCAL session_replication_role = replica"))  # type: ignore[call-overload]
    else:
        for statement in drop_triggers_sql():
            await session.exec(text(statement))  # type: ignore[call-overload]
    for statement in statements:
        await session.exec(text(statement))  # type: ignore[call-overload]


def tamper_file(path: Path, sql: str, *params: object) -> None:
    """The same on a SQLite file with the sqlite3 module."""
    with sqlite3.connect(path) as db:
        for statement in drop_triggers_sql():
            db.execute(statement)
        db.execute(sql, params)
