"""Migration 0022 adds ``cases.prompted_by_id`` and takes it away again: a downgrade to 0019
also removes what older code cannot read (the aftercare clocks and offers)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, inspect, text

from bot.db import alembic_config, current_revision, upgrade_database


def _columns(url: str) -> set[str]:
    engine = create_engine(url.replace("+aiosqlite", ""))
    try:
        return {c["name"] for c in inspect(engine).get_columns("cases")}
    finally:
        engine.dispose()


def test_0022_adds_the_link_and_a_downgrade_removes_it_with_the_aftercare_clocks(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lianka.db'}"
    upgrade_database(url, "0022")
    assert "prompted_by_id" in _columns(url)
    engine = create_engine(url.replace("+aiosqlite", ""))
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO case_clocks (case_id, kind, state, stage, started_at, workdays,"
                " due_at, provisional, extended_days) VALUES (1, 'aftercare', 'running', 0,"
                " '2026-12-01 00:00:00', 20, '2026-12-29 10:00:00', 0, 0)"
            )
        )
    engine.dispose()
    command.downgrade(alembic_config(url), "0019")
    assert current_revision(url) == "0019"
    assert "prompted_by_id" not in _columns(url)
    engine = create_engine(url.replace("+aiosqlite", ""))
    with engine.connect() as connection:
        left = connection.execute(text("SELECT count(*) FROM case_clocks")).scalar_one()
    engine.dispose()
    assert left == 0
    upgrade_database(url, "0022")
    assert "prompted_by_id" in _columns(url)
