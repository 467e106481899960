"""督办期限 and 督办回复, 重复件: when the team's reply to a 督办 is due and when it came
(``cases.supervision_due_at``, ``cases.supervision_replied_at``), the earlier case a report
repeats (``cases.repeat_of_id``) and the case a repeat was merged into (``cases.merged_into_id``).
The 督办回复 clock is a ``case_clocks`` row of kind ``supervision`` (a VARCHAR, nothing to alter).

Revision ID: 0018
Revises: 0016 (re-chained after 0017 at merge)
Create Date: 2026-12-06 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.types import UTCDateTime

revision: str = "0018"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("supervision_due_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("supervision_replied_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("repeat_of_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_cases_repeat_of_id"), ["repeat_of_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_cases_repeat_of_id_cases"), "cases", ["repeat_of_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_cases_merged_into_id_cases"), "cases", ["merged_into_id"], ["id"]
        )


def downgrade() -> None:
    op.execute("DELETE FROM case_clocks WHERE kind = 'supervision'")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_cases_merged_into_id_cases"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_cases_repeat_of_id_cases"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_cases_repeat_of_id"))
        batch_op.drop_column("merged_into_id")
        batch_op.drop_column("repeat_of_id")
        batch_op.drop_column("supervision_replied_at")
        batch_op.drop_column("supervision_due_at")
