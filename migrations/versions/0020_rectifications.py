"""rectifications: 反馈整改 as a step of an appeal — what the responsible unit must rectify, by
when (a ``case_clocks`` row of kind ``rectify``, a VARCHAR: nothing to alter), and its 核验; at
most one open per case (a partial unique index)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rectifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("requirement", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(length=100), nullable=False),
        sa.Column("working_days", sa.Integer(), nullable=False),
        sa.Column("due_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=False),
        sa.Column("set_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "state",
            sa.Enum("open", "verified", "lapsed", name="rectificationstate", native_enum=False,
                    length=12),
            nullable=False,
        ),  # fmt: skip
        sa.Column("verified_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("verified_by_id", sa.Integer(), nullable=True),
        sa.Column("verify_note", sa.Text(), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=True),
        sa.Column("lapsed_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_rectifications_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["set_by_id"], ["inspectors.id"], name=op.f("fk_rectifications_set_by_id_inspectors")
        ),
        sa.ForeignKeyConstraint(
            ["verified_by_id"],
            ["inspectors.id"],
            name=op.f("fk_rectifications_verified_by_id_inspectors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rectifications")),
    )
    with op.batch_alter_table("rectifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rectifications_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "uq_rectifications_open",
            ["case_id"],
            unique=True,
            sqlite_where=sa.text("state = 'open'"),
            postgresql_where=sa.text("state = 'open'"),
        )


def downgrade() -> None:
    # older code cannot read these clocks (the new kinds of events stay: the trail is append-only)
    op.execute("DELETE FROM case_clocks WHERE kind = 'rectify'")
    with op.batch_alter_table("rectifications", schema=None) as batch_op:
        batch_op.drop_index("uq_rectifications_open")
        batch_op.drop_index(batch_op.f("ix_rectifications_case_id"))
    op.drop_table("rectifications")
