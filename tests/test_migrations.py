"""Migrations build the whole data model, and agree with the models (no pending changes)."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

import models  # noqa: F401
from bot.db import create_engine, current_revision, head_revision, upgrade_database
from models.notification import Channel, Notification
from models.search import compared_by_alembic
from notifications.render import telegram_html
from notifications.telegram import notice_keyboard
from tests.conftest import POSTGRES_ADMIN_URL, _admin_execute, _missing_service


def _pending_changes(url: str) -> tuple[list[Any], set[str]]:
    async def compare() -> tuple[list[Any], set[str]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:

                def run(sync: Any) -> tuple[list[Any], set[str]]:
                    context = MigrationContext.configure(
                        sync,
                        opts={
                            "compare_type": True,
                            "compare_server_default": True,
                            "include_name": compared_by_alembic,
                        },
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


def test_a_notice_queued_before_offers_keeps_its_keyboard_through_the_upgrade(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'pending.db'}"
    upgrade_database(url, "0005")
    keyboard = {"inline_keyboard": [[{"text": "分派", "callback_data": "ta1:asg:7:0:0"}]]}

    async def run(statement: str, **params: Any) -> list[Any]:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                result = await connection.execute(text(statement), params)
                return list(result.all()) if result.returns_rows else []
        finally:
            await engine.dispose()

    asyncio.run(
        run(
            "INSERT INTO notifications (key, kind, chat_id, recipient_kind, method, text,"
            " reply_markup, status, attempts, next_attempt_at, created_at) VALUES ('k', 'waiting',"
            " 501, 'inspector', 'message', '待分派', :markup, 'pending', 0, :at, :at)",
            markup=json.dumps(keyboard),
            at="2026-12-05 08:00:00.000000",
        )
    )
    upgrade_database(url)

    async def pending() -> Notification:
        engine = create_engine(url)
        try:
            async with AsyncSession(engine) as session:
                return (await session.exec(select(Notification))).one()
        finally:
            await engine.dispose()

    row = asyncio.run(pending())
    assert (row.offer, row.offer_ref, row.reply_markup) == (None, None, keyboard)
    assert (row.channel, row.notice, telegram_html(row)) == (Channel.TELEGRAM, None, "待分派")
    markup = notice_keyboard(row)
    assert markup is not None and markup.model_dump(mode="json", exclude_none=True) == keyboard
