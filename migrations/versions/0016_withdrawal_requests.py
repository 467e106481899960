"""withdrawal requests: a clue's 撤回 by receipt code is a request the team leader decides, filed
by a reporter (``approval_requests.reporter_id``), not an inspector (``requested_by_id`` may now
be empty)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reporter_id", sa.Integer(), nullable=True))
        batch_op.alter_column("requested_by_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(
            batch_op.f("fk_approval_requests_reporter_id_reporters"),
            "reporters",
            ["reporter_id"],
            ["id"],
        )


def downgrade() -> None:
    op.execute("DELETE FROM approval_requests WHERE requested_by_id IS NULL")
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_approval_requests_reporter_id_reporters"), type_="foreignkey"
        )
        batch_op.alter_column("requested_by_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("reporter_id")
