"""web drafts: a report being entered on the web page, kept on the server between pages, found
by a hash of the session id in the browser's signed cookie (never the id itself); expires seven
days after its last change. rate counters: the web channel's rate limits shared by several
instances when no Redis is configured

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types


revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_drafts",
        sa.Column("session_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("step", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("data", models.types.JSONType(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_web_drafts_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["reporters.id"], name=op.f("fk_web_drafts_reporter_id_reporters")
        ),
        sa.PrimaryKeyConstraint("session_key", name=op.f("pk_web_drafts")),
    )
    op.create_table(
        "rate_counters",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_counters")),
    )
    with op.batch_alter_table("rate_counters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rate_counters_expires_at"), ["expires_at"], unique=False
        )
    with op.batch_alter_table("web_drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_drafts_card_id"), ["card_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_web_drafts_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_drafts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_drafts_expires_at"))
        batch_op.drop_index(batch_op.f("ix_web_drafts_card_id"))

    op.drop_table("web_drafts")
    with op.batch_alter_table("rate_counters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_counters_expires_at"))

    op.drop_table("rate_counters")
