"""reporters: ``channel`` (``telegram``, or ``web`` for a reporter who came through a card's web
page and has no Telegram account or chat: ``telegram_user_id`` and ``chat_id`` may be empty)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 20:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reporters", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "channel",
                sa.Enum("telegram", "web", name="channel", native_enum=False, length=12),
                nullable=False,
                server_default="telegram",
            )
        )
        batch_op.alter_column("telegram_user_id", existing_type=sa.BigInteger(), nullable=True)
        batch_op.alter_column("chat_id", existing_type=sa.BigInteger(), nullable=True)


def downgrade() -> None:
    # web reporters have no Telegram account; their cases stay, without a reporter row
    op.execute(
        "UPDATE cases SET reporter_id = NULL WHERE reporter_id IN "
        "(SELECT id FROM reporters WHERE channel = 'web')"
    )
    op.execute(
        "DELETE FROM case_followers WHERE reporter_id IN "
        "(SELECT id FROM reporters WHERE channel = 'web')"
    )
    op.execute("DELETE FROM reporters WHERE channel = 'web'")
    with op.batch_alter_table("reporters", schema=None) as batch_op:
        batch_op.alter_column("chat_id", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("telegram_user_id", existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_column("channel")
