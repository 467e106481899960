"""Fewer index entries for each clock the deadline sweep moves on, each event and each notice:
indexes that no statement needs, or that held every row where a few are looked for.

- ``ix_case_events_case_id`` and ``ix_case_clocks_case_id``: a case's events and clocks are
  found by the unique indexes on (case_id, seq) and (case_id, kind), which begin with the case
  (the chain in order, the audit's range of cases, a case's clock of a kind, the foreign keys'
  checks when a case row goes). Each event written, and each clock row the sweep moves on
  (a new row version on PostgreSQL: its next action is indexed), added an entry to both.
- ``ix_case_events_created_at``: events are looked for by kind in a period (the report's
  打击报复回访 steps, 身份查看记录 newest first), which ``ix_case_events_kind_created_at`` serves;
  no statement looks for events by time alone.
- ``ix_case_clocks_provisional`` (provisional, state) held every clock; it becomes a partial
  index of the provisional clocks by state (the only ones its two readers look for: the sweep's
  notice to admins, and the schedule's recount), so a clock counted on the official schedule —
  nearly all of them — writes nothing to it. Its predicate is the one the readers' statements
  say (``provisional IS true``; ``IS 1`` on SQLite), which each planner needs to see to use it.

Measured: see the commit that adds this migration. Built and dropped without CONCURRENTLY:
writes to ``case_clocks`` and ``case_events`` wait meanwhile; upgrade with Lianka stopped.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 19:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DROPPED = (
    ("ix_case_events_case_id", "case_events", ["case_id"]),
    ("ix_case_events_created_at", "case_events", ["created_at"]),
    ("ix_case_clocks_case_id", "case_clocks", ["case_id"]),
)


def upgrade() -> None:
    for name, table, _columns in DROPPED:
        op.drop_index(name, table_name=table)
    op.drop_index("ix_case_clocks_provisional", table_name="case_clocks")
    op.create_index(
        "ix_case_clocks_provisional",
        "case_clocks",
        ["state"],
        unique=False,
        sqlite_where=sa.text("provisional IS 1"),
        postgresql_where=sa.text("provisional IS true"),
    )


def downgrade() -> None:
    op.drop_index("ix_case_clocks_provisional", table_name="case_clocks")
    op.create_index(
        "ix_case_clocks_provisional", "case_clocks", ["provisional", "state"], unique=False
    )
    for name, table, columns in DROPPED:
        op.create_index(name, table, columns, unique=False)
