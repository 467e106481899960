"""notifications: what a notice offers its recipient (``offer``, ``offer_ref``), rendered by the
channel at send time; ``reply_markup`` stays for rows queued before

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 17:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
                "offer",
                sa.Enum(
                    "case_work",
                    "case_materials",
                    "leader_assign",
                    "followup",
                    "request_decision",
                    "relay_reply",
                    name="offer",
                    native_enum=False,
                    length=24,
                ),
                nullable=True,
            ))
        batch_op.add_column(sa.Column("offer_ref", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("offer_ref")
        batch_op.drop_column("offer")
