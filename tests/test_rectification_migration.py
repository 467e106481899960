"""Migration 0020 (the ``rectifications`` table) goes down to 0019 and up again, on SQLite and on
PostgreSQL where the service is there; down, the table and its ``rectify`` clocks are gone."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

from alembic import command
from sqlalchemy import inspect

from bot.db import alembic_config, create_engine, current_revision, upgrade_database
from tests.conftest import POSTGRES_ADMIN_URL, _admin_execute, _missing_service


def _tables(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return set(await connection.run_sync(lambda s: inspect(s).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _round_trip(url: str) -> None:
    upgrade_database(url, "0020")
    assert "rectifications" in _tables(url)
    command.downgrade(alembic_config(url), "0019")
    assert current_revision(url) == "0019" and "rectifications" not in _tables(url)
    upgrade_database(url, "0020")
    assert current_revision(url) == "0020" and "rectifications" in _tables(url)


def test_sqlite_goes_down_to_0019_and_up_again(tmp_path: Path) -> None:
    _round_trip(f"sqlite+aiosqlite:///{tmp_path / 'rectify.db'}")


def test_postgresql_goes_down_to_0019_and_up_again() -> None:
    name = f"lianka_rectify_{secrets.token_hex(4)}"
    try:
        asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # the service is not there
        _missing_service("PostgreSQL", error)  # skips (fails with LIANKA_REQUIRE_SERVICES=1)
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        _round_trip(url)
    finally:
        asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
