"""督办期限 and 督办回复, 重复件: when the team's reply to a 督办 is due and when it came
(``cases.supervision_due_at``, ``cases.supervision_replied_at``), the earlier case a report
repeats (``cases.repeat_of_id``) and the case a repeat was merged into (``cases.merged_into_id``).
The 督办回复 clock is a ``case_clocks`` row of kind ``supervision`` (a VARCHAR, nothing to alter).

Plain columns added and dropped in place (no foreign key: SQLite would have to rebuild
``cases``, which the rows of other tables reference).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.types import UTCDateTime

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("supervision_due_at", "supervision_replied_at", "repeat_of_id", "merged_into_id")


def upgrade() -> None:
    op.add_column("cases", sa.Column("supervision_due_at", UTCDateTime(timezone=True)))
    op.add_column("cases", sa.Column("supervision_replied_at", UTCDateTime(timezone=True)))
    op.add_column("cases", sa.Column("repeat_of_id", sa.Integer(), nullable=True))
    op.add_column("cases", sa.Column("merged_into_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_cases_repeat_of_id"), "cases", ["repeat_of_id"], unique=False)


def downgrade() -> None:
    op.execute("DELETE FROM case_clocks WHERE kind = 'supervision'")
    op.drop_index(op.f("ix_cases_repeat_of_id"), table_name="cases")
    for column in reversed(COLUMNS):
        op.execute(f"ALTER TABLE cases DROP COLUMN {column}")
