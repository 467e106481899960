"""key checks: ``key_checks``, the public ids (and a check value) of the keys the database holds
data under, so that a missing or wrong LIANKA_DATA_KEY / LIANKA_AUDIT_KEY stops the start

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "key_checks",
        sa.Column("purpose", sa.String(length=8), nullable=False),
        sa.Column("key_id", sa.String(length=8), nullable=False),
        sa.Column("check_value", sa.String(length=64), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("purpose", "key_id", name=op.f("pk_key_checks")),
    )


def downgrade() -> None:
    op.drop_table("key_checks")
