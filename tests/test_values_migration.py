"""Migration 0031: the values this version adds to plain VARCHAR columns (Offer.CLUE_WORK,
NotificationStatus.WITHDRAWN) are turned, on a downgrade, into values older code reads — else a
rolled-back sender would fail on the first such notice it loads."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from bot.db import alembic_config, current_revision, upgrade_database


def test_a_downgrade_leaves_only_offers_and_statuses_older_code_reads(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lianka.db'}"
    upgrade_database(url, "0031")
    engine = create_engine(url.replace("+aiosqlite", ""))
    insert = text(
        "INSERT INTO notifications (key, kind, channel, chat_id, recipient_kind, method, offer,"
        " offer_ref, status, attempts, next_attempt_at, created_at) VALUES (:key, 'assigned',"
        " 'telegram', 1, 'inspector', 'message', :offer, 7, :status, 0, '2026-12-08 00:00:00',"
        " '2026-12-08 00:00:00')"
    )
    with engine.begin() as connection:
        connection.execute(insert, {"key": "a", "offer": "clue_work", "status": "pending"})
        connection.execute(insert, {"key": "b", "offer": "case_work", "status": "withdrawn"})
    command.downgrade(alembic_config(url), "0030")
    assert current_revision(url) == "0030"
    with engine.begin() as connection:
        rows = connection.execute(
            text("SELECT key, offer, status FROM notifications ORDER BY key")
        ).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("a", "case_work", "pending"),
        ("b", "case_work", "failed"),
    ]
