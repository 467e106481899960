"""audit_runs: the console's 流转记录核验 runs in the background; its progress (a heartbeat
after every chunk of cases) and its result are kept here, at most one run under way at a time
(a partial unique index on the running state)

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "running",
                "passed",
                "failed",
                "interrupted",
                "error",
                name="auditrunstate",
                native_enum=False,
                length=12,
            ),
            nullable=False,
        ),  # fmt: skip
        sa.Column("started_by_id", sa.Integer(), nullable=False),
        sa.Column("started_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cases_total", sa.Integer(), nullable=False),
        sa.Column("cases_checked", sa.Integer(), nullable=False),
        sa.Column("events_checked", sa.Integer(), nullable=False),
        sa.Column("problem_count", sa.Integer(), nullable=False),
        sa.Column("problems", models.types.JSONType(), nullable=False),
        sa.Column("anchored", sa.Boolean(), nullable=False),
        sa.Column("anchors", sa.Integer(), nullable=False),
        sa.Column("last_anchor_day", sa.String(length=10), nullable=True),
        sa.ForeignKeyConstraint(
            ["started_by_id"],
            ["inspectors.id"],
            name=op.f("fk_audit_runs_started_by_id_inspectors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_runs")),
    )
    with op.batch_alter_table("audit_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_runs_started_at"), ["started_at"], unique=False)
        batch_op.create_index(
            "uq_audit_runs_running",
            ["state"],
            unique=True,
            sqlite_where=sa.text("state = 'running'"),
            postgresql_where=sa.text("state = 'running'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_runs", schema=None) as batch_op:
        batch_op.drop_index("uq_audit_runs_running")
        batch_op.drop_index(batch_op.f("ix_audit_runs_started_at"))
    op.drop_table("audit_runs")
