"""audit_runs.stopped_by_id: who stopped a 核验 under way (停止核验, an admin or leader), kept
with the run; such a run's state is ``stopped`` (a value of the state's plain VARCHAR, no
constraint to change)

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stopped_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_audit_runs_stopped_by_id_inspectors"),
            "inspectors",
            ["stopped_by_id"],
            ["id"],
        )


def downgrade() -> None:
    op.execute("UPDATE audit_runs SET state = 'interrupted' WHERE state = 'stopped'")
    with op.batch_alter_table("audit_runs", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_audit_runs_stopped_by_id_inspectors"), type_="foreignkey"
        )
        batch_op.drop_column("stopped_by_id")
