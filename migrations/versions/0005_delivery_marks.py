"""notifications: when a request was handed to Telegram; processed updates: the conversation
state an update leaves in a store outside the database, until it is written there

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types


revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("attempted_at", models.types.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("processed_updates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fsm_writes", models.types.JSONType(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("processed_updates", schema=None) as batch_op:
        batch_op.drop_column("fsm_writes")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("attempted_at")
