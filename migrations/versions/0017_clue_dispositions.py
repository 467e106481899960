"""clue dispositions: 问题线索处置 (谈话函询 / 初步核实 / 暂存待查 / 予以了结 / 立案审查), proposed by
the assignee, reviewed by the team leader, approved by a 委领导 (集体研判); a 实名 reporter's one
异议 on the result

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(*values: str, name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=12)


def upgrade() -> None:
    op.create_table(
        "clue_dispositions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind", _enum("talk", "verify", "hold", "dismiss", "file", name="disposition"),
            nullable=False,
        ),  # fmt: skip
        sa.Column(
            "status",
            _enum(
                "proposed", "reviewed", "sent_back", "approved", "refused", "lapsed",
                name="proposalstatus",
            ),
            nullable=False,
        ),  # fmt: skip
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=True),
        sa.Column("proposed_by_id", sa.Integer(), nullable=False),
        sa.Column("proposed_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("review_skipped", sa.Boolean(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("due_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("objection", sa.Text(), nullable=True),
        sa.Column("objected_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_clue_dispositions_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["inspectors.id"],
            name=op.f("fk_clue_dispositions_decided_by_id_inspectors"),
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by_id"],
            ["inspectors.id"],
            name=op.f("fk_clue_dispositions_proposed_by_id_inspectors"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"],
            ["inspectors.id"],
            name=op.f("fk_clue_dispositions_reviewed_by_id_inspectors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clue_dispositions")),
    )
    with op.batch_alter_table("clue_dispositions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_clue_dispositions_case_id"), ["case_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_clue_dispositions_decided_at"), ["decided_at"], unique=False
        )


def downgrade() -> None:
    # older code cannot read these clocks (the new kinds of events stay: the trail is append-only)
    op.execute("DELETE FROM case_clocks WHERE kind = 'disposition'")
    with op.batch_alter_table("clue_dispositions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clue_dispositions_decided_at"))
        batch_op.drop_index(batch_op.f("ix_clue_dispositions_case_id"))
    op.drop_table("clue_dispositions")
