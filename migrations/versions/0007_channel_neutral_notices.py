"""notifications: what to say as a template and its parameters (``template``, ``params``),
rendered by the channel; ``channel`` (``telegram``, or ``web`` for a reporter with no chat:
never sent, read by a page, so ``chat_id`` may be empty); ``text`` stays for rows queued before

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 19:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types


revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
                "channel",
                sa.Enum("telegram", "web", name="channel", native_enum=False, length=12),
                nullable=False,
                server_default="telegram",
            ))
        batch_op.add_column(sa.Column("template", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("params", models.types.JSONType(), nullable=True))
        batch_op.alter_column("text", existing_type=sa.Text(), nullable=True)
        batch_op.alter_column("chat_id", existing_type=sa.BigInteger(), nullable=True)


def downgrade() -> None:
    # rows without text (queued as notices) or without a chat (web) cannot go back
    op.execute("DELETE FROM notifications WHERE text IS NULL OR chat_id IS NULL")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.alter_column("chat_id", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("text", existing_type=sa.Text(), nullable=False)
        batch_op.drop_column("params")
        batch_op.drop_column("template")
        batch_op.drop_column("channel")
