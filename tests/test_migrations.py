"""Migrations build the whole data model, and agree with the models (no pending changes)."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

import models  # noqa: F401
from bot.db import create_engine, current_revision, head_revision, upgrade_database
from tests.conftest import POSTGRES_ADMIN_URL, _admin_execute, _missing_service


def _pending_changes(url: str) -> tuple[list[Any], set[str]]:
    async def compare() -> tuple[list[Any], set[str]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:

                def run(sync: Any) -> tuple[list[Any], set[str]]:
                    context = MigrationContext.configure(
                        sync, opts={"compare_type": True, "compare_server_default": True}
                    )
                    tables = set(inspect(sync).get_table_names())
                    return compare_metadata(context, SQLModel.metadata), tables

                return await connection.run_sync(run)
        finally:
            await engine.dispose()

    return asyncio.run(compare())


def _check_upgraded(url: str) -> None:
    upgrade_database(url)
    assert current_revision(url) == head_revision()
    diff, tables = _pending_changes(url)
    assert diff == [], f"models and migrations disagree: {diff}"
    assert set(SQLModel.metadata.tables) <= tables


def test_an_empty_sqlite_database_upgrades_to_head_and_matches_the_models(tmp_path: Path) -> None:
    _check_upgraded(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")


@pytest.mark.slow
@pytest.mark.postgres
def test_an_empty_postgresql_database_upgrades_to_head_and_matches_the_models() -> None:
    name = f"lianka_migrate_{secrets.token_hex(4)}"
    try:
        asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        _missing_service("PostgreSQL", error)
    try:
        _check_upgraded(POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    finally:
        asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_upgrading_twice_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'twice.db'}"
    upgrade_database(url)
    upgrade_database(url)
    assert current_revision(url) == head_revision()


def test_sqlite_database_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'wal.db'}"
    upgrade_database(url)

    async def pragmas() -> tuple[str, int]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar_one()
                fks = (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one()
                return mode, fks
        finally:
            await engine.dispose()

    assert asyncio.run(pragmas()) == ("wal", 1)
