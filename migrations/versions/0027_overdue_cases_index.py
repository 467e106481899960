"""``ix_cases_by_id``: the cases by id carrying what a list line's order and visibility need
(received, status, track, team, assignee; PostgreSQL ``INCLUDE``), so that the 超期 filter starts
from the running clocks past their deadline (``ix_case_clocks_running_due``, 33,000 at a
million cases) and finds their cases in this index alone. Without it the planner either hashed
those clocks against every case the person may see (a whole ``ix_cases_newest``) or walked the
newest cases one by one for the overdue ones, which are old: an admin's 资金 with 超期 took
0.35 s at a million cases. On SQLite, where a table is stored by its id, it is a plain index of
the ids (kept so that the models are one for both databases).

Built without CONCURRENTLY: at a million cases writes to ``cases`` wait for the build (about
a minute); upgrade with Lianka stopped, as ``lianka init`` does.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 19:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_cases_by_id",
        "cases",
        ["id"],
        unique=False,
        postgresql_include=["created_at", "status", "track", "team_id", "assignee_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_cases_by_id", table_name="cases")
