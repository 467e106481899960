"""Drop ``ix_notifications_chat_id``: no statement looks notices up by their chat.

The sender's claim reads ``ix_notifications_due`` (``chat_id NOT IN`` the chats it skips is a
filter, which the index does not serve), the console and the web page find notices by case and
recipient, and erasure updates by primary key. The index was only written: every notice queued
(1,300 a sweep of 1,000 clocks) added an entry to it, and erasure's ``chat_id = NULL`` changed
an indexed column, which keeps PostgreSQL from writing a heap-only tuple.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 17:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_notifications_chat_id", table_name="notifications")


def downgrade() -> None:
    op.create_index("ix_notifications_chat_id", "notifications", ["chat_id"], unique=False)
