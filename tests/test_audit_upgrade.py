"""Migration 0014 on a database with history: the old SHA-256 chains are checked, then sealed
again with the audit key; a chain already broken stops the upgrade and names the case."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.cli.audit import append_only_note
from bot.config import LiankaConfig
from bot.db import create_engine, create_session_factory, current_revision, upgrade_database
from bot.services.audit import verify_audit
from bot.services.catalog import sync_catalog
from models.event import (
    GENESIS_HASH,
    legacy_event_digest,
)
from tests.conftest import DEFAULT_NOW, POSTGRES_ADMIN_URL, _admin_execute, _missing_service
from tests.test_cli import lianka

pytestmark = pytest.mark.slow


async def _old_history(url: str, config: LiankaConfig) -> None:
    """Two cases as the code before 0014 kept them: chains of plain SHA-256, written as rows of
    the 0013 schema (today's models have columns that schema has not)."""
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        await sync_catalog(session, config)
    async with engine.begin() as connection:
        category = (
            await connection.execute(text("SELECT id FROM categories WHERE code = 'business_env'"))
        ).scalar_one()
        for number in ("AJ-2026-00001", "AJ-2026-00002"):
            steps = [
                ("submitted", None, "submitted", True, DEFAULT_NOW),
                ("progress", "已约谈。", None, False, DEFAULT_NOW + timedelta(hours=1)),
            ]
            case_id = (
                await connection.execute(
                    text(
                        "INSERT INTO cases (number, track, status, category_id, anonymous, "
                        "description, supervised, reopen_count, created_at, updated_at, "
                        "event_count, last_event_hash, version) VALUES (:n, 'appeal', "
                        "'submitted', :c, false, '土地出让金返还迟迟未到位。', false, 0, :t, :t, "
                        ":count, '', 1) RETURNING id"
                    ).bindparams(n=number, c=category, t=DEFAULT_NOW, count=len(steps))
                )
            ).scalar_one()
            prev = GENESIS_HASH
            for seq, (kind, note, to_status, public, at) in enumerate(steps, 1):
                content: dict[str, Any] = {
                    "case_number": number,
                    "seq": seq,
                    "kind": kind,
                    "from_status": None,
                    "to_status": to_status,
                    "actor_type": "system",
                    "actor_id": None,
                    "note": note,
                    "data": {},
                    "public": public,
                    "created_at": at,
                    "prev_hash": prev,
                }
                digest = legacy_event_digest(**content)
                await connection.execute(
                    text(
                        "INSERT INTO case_events (case_id, seq, kind, to_status, actor_type, "
                        "note, data, public, created_at, prev_hash, hash) VALUES (:case, :seq, "
                        ":kind, :to, 'system', :note, '{}', :public, :at, :prev, :hash)"
                    ).bindparams(
                        case=case_id,
                        seq=seq,
                        kind=kind,
                        to=to_status,
                        note=note,
                        public=public,
                        at=at,
                        prev=prev,
                        hash=digest,
                    )
                )
                prev = digest
            await connection.execute(
                text("UPDATE cases SET last_event_hash = :h WHERE id = :i").bindparams(
                    h=prev, i=case_id
                )
            )
    await engine.dispose()


async def _verify(url: str) -> tuple[bool, int, list[str]]:
    engine = create_engine(url)
    async with create_session_factory(engine)() as session:
        report = await verify_audit(session)
    await engine.dispose()
    return report.ok, report.events, [p.problem for p in report.problems]


def test_old_sha256_chains_are_sealed_again_with_the_audit_key(
    tmp_path: Path, config: LiankaConfig
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    upgrade_database(url, "0013")
    asyncio.run(_old_history(url, config))
    upgrade_database(url)
    assert asyncio.run(_verify(url)) == (True, 4, [])


def test_an_old_chain_already_broken_stops_the_upgrade_naming_the_case(
    tmp_path: Path, config: LiankaConfig
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    upgrade_database(url, "0013")
    asyncio.run(_old_history(url, config))

    async def edit() -> None:
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "UPDATE case_events SET note = '未约谈。' WHERE seq = 2 AND case_id = "
                    "(SELECT id FROM cases WHERE number = 'AJ-2026-00002')"
                )
            )
        await engine.dispose()

    asyncio.run(edit())
    with pytest.raises(RuntimeError, match="拒绝升级：AJ-2026-00002 第2条"):
        upgrade_database(url)
    assert current_revision(url) == "0013"

    async def tables() -> set[str]:
        engine = create_engine(url)
        async with engine.connect() as connection:
            found = await connection.execute(text("SELECT name FROM sqlite_master"))
            names = {str(row[0]) for row in found}
        await engine.dispose()
        return names

    left = asyncio.run(tables())
    assert "audit_anchors" not in left and not any(n.startswith("_alembic_tmp") for n in left)


@pytest.mark.postgres
def test_old_chains_are_sealed_again_on_postgresql_and_the_events_are_then_refused_changes(
    config: LiankaConfig,
) -> None:
    name = f"lianka_audit_{secrets.token_hex(4)}"
    try:
        asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        _missing_service("PostgreSQL", error)
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade_database(url, "0013")
        asyncio.run(_old_history(url, config))
        upgrade_database(url)
        assert asyncio.run(_verify(url)) == (True, 4, [])
        note = append_only_note(url)  # what lianka db upgrade says after upgrading
        assert note.startswith("应用账户 postgres 不能修改或删除流转记录（由触发器保证）")
        assert "是超级用户，可以移除触发器" in note

        async def change() -> None:
            engine = create_engine(url)
            try:
                async with engine.begin() as connection:
                    await connection.execute(text("DELETE FROM case_events WHERE seq = 2"))
            finally:
                await engine.dispose()

        with pytest.raises(DBAPIError, match="append-only"):
            asyncio.run(change())
    finally:
        asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_db_upgrade_says_the_audit_rows_are_append_only(tmp_path: Path) -> None:
    result = lianka(
        "db",
        "upgrade",
        cwd=tmp_path,
        env={"LIANKA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'new.db'}"},
    )
    assert result.returncode == 0, result.stderr
    assert "只能追加：SQLite 触发器拒绝修改和删除" in result.stdout
