"""防打击报复回访: the clue a reporter's 有 opened keeps the case whose 回访 prompted it
(``cases.prompted_by_id``). The question's clock is a ``case_clocks`` row of kind ``aftercare``
and its offer a ``notifications.offer`` of ``aftercare`` (VARCHARs, nothing to alter).

A plain indexed column added and dropped in place, like 0018's ``repeat_of_id`` (no foreign key:
SQLite would have to rebuild ``cases``, which the rows of other tables reference).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("prompted_by_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_cases_prompted_by_id"), "cases", ["prompted_by_id"], unique=False)


def downgrade() -> None:
    # what older code cannot read: the clock kind and the offer this version added
    op.execute("DELETE FROM case_clocks WHERE kind = 'aftercare'")
    op.execute("UPDATE notifications SET offer = NULL, offer_ref = NULL WHERE offer = 'aftercare'")
    op.drop_index(op.f("ix_cases_prompted_by_id"), table_name="cases")
    op.execute("ALTER TABLE cases DROP COLUMN prompted_by_id")
