"""室组联动: 协办 teams on a case (``case_assists``), one open row per case and team

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_assists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=False),
        sa.Column("added_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("removed_by_id", sa.Integer(), nullable=True),
        sa.Column("removed_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["added_by_id"], ["inspectors.id"], name=op.f("fk_case_assists_added_by_id_inspectors")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_assists_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["removed_by_id"],
            ["inspectors.id"],
            name=op.f("fk_case_assists_removed_by_id_inspectors"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_case_assists_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_assists")),
    )
    with op.batch_alter_table("case_assists", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_assists_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_assists_team_id"), ["team_id"], unique=False)
        batch_op.create_index(
            "ux_case_assists_open",
            ["case_id", "team_id"],
            unique=True,
            sqlite_where=sa.text("removed_at IS NULL"),
            postgresql_where=sa.text("removed_at IS NULL"),
        )


def downgrade() -> None:
    # the 协办 events stay in the cases' histories (the trail is append-only); the rows go
    with op.batch_alter_table("case_assists", schema=None) as batch_op:
        batch_op.drop_index("ux_case_assists_open")
        batch_op.drop_index(batch_op.f("ix_case_assists_team_id"))
        batch_op.drop_index(batch_op.f("ix_case_assists_case_id"))
    op.drop_table("case_assists")
