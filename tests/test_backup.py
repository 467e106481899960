"""``lianka backup OUT``: a consistent copy of a SQLite database that is being written to, which
passes SQLite's integrity check and the audit of every case's history, and serves as the database
again when restored."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import SQLModel

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import create_engine, create_session_factory
from bot.services.audit import verify_audit
from bot.services.calendar import load_calendar
from bot.services.catalog import sync_catalog
from tests.inspector_support import make_people, submit
from tests.test_cli import lianka

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


async def _database(path: Path, config: LiankaConfig) -> str:
    url = f"sqlite+aiosqlite:///{path}"
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.create_all)
    await engine.dispose()
    return url


async def _count_cases(url: str) -> tuple[int, bool]:
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            report = await verify_audit(session)
    finally:
        await engine.dispose()
    return report.cases, report.ok


async def test_a_backup_taken_while_cases_are_submitted_is_whole_and_its_history_verifies(
    tmp_path: Path, config: LiankaConfig
) -> None:
    url = await _database(tmp_path / "live.db", config)
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    clock = FrozenClock(NOW)
    async with sessions() as session:
        await sync_catalog(session, config)
        calendar = await load_calendar(session, config)
    people = await make_people(sessions, clock)
    for _ in range(5):
        await submit(sessions, config, calendar, clock, people.reporter)

    stop = asyncio.Event()
    progress = asyncio.Condition()
    written = 0

    async def keep_submitting() -> None:
        nonlocal written
        while not stop.is_set():
            clock.advance(timedelta(minutes=1))
            await submit(sessions, config, calendar, clock, people.reporter)
            async with progress:
                written += 1
                progress.notify_all()

    async def until_written(count: int) -> None:
        async with progress:
            await progress.wait_for(lambda: written >= count)

    writer = asyncio.create_task(keep_submitting())
    try:
        await until_written(3)
        copy = tmp_path / "backup" / "lianka-copy.db"
        result = await asyncio.to_thread(
            lianka, "backup", str(copy), cwd=tmp_path, env={"LIANKA_DATABASE_URL": url}
        )
        await until_written(written + 3)
    finally:
        stop.set()
        await writer
        await engine.dispose()

    assert result.returncode == 0, result.stderr
    assert "已备份数据库" in result.stdout and str(copy) in result.stdout
    assert not await asyncio.to_thread(Path(f"{copy}-wal").exists)
    with sqlite3.connect(copy) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    cases, ok = await _count_cases(f"sqlite+aiosqlite:///{copy}")
    assert ok
    live_cases, live_ok = await _count_cases(url)
    assert live_ok and 5 <= cases < live_cases  # a snapshot: the writer went on after it

    restored = lianka(
        "audit", "verify", cwd=tmp_path, env={"LIANKA_DATABASE_URL": f"sqlite+aiosqlite:///{copy}"}
    )
    assert restored.returncode == 0, restored.stderr
    assert f"{cases} 件问题" in restored.stdout


async def test_a_backup_does_not_overwrite_a_file_unless_forced(
    tmp_path: Path, config: LiankaConfig
) -> None:
    url = await _database(tmp_path / "live.db", config)
    out = tmp_path / "old-backup.db"
    out.write_bytes(b"an older backup")
    env = {"LIANKA_DATABASE_URL": url}

    refused = lianka("backup", str(out), cwd=tmp_path, env=env)
    assert refused.returncode == 1
    assert "已存在" in refused.stderr and "--force" in refused.stderr
    assert out.read_bytes() == b"an older backup"

    forced = lianka("backup", str(out), "--force", cwd=tmp_path, env=env)
    assert forced.returncode == 0, forced.stderr
    with sqlite3.connect(out) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_a_postgresql_database_is_pointed_to_pg_dump(tmp_path: Path) -> None:
    result = lianka(
        "backup",
        str(tmp_path / "out.db"),
        cwd=tmp_path,
        env={"LIANKA_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/lianka"},
    )
    assert result.returncode == 2
    assert "pg_dump" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.db").exists()
