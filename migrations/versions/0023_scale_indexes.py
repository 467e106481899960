"""Indexes for a province's year (1,000,000 cases), so that last month's report and the console's
overdue lists read last month's rows and the overdue clocks, not whole tables:

- ``ix_case_events_kind_created_at``: events of a kind in a period (the report's 打击报复回访
  steps were a scan of every event);
- ``ix_case_clocks_running_due``: the running clocks by deadline, partial (``state = 'running'``:
  the few clocks still counting), for everything overdue — the report's 超期, the 工作台 and the
  案件 list's 超期 filter, the leaders' counts;
- ``ix_cases_merged_closed_at``: the cases merged (合并办理) by when, partial (few are);
- ``ix_notifications_console_recipient``: one person's console notices, newest first, partial
  (``channel = 'console'``: the 工作台 read every notice to find a person's 20).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNNING = sa.text("state = 'running'")
MERGED = sa.text("merged_into_id IS NOT NULL")
CONSOLE = sa.text("channel = 'console'")


def upgrade() -> None:
    op.create_index(
        "ix_case_events_kind_created_at", "case_events", ["kind", "created_at"], unique=False
    )
    op.create_index(
        "ix_case_clocks_running_due",
        "case_clocks",
        ["due_at"],
        unique=False,
        sqlite_where=RUNNING,
        postgresql_where=RUNNING,
    )
    op.create_index(
        "ix_cases_merged_closed_at",
        "cases",
        ["closed_at"],
        unique=False,
        sqlite_where=MERGED,
        postgresql_where=MERGED,
    )
    op.create_index(
        "ix_notifications_console_recipient",
        "notifications",
        ["recipient_kind", "recipient_id", "created_at"],
        unique=False,
        sqlite_where=CONSOLE,
        postgresql_where=CONSOLE,
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_console_recipient", table_name="notifications")
    op.drop_index("ix_cases_merged_closed_at", table_name="cases")
    op.drop_index("ix_case_clocks_running_due", table_name="case_clocks")
    op.drop_index("ix_case_events_kind_created_at", table_name="case_events")
