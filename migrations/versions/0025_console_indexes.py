"""Indexes for the console at a province's year (1,000,000 cases), so that the counts every
leader's page shows read small indexes, not the cases table (about 1 KB a case with its
description):

- ``ix_cases_team_status``: the cases by team and status, carrying 督办 and the amount
  (PostgreSQL ``INCLUDE``): /stats and the 工作台's counts by team and status are read from the
  index alone (an index-only scan) instead of every case's row;
- ``ix_cases_newest``: the cases newest first (received, id) carrying status, track, team and
  assignee: a list's page (50 of them newest first, who may see them, 超期 or not) is found in
  the index alone, the 50 cases read afterwards (an admin's 超期 page read every case's row:
  0.7 s at a million cases);
- ``ix_cases_open``: the open cases (partial: ``OPEN_STATUSES``, a tenth of a year's cases) by
  team and assignee, carrying track, id, 督办 and status: the open clues a leader may not see, a
  team's and a person's open cases (the 工作台's lists, sorted in the indexes);
- ``ix_case_clocks_current``: the running and paused clocks (the one a list line shows) by case,
  carrying kind, state and deadline;
- ``case_search.team_id`` (PostgreSQL): the case's lead team beside its search document, kept
  by triggers (``models.search.POSTGRESQL_TEAM_DDL``), under ``ix_case_search_team_id``: a team
  leader's search intersects the team's documents with the text's in two indexes instead of
  reading every match of a common word (at a million cases, 160,000 for 资金) to keep the
  team's. Every existing document gets its case's team (a rewrite of ``case_search``: about a
  minute a million cases);
- ``ix_case_clocks_running_due`` (0023) carries the case and the kind of clock on PostgreSQL, so
  that what is overdue — the hidden-clue counts, /stats, the 超期 filter — is found in the index
  without visiting the clocks' rows, which lie scattered over the whole table.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.search import POSTGRESQL_TEAM_COLUMN, POSTGRESQL_TEAM_DDL, TEAM_COLUMN, TEAM_INDEX

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNNING = sa.text("state = 'running'")
OPEN = sa.text(
    "status IN ('accepted', 'assigned', 'in_progress', 'reopened', 'returned', 'submitted')"
)
"""``models.case.OPEN_PREDICATE`` as it stands at this revision."""
CURRENT = sa.text("state IN ('paused', 'running')")
"""``models.clock.CURRENT_PREDICATE`` as it stands at this revision."""


def upgrade() -> None:
    op.create_index(
        "ix_cases_team_status",
        "cases",
        ["team_id", "status"],
        unique=False,
        postgresql_include=["supervised", "amount_coordinated_yuan"],
    )
    op.create_index(
        "ix_cases_newest",
        "cases",
        ["created_at", "id"],
        unique=False,
        postgresql_include=["status", "track", "team_id", "assignee_id"],
    )
    op.create_index(
        "ix_cases_open",
        "cases",
        ["team_id", "assignee_id"],
        unique=False,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
        postgresql_include=["track", "id", "supervised", "status"],
    )
    op.create_index(
        "ix_case_clocks_current",
        "case_clocks",
        ["case_id"],
        unique=False,
        sqlite_where=CURRENT,
        postgresql_where=CURRENT,
        postgresql_include=["kind", "state", "due_at"],
    )
    if op.get_bind().dialect.name == "postgresql":
        _running_due(include=True)
        op.execute(POSTGRESQL_TEAM_COLUMN)
        op.execute(
            "UPDATE case_search SET team_id = cases.team_id FROM cases "
            "WHERE cases.id = case_search.case_id AND cases.team_id IS NOT NULL"
        )
        for statement in POSTGRESQL_TEAM_DDL:
            op.execute(statement)


def _running_due(*, include: bool) -> None:
    op.drop_index("ix_case_clocks_running_due", table_name="case_clocks")
    op.create_index(
        "ix_case_clocks_running_due",
        "case_clocks",
        ["due_at"],
        unique=False,
        postgresql_where=RUNNING,
        postgresql_include=["case_id", "kind"] if include else [],
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS cases_team_searched ON cases")
        op.execute("DROP TRIGGER IF EXISTS case_search_team ON case_search")
        op.execute("DROP FUNCTION IF EXISTS lianka_case_team_searched()")
        op.execute("DROP FUNCTION IF EXISTS lianka_case_search_team()")
        op.drop_index(TEAM_INDEX, table_name="case_search")
        op.drop_column("case_search", TEAM_COLUMN)
        _running_due(include=False)
    op.drop_index("ix_case_clocks_current", table_name="case_clocks")
    op.drop_index("ix_cases_open", table_name="cases")
    op.drop_index("ix_cases_newest", table_name="cases")
    op.drop_index("ix_cases_team_status", table_name="cases")
